"""Problems: one sentence each, naming the file (or environment variable), the key path, the bad value and
what is allowed. Secret values never appear: check-config output ends up in logs and tickets."""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.config.values import SLUG_RE

Loc = tuple[str | int, ...]
NO_VALUE = object()

# Values of these keys never appear in a problem message: check-config output ends up in logs and tickets.
_SECRET_KEYS = frozenset(
    {
        "bot_token",
        "signing_secret",
        "app_token",
        "client_secret",
        "app_secret",
        "secret",
        "token",
        "encoding_aes_key",
        "deals_secret",
        "card_secret",
        "channel_secret",
        "channel_webhook",  # DingTalk/WeCom robot URLs carry their access token
    }
)


class ConfigError(Exception):
    """Every problem found in a configuration, one sentence each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


@dataclass(frozen=True, slots=True)
class Problem:
    loc: Loc
    message: str
    value: Any = NO_VALUE
    unknown_key: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """What problem formatting needs: where values came from and the raw data (to name teams by id)."""

    source: str
    raw: Mapping[str, Any]
    env_locs: Mapping[Loc, str]


def _show(value: Any, key: str | int | None) -> str:
    if key in _SECRET_KEYS and isinstance(value, str):
        return f"<{len(value)} characters, hidden>"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        if key == "url":
            value = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", value)
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "…"


def _path(loc: Loc, raw: Mapping[str, Any]) -> str:
    """("teams", 0, "schedule", "morning") -> "teams[east].schedule.morning".

    A team is named by its id when that id is usable (valid and unique), else by its index.
    """
    out = ""
    skip_next = False
    for i, part in enumerate(loc):
        if skip_next:
            skip_next = False
            continue
        if isinstance(part, int):
            out += f"[{_team_label(part, raw) if loc[:i] == ('teams',) else part}]"
        elif i + 1 < len(loc) and loc[i + 1] == "[key]":  # a bad key inside a table, e.g. prompt.fr
            out += f'["{part}"]'
            skip_next = True
        else:
            out += f".{part}" if out else part
    return out


def _team_label(index: int, raw: Mapping[str, Any]) -> str:
    teams = raw.get("teams")
    if not isinstance(teams, list) or index >= len(teams) or not isinstance(teams[index], dict):
        return str(index)
    team_id = teams[index].get("id")
    ids = [t.get("id") for t in teams if isinstance(t, dict)]
    if isinstance(team_id, str) and SLUG_RE.match(team_id) and ids.count(team_id) == 1:
        return team_id
    return str(index)


def format_problem(problem: Problem, ctx: Context) -> str:
    path = _path(problem.loc, ctx.raw)
    if problem.unknown_key:
        return f"{ctx.source}: unknown key {path} {problem.message}"
    key = problem.loc[-1] if problem.loc else None
    shown = "" if problem.value is NO_VALUE else f" = {_show(problem.value, key)}"
    env_var = next((v for k, v in ctx.env_locs.items() if problem.loc[: len(k)] == k), None)
    if env_var is not None:
        return f"{env_var}{shown}: {problem.message} (environment override of {path})"
    return f"{ctx.source}: {path}{shown}: {problem.message}"


def inner_model(tp: Any) -> type[BaseModel] | None:
    """The model inside an annotation (`list[TeamConfig]` -> TeamConfig), if any."""
    if typing.get_origin(tp) is None and isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = inner_model(arg)
        if found is not None:
            return found
    return None


def _fields_at(root: type[BaseModel], loc: Loc) -> list[str]:
    """The keys allowed in the table at `loc`, for "did you mean" hints."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = inner_model(field.annotation) if field else None
    return list(model.model_fields) if model else []


# --------------------------------------------------------------------------------------------------------
# pydantic's error types -> our sentences
# --------------------------------------------------------------------------------------------------------

_ARRAY_TABLES = {"teams", "groups", "members", "questions"}
_FIXED_MESSAGES = {
    "missing": "missing (required)",
    "string_type": "must be a string (in quotes)",
    "string_too_short": "must not be empty",
    "too_short": "must have at least one entry",
    **dict.fromkeys(("int_type", "int_parsing", "int_from_float"), "must be a whole number"),
    **dict.fromkeys(
        ("float_type", "float_parsing", "decimal_type", "decimal_parsing", "finite_number"),
        "must be a number",
    ),
    **dict.fromkeys(("bool_type", "bool_parsing"), "must be true or false"),
    **dict.fromkeys(("model_type", "model_attributes_type", "dict_type"), "must be a table"),
}
_BOUND_MESSAGES = {
    "greater_than": ("must be greater than", "gt"),
    "greater_than_equal": ("must be at least", "ge"),
    "less_than_equal": ("must be at most", "le"),
    "less_than": ("must be less than", "lt"),
}


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _array_header(loc: Loc) -> str:
    return ".".join(str(p) for p in loc if isinstance(p, str))


def _literal_message(err: Mapping[str, Any]) -> str:
    expected = str((err.get("ctx") or {}).get("expected", "")).replace("'", "").replace(" or ", ", ")
    return f"must be one of {expected}"


def _list_message(err: Mapping[str, Any]) -> str:
    loc = err["loc"]
    if loc and loc[-1] in _ARRAY_TABLES:
        return f"must be an array of tables: write [[{_array_header(loc)}]], not [{_array_header(loc)}]"
    return 'must be a list, e.g. ["a", "b"]'


def _pattern_message(err: Mapping[str, Any]) -> str:
    if err["loc"] and err["loc"][-1] == "key":
        return "must be a short key: lowercase letters, digits and _, starting with a letter (e.g. target)"
    return _pydantic_message(err)


def _pydantic_message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", err["type"]))
    return msg[:1].lower() + msg[1:]


_SPECIAL_MESSAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "teambeat": lambda err: str(err["msg"]),
    "literal_error": _literal_message,
    "list_type": _list_message,
    "string_pattern_mismatch": _pattern_message,
}


def message_for(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[kind]
    if kind in _BOUND_MESSAGES:
        words, bound = _BOUND_MESSAGES[kind]
        return f"{words} {_number((err.get('ctx') or {}).get(bound))}"
    return _SPECIAL_MESSAGES.get(kind, _pydantic_message)(err)


def from_validation_error(exc: ValidationError, root: type[BaseModel], prefix: Loc = ()) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc: Loc = prefix + tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            known = _fields_at(root, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"allowed here: {', '.join(known)}"
            problems.append(Problem(loc, f"({hint})", unknown_key=True))
        elif err["type"] == "missing":
            problems.append(Problem(loc, message_for(err)))
        else:
            problems.append(Problem(loc, message_for(err), err.get("input", NO_VALUE)))
    return problems

"""teambeat's configuration: a TOML file, environment overrides, and every problem named at once.

The file shape is a contract (see product.md, "Config file shape"). Each key is checked here so that an
admin running ``teambeat check-config`` sees every mistake in one go, each with the file, the key path,
the bad value and what is allowed — instead of a stack trace from deep inside an adapter at 9 a.m.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "AnnouncementsConfig",
    "BotConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "DatabaseConfig",
    "DeliveryConfig",
    "DeliveryRates",
    "DingTalkConfig",
    "GroupConfig",
    "HooksConfig",
    "MemberConfig",
    "MonthlyTime",
    "QuestionConfig",
    "ScheduleConfig",
    "ServerConfig",
    "SlackConfig",
    "TeamConfig",
    "WeComConfig",
    "WeeklyTime",
    "check_config",
    "is_warning",
    "load_config",
    "parse_hhmm",
    "parse_monthly",
    "parse_weekly",
    "problems_only",
]

ENV_PREFIX = "TEAMBEAT_"
DEFAULTS_SOURCE = "<defaults>"
WARNING_PREFIX = "warning: "

Platform = Literal["slack", "dingtalk", "wecom", "console"]
Locale = Literal["zh-CN", "en"]
Currency = Literal["CNY", "USD", "EUR", "HKD", "JPY", "GBP"]
CalendarKind = Literal["cn", "weekdays", "everyday"]
Role = Literal["member", "lead", "leader"]
QuestionKind = Literal["text", "number", "amount"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i
    for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUESTION_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")
_TOML_POSITION_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")

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
        "channel_secret",
        "channel_webhook",  # DingTalk/WeCom robot URLs carry their access token
    }
)


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose text is ours, so it reads the same in every problem line."""
    return PydanticCustomError("teambeat", message.replace("{", "(").replace("}", ")"))


# --------------------------------------------------------------------------------------------------------
# Value parsers — public so that chat commands (`/team schedule morning 08:45`) accept exactly the same forms.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeeklyTime:
    """A weekly post: weekday (0 = Monday) and local time."""

    weekday: int
    at: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at:%H:%M}"


@dataclass(frozen=True, slots=True)
class MonthlyTime:
    """A monthly post: a day of the month (1..31), or None for the last workday of the month."""

    day: int | None
    at: time

    @property
    def is_last_workday(self) -> bool:
        return self.day is None

    def __str__(self) -> str:
        return f"{'last' if self.day is None else self.day} {self.at:%H:%M}"


def parse_hhmm(text: str) -> time:
    """`"09:30"` -> time(9, 30). Raises ValueError with an admin-readable reason."""
    match = _HHMM_RE.match(text.strip())
    if not match:
        raise ValueError("must be a time HH:MM (24-hour), e.g. 09:30")
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekly(text: str) -> WeeklyTime:
    """`"fri 18:30"` -> WeeklyTime(4, 18:30)."""
    parts = text.split()
    if len(parts) != 2 or parts[0].lower() not in _WEEKDAY_NAMES:
        raise ValueError("must be a day and a time, e.g. fri 18:30 (days: mon tue wed thu fri sat sun)")
    try:
        return WeeklyTime(_WEEKDAY_NAMES[parts[0].lower()], parse_hhmm(parts[1]))
    except ValueError:
        raise ValueError("must be a day and a time HH:MM (24-hour), e.g. fri 18:30") from None


def parse_monthly(text: str) -> MonthlyTime:
    """`"last 18:30"` (last workday of the month) or `"25 18:30"` (a day number 1..31)."""
    parts = text.split()
    if len(parts) == 2 and parts[0].lower() == "last":
        return MonthlyTime(None, parse_hhmm(parts[1]))
    if len(parts) == 2 and parts[0].isdigit() and 1 <= int(parts[0]) <= 31:
        return MonthlyTime(int(parts[0]), parse_hhmm(parts[1]))
    raise ValueError("must be `last HH:MM` (last workday of the month) or `DAY HH:MM` with DAY 1..31")


def _as_time(value: Any) -> Any:
    if isinstance(value, time):  # a bare TOML time: morning = 09:30
        if value.second or value.microsecond or value.tzinfo:
            raise _invalid("must be a time HH:MM (24-hour) without seconds or offset")
        return value
    if not isinstance(value, str):
        raise _invalid('must be a time HH:MM (24-hour) in quotes, e.g. "09:30"')
    try:
        return parse_hhmm(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def _as_weekly(value: Any) -> Any:
    if isinstance(value, WeeklyTime):
        return value
    if not isinstance(value, str):
        raise _invalid('must be a string such as "fri 18:30"')
    try:
        return parse_weekly(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def _as_monthly(value: Any) -> Any:
    if isinstance(value, MonthlyTime):
        return value
    if not isinstance(value, str):
        raise _invalid('must be a string such as "last 18:30" or "25 18:30"')
    try:
        return parse_monthly(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def _as_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):  # a bare TOML date
        return value
    if isinstance(value, str) and _ISO_DATE_RE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _invalid('must be a date YYYY-MM-DD, e.g. "2027-01-01"')


def _as_slug(value: Any) -> Any:
    if isinstance(value, str) and _SLUG_RE.match(value):
        return value
    raise _invalid(
        "must be a slug: lowercase letters, digits, - and _, starting with a letter or digit, "
        "at most 63 characters (e.g. east or team-1)"
    )


def _as_timezone(value: Any) -> Any:
    if not isinstance(value, str):
        raise _invalid('must be an IANA time zone name in quotes, e.g. "Asia/Shanghai"')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
        if close:
            raise _invalid(f"unknown time zone (did you mean {close[0]}?)") from None
        raise _invalid("must be an IANA time zone name such as Asia/Shanghai") from None
    return value


def _as_http_url(value: Any) -> Any:
    if isinstance(value, str) and re.match(r"^https?://[^\s/]+", value):
        return value
    raise _invalid("must be an http:// or https:// URL")


def _as_public_url(value: Any) -> Any:
    if isinstance(value, str) and re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
        return value
    raise _invalid(
        "must be the http:// or https:// address people reach this server at, without ? or #, "
        'e.g. "https://teambeat.example.com"'
    )


def _as_database_url(value: Any) -> Any:
    if isinstance(value, str) and re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
        return value
    raise _invalid("must be a database URL: sqlite:///teambeat.db or postgresql+asyncpg://user@host/db")


def _as_aes_key(value: Any) -> Any:
    if isinstance(value, str) and _AES_KEY_RE.match(value):
        return value
    length = len(value) if isinstance(value, str) else 0
    raise _invalid(f"must be exactly 43 letters and digits (WeCom EncodingAESKey); this one has {length}")


HHMM = Annotated[time, BeforeValidator(_as_time)]
IsoDate = Annotated[date, BeforeValidator(_as_date)]
Slug = Annotated[str, BeforeValidator(_as_slug)]
TimeZoneName = Annotated[str, BeforeValidator(_as_timezone)]
HttpUrl = Annotated[str, BeforeValidator(_as_http_url)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Rate = Annotated[float | None, Field(gt=0, allow_inf_nan=False)]


# --------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------


class _Section(BaseModel):
    """Base: unknown keys are errors, values are read-only, and an empty string means "not set"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data


class DatabaseConfig(_Section):
    url: Annotated[str, BeforeValidator(_as_database_url)] = "sqlite:///teambeat.db"


class ServerConfig(_Section):
    enabled: bool = True
    """`teambeat run` always serves /healthz and /metrics (and the routes in use) unless this is false."""
    host: NonEmpty = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    public_url: Annotated[str, BeforeValidator(_as_public_url)] = ""
    """Where people reach this server: links to TV boards, pictures for DingTalk custom robots (under
    /media/); empty: TV links use http://host:port and custom robots get text only."""


class HooksConfig(_Section):
    deals_secret: str = ""


class BotConfig(_Section):
    default_locale: Locale = "zh-CN"
    max_amount: Decimal = Field(default=Decimal("100000000"), gt=0, allow_inf_nan=False)
    event_dedupe_hours: int = Field(default=48, ge=1)


class DeliveryRates(_Section):
    """Messages per minute per destination; None keeps the adapter's declared limit."""

    slack: Rate = None
    dingtalk: Rate = None
    wecom: Rate = None
    console: Rate = None


class DeliveryConfig(_Section):
    poll_interval: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    max_attempts: int = Field(default=12, ge=1)
    base_backoff: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    max_backoff: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    rates: DeliveryRates = Field(default_factory=DeliveryRates)


class ImagesConfig(_Section):
    """Charts beside recaps, summaries and 小组PK posts where the destination can show pictures."""

    enabled: bool = True


class SlackConfig(_Section):
    mode: Literal["socket", "http"] = "socket"
    bot_token: str = ""
    signing_secret: str = ""
    app_token: str = ""
    api_base_url: HttpUrl = "https://slack.com/api/"
    oauth: bool = False
    client_id: str = ""
    client_secret: str = ""


class DingTalkConfig(_Section):
    mode: Literal["stream", "http"] = "stream"
    app_key: str = ""
    app_secret: str = ""
    robot_code: str = ""
    api_base_url: HttpUrl = "https://api.dingtalk.com"
    oapi_base_url: HttpUrl = "https://oapi.dingtalk.com"
    api_qps: int = Field(default=20, ge=1)
    """Server-API calls per second this process makes as the app (DingTalk refuses the excess)."""


class WeComConfig(_Section):
    corp_id: str = ""
    agent_id: int | None = None
    secret: str = ""
    token: str = ""
    encoding_aes_key: Annotated[str, BeforeValidator(_as_aes_key)] = ""
    api_base_url: HttpUrl = "https://qyapi.weixin.qq.com"


class ConsoleConfig(_Section):
    enabled: bool = False
    user: str = ""


class ScheduleConfig(_Section):
    checkin: HHMM = time(9, 0)
    reminders: list[HHMM] = Field(default_factory=lambda: [time(10, 30)])
    morning: HHMM = time(9, 30)
    evening: HHMM = time(18, 0)
    insights: HHMM | None = None  # the leader's private insights; off until a time is set
    checkout: HHMM | None = None  # the evening check-out: off until set
    weekly: Annotated[WeeklyTime, BeforeValidator(_as_weekly)] = WeeklyTime(4, time(18, 30))
    monthly: Annotated[MonthlyTime, BeforeValidator(_as_monthly)] = MonthlyTime(None, time(18, 30))


class AnnouncementsConfig(_Section):
    deals: bool = True
    milestones: bool = True
    records: bool = True
    rank_changes: bool = True
    kudos: bool = True
    rank_window_minutes: int = Field(default=10, ge=1, le=1440)
    goal_thresholds: list[Annotated[int, Field(ge=1, le=1000)]] = Field(
        default_factory=lambda: [50, 100], min_length=1
    )


class GroupConfig(_Section):
    name: NonEmpty
    slogan: str = ""
    members: list[UserId] = Field(default_factory=list)


class MemberConfig(_Section):
    id: UserId
    name: str = ""
    email: str = ""
    mobile: str = ""
    employee_code: str = ""
    role: Role = "member"
    group: str = ""


class QuestionConfig(_Section):
    key: Annotated[str, StringConstraints(pattern=_QUESTION_KEY_RE.pattern)]
    kind: QuestionKind = "text"
    required: bool = True
    prompt: Annotated[dict[Locale, NonEmpty], Field(min_length=1)]


class TeamConfig(_Section):
    id: Slug
    name: NonEmpty
    platform: Platform
    workspace: str = ""
    channel: str = ""
    channel_webhook: HttpUrl = ""
    channel_secret: str = ""
    timezone: TimeZoneName = "Asia/Shanghai"
    locale: Locale = "zh-CN"
    currency: Currency = "CNY"
    calendar: CalendarKind = "cn"
    extra_holidays: list[IsoDate] = Field(default_factory=list)
    extra_workdays: list[IsoDate] = Field(default_factory=list)
    leaders: list[UserId] = Field(default_factory=list)
    kudos_daily_cap: int = Field(default=5, ge=0)
    post_checkins: bool = False
    missing_names: Literal["leaders", "channel"] = "leaders"  # who sees the names of those not checked in
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    announcements: AnnouncementsConfig = Field(default_factory=AnnouncementsConfig)
    groups: list[GroupConfig] = Field(default_factory=list)
    members: list[MemberConfig] = Field(default_factory=list)
    questions: list[QuestionConfig] = Field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def group_of(self, user_id: str) -> str | None:
        """The group a user belongs to, from `[[teams.groups]] members` or the member's own `group`."""
        for group in self.groups:
            if user_id in group.members:
                return group.name
        for member in self.members:
            if member.id == user_id and member.group:
                return member.group
        return None


class Config(_Section):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    bot: BotConfig = Field(default_factory=BotConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    dingtalk: DingTalkConfig = Field(default_factory=DingTalkConfig)
    wecom: WeComConfig = Field(default_factory=WeComConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    teams: list[TeamConfig] = Field(default_factory=list)

    _source: str = PrivateAttr(default=DEFAULTS_SOURCE)

    @property
    def source(self) -> str:
        """The file this came from, or "<defaults>"."""
        return self._source

    def team(self, team_id: str) -> TeamConfig | None:
        return next((t for t in self.teams if t.id == team_id), None)


# --------------------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------------------


class ConfigError(Exception):
    """Every problem found in a configuration, one sentence each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


_NO_VALUE = object()
Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class _Problem:
    loc: Loc
    message: str
    value: Any = _NO_VALUE
    unknown_key: bool = False


@dataclass(frozen=True, slots=True)
class _Context:
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
    if isinstance(team_id, str) and _SLUG_RE.match(team_id) and ids.count(team_id) == 1:
        return team_id
    return str(index)


def _format(problem: _Problem, ctx: _Context) -> str:
    path = _path(problem.loc, ctx.raw)
    key = problem.loc[-1] if problem.loc else None
    shown = "" if problem.value is _NO_VALUE else f" = {_show(problem.value, key)}"
    env_var = next((v for k, v in ctx.env_locs.items() if problem.loc[: len(k)] == k), None)
    if env_var is not None:
        return f"{env_var}{shown}: {problem.message} (environment override of {path})"
    return f"{ctx.source}: {path}{shown}: {problem.message}"


def _fields_at(loc: Loc) -> list[str]:
    """The keys allowed in the table at `loc`, for "did you mean" hints."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _inner_model(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _inner_model(tp: Any) -> type[BaseModel] | None:
    if typing.get_origin(tp) is None and isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_ARRAY_TABLES = {"teams", "groups", "members", "questions"}


def _message_for(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    loc = err["loc"]
    if kind == "teambeat":
        return str(err["msg"])
    if kind == "missing":
        return "missing (required)"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}"
    if kind in {"string_type"}:
        return "must be a string (in quotes)"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "must be a whole number"
    if kind in {"float_type", "float_parsing", "decimal_type", "decimal_parsing", "finite_number"}:
        return "must be a number"
    if kind in {"bool_type", "bool_parsing"}:
        return "must be true or false"
    if kind == "list_type":
        if loc and loc[-1] in _ARRAY_TABLES:
            return f"must be an array of tables: write [[{_array_header(loc)}]], not [{_array_header(loc)}]"
        return 'must be a list, e.g. ["a", "b"]'
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "must be a table"
    if kind == "greater_than":
        return f"must be greater than {_number(ctx.get('gt'))}"
    if kind == "greater_than_equal":
        return f"must be at least {_number(ctx.get('ge'))}"
    if kind == "less_than_equal":
        return f"must be at most {_number(ctx.get('le'))}"
    if kind == "less_than":
        return f"must be less than {_number(ctx.get('lt'))}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return "must have at least one entry"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "key":
        return "must be a short key: lowercase letters, digits and _, starting with a letter (e.g. target)"
    msg = str(err.get("msg", kind))
    return msg[:1].lower() + msg[1:]


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _array_header(loc: Loc) -> str:
    return ".".join(str(p) for p in loc if isinstance(p, str))


def _from_validation_error(exc: ValidationError, prefix: Loc = ()) -> list[_Problem]:
    problems = []
    for err in exc.errors():
        loc: Loc = prefix + tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            known = _fields_at(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"allowed here: {', '.join(known)}"
            problems.append(_Problem(loc, f"({hint})", unknown_key=True))
        elif err["type"] == "missing":
            problems.append(_Problem(loc, _message_for(err)))
        else:
            problems.append(_Problem(loc, _message_for(err), err.get("input", _NO_VALUE)))
    return problems


def _format_unknown(problem: _Problem, ctx: _Context) -> str:
    path = _path(problem.loc, ctx.raw)
    return f"{ctx.source}: unknown key {path} {problem.message}"


# --------------------------------------------------------------------------------------------------------
# Cross-field checks: run on whatever parts validated, so one typo does not hide the rest.
# --------------------------------------------------------------------------------------------------------


def _team_problems(team: TeamConfig, index: int) -> list[_Problem]:
    at: Loc = ("teams", index)
    problems: list[_Problem] = []
    group_names = [g.name for g in team.groups]
    allowed_groups = ", ".join(group_names) if group_names else "none: the team has no [[teams.groups]]"

    for i, name in enumerate(group_names):
        if name in group_names[:i]:
            problems.append(_Problem((*at, "groups", i, "name"), "duplicate group name in this team", name))

    listed_in: dict[str, str] = {}
    for gi, group in enumerate(team.groups):
        for mi, user in enumerate(group.members):
            if user in listed_in and listed_in[user] != group.name:
                problems.append(
                    _Problem(
                        (*at, "groups", gi, "members", mi),
                        f"already a member of group {listed_in[user]}: a person is in one group",
                        user,
                    )
                )
            listed_in.setdefault(user, group.name)

    seen_members: set[str] = set()
    for mi, member in enumerate(team.members):
        if member.id in seen_members:
            problems.append(
                _Problem((*at, "members", mi, "id"), "duplicate member id in this team", member.id)
            )
        seen_members.add(member.id)
        if member.group and member.group not in group_names:
            problems.append(
                _Problem(
                    (*at, "members", mi, "group"),
                    f"must name a group of this team ({allowed_groups})",
                    member.group,
                )
            )
        elif member.group and listed_in.get(member.id, member.group) != member.group:
            problems.append(
                _Problem(
                    (*at, "members", mi, "group"),
                    f"conflicts with [[teams.groups]] {listed_in[member.id]}, which lists {member.id}",
                    member.group,
                )
            )

    both = sorted(set(team.extra_holidays) & set(team.extra_workdays))
    for day in both:
        index_in_holidays = team.extra_holidays.index(day)
        problems.append(
            _Problem(
                (*at, "extra_holidays", index_in_holidays),
                "is also listed in extra_workdays: a day is one or the other",
                day,
            )
        )

    checkin = team.schedule.checkin
    for ri, reminder in enumerate(team.schedule.reminders):
        if reminder <= checkin:
            problems.append(
                _Problem(
                    (*at, "schedule", "reminders", ri),
                    f"must be later than the check-in time ({checkin:%H:%M})",
                    f"{reminder:%H:%M}",
                )
            )

    keys: list[str] = []
    for qi, question in enumerate(team.questions):
        if question.key in keys:
            problems.append(_Problem((*at, "questions", qi, "key"), "duplicate question key", question.key))
        keys.append(question.key)
        if team.locale not in question.prompt:
            problems.append(
                _Problem(
                    (*at, "questions", qi, "prompt"),
                    f"needs a text for the team's locale {team.locale}",
                    dict(question.prompt),
                )
            )
    return problems


def _duplicate_team_ids(teams: Sequence[TeamConfig | None]) -> list[_Problem]:
    problems = []
    seen: dict[str, int] = {}
    for i, team in enumerate(teams):
        if team is None:
            continue
        if team.id in seen:
            problems.append(
                _Problem(
                    ("teams", i, "id"), f"duplicate team id (also used by teams[{seen[team.id]}])", team.id
                )
            )
        else:
            seen[team.id] = i
    return problems


def _users_of(teams: Sequence[TeamConfig | None], platform: str) -> list[tuple[int, TeamConfig]]:
    return [(i, t) for i, t in enumerate(teams) if t is not None and t.platform == platform]


def _platform_problems(sections: Mapping[str, Any], teams: Sequence[TeamConfig | None]) -> list[_Problem]:
    problems: list[_Problem] = []
    slack: SlackConfig | None = sections.get("slack")
    if slack is not None:
        problems += _slack_problems(slack, _users_of(teams, "slack"))
    dingtalk: DingTalkConfig | None = sections.get("dingtalk")
    if dingtalk is not None:
        problems += _dingtalk_problems(dingtalk, _users_of(teams, "dingtalk"))
    wecom: WeComConfig | None = sections.get("wecom")
    if wecom is not None:
        problems += _wecom_problems(wecom, _users_of(teams, "wecom"))
    server: ServerConfig | None = sections.get("server")
    if server is not None and not server.enabled:
        problems += _server_off_problems(sections, teams)
    delivery: DeliveryConfig | None = sections.get("delivery")
    if delivery is not None and delivery.max_backoff < delivery.base_backoff:
        problems.append(
            _Problem(
                ("delivery", "max_backoff"),
                f"must be at least base_backoff ({delivery.base_backoff})",
                delivery.max_backoff,
            )
        )
    return problems


def _server_off_problems(sections: Mapping[str, Any], teams: Sequence[TeamConfig | None]) -> list[_Problem]:
    """`[server] enabled = false` while something configured can only be reached over HTTP."""
    needs: list[str] = []
    slack: SlackConfig | None = sections.get("slack")
    if slack is not None and (
        slack.oauth or (slack.mode == "http" and (slack.bot_token or _users_of(teams, "slack")))
    ):
        needs.append("Slack (http mode or oauth: /slack/events, /slack/install)")
    dingtalk: DingTalkConfig | None = sections.get("dingtalk")
    if (
        dingtalk is not None
        and dingtalk.mode == "http"
        and (dingtalk.app_key or _users_of(teams, "dingtalk"))
    ):
        needs.append('DingTalk (mode = "http": /dingtalk/callback)')
    wecom: WeComConfig | None = sections.get("wecom")
    if wecom is not None and (wecom.corp_id or _users_of(teams, "wecom")):
        needs.append("WeCom (/wecom/callback)")
    hooks: HooksConfig | None = sections.get("hooks")
    if hooks is not None and hooks.deals_secret:
        needs.append("the deal webhook ([hooks] deals_secret: /hooks/deals)")
    if not needs:
        return []
    return [
        _Problem(
            ("server", "enabled"),
            f"is false, but {', '.join(needs)} can only be reached over HTTP: set enabled = true "
            "(or switch those to socket/stream mode and unset deals_secret)",
            False,
        )
    ]


def _because(users: list[tuple[int, TeamConfig]], platform: str) -> str:
    if users:
        return f"team {users[0][1].id} is on {platform}"
    return f"other [{platform}] keys are set"


def _slack_problems(slack: SlackConfig, users: list[tuple[int, TeamConfig]]) -> list[_Problem]:
    in_use = bool(users or slack.bot_token or slack.app_token or slack.signing_secret or slack.oauth)
    if not in_use:
        return []
    why = _because(users, "slack")
    problems = []
    if slack.oauth:
        for key in ("client_id", "client_secret"):
            if not getattr(slack, key):
                problems.append(_Problem(("slack", key), "missing: required when oauth = true"))
    elif not slack.bot_token:
        problems.append(
            _Problem(("slack", "bot_token"), f"missing: required because {why} (or set oauth = true)")
        )
    if slack.mode == "socket" and not slack.app_token:
        problems.append(
            _Problem(
                ("slack", "app_token"),
                'missing: socket mode needs an app-level token (xapp-…), or set mode = "http"',
            )
        )
    if slack.mode == "http" and not slack.signing_secret:
        problems.append(_Problem(("slack", "signing_secret"), "missing: http mode needs the signing secret"))
    return problems


def _dingtalk_problems(dingtalk: DingTalkConfig, users: list[tuple[int, TeamConfig]]) -> list[_Problem]:
    need_app = any(not team.channel_webhook for _, team in users) or bool(
        dingtalk.app_key or dingtalk.app_secret
    )
    if not need_app:
        return []
    why = _because([(i, t) for i, t in users if not t.channel_webhook], "dingtalk")
    if not users or all(t.channel_webhook for _, t in users):
        why = "the other of app_key / app_secret is set"
    return [
        _Problem(
            ("dingtalk", key),
            f"missing: required because {why} (or give every dingtalk team a channel_webhook)",
        )
        for key in ("app_key", "app_secret")
        if not getattr(dingtalk, key)
    ]


def _wecom_problems(wecom: WeComConfig, users: list[tuple[int, TeamConfig]]) -> list[_Problem]:
    in_use = bool(
        users or wecom.corp_id or wecom.secret or wecom.agent_id or wecom.token or wecom.encoding_aes_key
    )
    if not in_use:
        return []
    why = _because(users, "wecom")
    problems = [
        _Problem(("wecom", key), f"missing: required because {why}")
        for key in ("corp_id", "secret")
        if not getattr(wecom, key)
    ]
    if wecom.agent_id is None:
        problems.append(
            _Problem(("wecom", "agent_id"), f"missing: required because {why} (the app's AgentId)")
        )
    if bool(wecom.token) != bool(wecom.encoding_aes_key):
        missing = "token" if not wecom.token else "encoding_aes_key"
        problems.append(
            _Problem(
                ("wecom", missing), "missing: token and encoding_aes_key are needed together for callbacks"
            )
        )
    return problems


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------


def _read_toml(path: str | os.PathLike[str], source: str) -> tuple[dict[str, Any], list[str]]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return {}, [f"{source}: cannot read the file: {exc.strerror or exc}"]
    try:
        text = data.decode("utf-8-sig")  # editors on Windows often add a BOM
    except UnicodeDecodeError as exc:
        return {}, [f"{source}: not UTF-8 text (byte {exc.start}): save the file as UTF-8"]
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION_RE.search(message)
        if match:
            where = f"line {match.group(1)}, column {match.group(2)}"
            return {}, [f"{source}: {where}: invalid TOML: {message[: match.start()]}"]
        return {}, [f"{source}: invalid TOML: {message}"]


def _env_keys() -> dict[str, Loc]:
    """TEAMBEAT_<SECTION>_<KEY> -> key path, for every scalar key of every non-array section."""
    table: dict[str, Loc] = {}

    def walk(model: type[BaseModel], prefix: Loc) -> None:
        for name, field in model.model_fields.items():
            inner = _inner_model(field.annotation)
            if inner is not None:
                walk(inner, (*prefix, name))
            elif typing.get_origin(field.annotation) is not list:
                table[ENV_PREFIX + "_".join(str(p) for p in (*prefix, name)).upper()] = (*prefix, name)

    for name, field in Config.model_fields.items():
        inner = _inner_model(field.annotation)
        if inner is not None and typing.get_origin(field.annotation) is not list:
            walk(inner, (name,))
    return table


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[Loc, str]:
    """Overlay TEAMBEAT_* variables on the file's values; unknown names are someone else's and ignored."""
    used: dict[Loc, str] = {}
    for var, loc in _env_keys().items():
        value = environ.get(var)
        if value is None or not value.strip():  # empty = unset: the file's value stays
            continue
        table: Any = raw
        for part in loc[:-1]:
            table = table.setdefault(part, {}) if isinstance(table, dict) else None
        if isinstance(table, dict):  # a section that is not a table is reported by validation
            table[loc[-1]] = value
            used[loc] = var
    return used


def _validate_parts(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[TeamConfig | None]]:
    """Each section and team on its own, so cross-field checks can run even when other parts are broken."""
    sections: dict[str, Any] = {}
    for name, field in Config.model_fields.items():
        model = _inner_model(field.annotation)
        if name == "teams" or model is None:
            continue
        try:
            sections[name] = model.model_validate(raw.get(name, {}))
        except ValidationError:
            sections[name] = None
    teams: list[TeamConfig | None] = []
    raw_teams = raw.get("teams", [])
    for item in raw_teams if isinstance(raw_teams, list) else []:
        try:
            teams.append(TeamConfig.model_validate(item))
        except ValidationError:
            teams.append(None)
    return sections, teams


def _resolve_sqlite_path(url: str, folder: Path) -> str:
    """`url` with a relative SQLite file path made absolute against `folder`; any other URL unchanged."""
    from sqlalchemy.engine import make_url  # only here: keeps `import bot.config` light
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or database in (None, "", ":memory:")
        or database.startswith("file:")  # an SQLite URI (?uri=true) names its own path
        or Path(database).is_absolute()
    ):
        return url
    return parsed.set(database=str(folder / database)).render_as_string(hide_password=False)


def _load(
    path: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None,
    relative_to: str | os.PathLike[str] | None = None,
) -> tuple[Config | None, list[str], _Context]:
    source = os.fspath(path) if path is not None else DEFAULTS_SOURCE
    raw: dict[str, Any]
    if path is None:
        raw = {"console": {"enabled": True}}  # no file: the console adapter with a sample team
    else:
        raw, read_problems = _read_toml(path, source)
        if read_problems:
            return None, read_problems, _Context(source, {}, {})
    env_locs = _apply_env(raw, os.environ if environ is None else environ)
    ctx = _Context(source, raw, env_locs)

    problems: list[_Problem] = []
    config: Config | None = None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += _from_validation_error(exc)

    if config is not None:
        sections: dict[str, Any] = {name: getattr(config, name) for name in Config.model_fields}
        teams: list[TeamConfig | None] = list(config.teams)
    else:
        sections, teams = _validate_parts(raw)
    problems += _duplicate_team_ids(teams)
    for i, team in enumerate(teams):
        if team is not None:
            problems += _team_problems(team, i)
    problems += _platform_problems(sections, teams)

    lines = [_format_unknown(p, ctx) if p.unknown_key else _format(p, ctx) for p in problems]
    if lines or config is None:
        return None, lines, ctx
    if path is not None and ("database", "url") not in env_locs:
        # A path in the file is relative to the file, wherever the bot is started from; one from the
        # environment stays relative to the working directory, like any path given in a shell.
        folder = Path(relative_to) if relative_to is not None else Path(path).resolve().parent
        url = _resolve_sqlite_path(config.database.url, folder)
        if url != config.database.url:
            config = config.model_copy(update={"database": config.database.model_copy(update={"url": url})})
    config._source = source
    return config, [], ctx


def load_config(
    path: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None = None,
    *,
    relative_to: str | os.PathLike[str] | None = None,
) -> Config:
    """Read, override from the environment, and validate. Raises ConfigError listing every problem.

    A relative SQLite path in the file is resolved against the file's folder (`relative_to` instead,
    when given: the CLI's embedded sample keeps `./teambeat.db` in the working directory)."""
    config, problems, _ = _load(path, environ, relative_to)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(
    path: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None = None,
    today: date | None = None,
) -> list[str]:
    """Every problem, or — when there are none — the warnings (lines starting with "warning: ").

    Warnings alone leave the configuration valid: `problems_only(lines)` is what decides exit 1.
    """
    config, problems, ctx = _load(path, environ)
    if problems or config is None:
        return problems
    return [WARNING_PREFIX + line for line in _warnings(config, ctx, today or date.today())]


def is_warning(line: str) -> bool:
    return line.startswith(WARNING_PREFIX)


def problems_only(lines: Sequence[str]) -> list[str]:
    """The lines of `check_config` that make the configuration invalid (exit 1)."""
    return [line for line in lines if not is_warning(line)]


def _warnings(config: Config, ctx: _Context, today: date) -> list[str]:
    import chinese_calendar  # only check-config needs it; keeps `import bot.config` light

    missing_years = []
    for year in (today.year, today.year + 1):
        try:
            chinese_calendar.is_holiday(date(year, 1, 1))
        except NotImplementedError:
            missing_years.append(str(year))
    lines = []
    for i, team in enumerate(config.teams):
        if team.calendar == "cn" and missing_years:
            lines.append(
                _format(
                    _Problem(
                        ("teams", i, "calendar"),
                        f"chinese_calendar has no holiday data for {' and '.join(missing_years)}: "
                        "Monday–Friday (plus extra_holidays / extra_workdays) is used there until the "
                        "chinese-calendar package is updated",
                        team.calendar,
                    ),
                    ctx,
                )
            )
        if team.platform != "console" and not (team.channel or team.channel_webhook):
            lines.append(
                _format(
                    _Problem(
                        ("teams", i),
                        "no home channel (channel or channel_webhook): channel posts wait until "
                        "`/team setup` is run in the team's channel",
                    ),
                    ctx,
                )
            )
    return lines

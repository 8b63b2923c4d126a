"""Loading: read the sources, validate, run the cross-field checks, and name every problem at once."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.checks import duplicate_team_ids, platform_problems, team_problems, warnings
from bot.config.models import DEFAULTS_SOURCE, Config, TeamConfig
from bot.config.problems import (
    ConfigError,
    Context,
    Problem,
    format_problem,
    from_validation_error,
    inner_model,
)
from bot.config.sources import TeambeatEnvSource, TomlFileSource, merge

WARNING_PREFIX = "warning: "


def _validate_parts(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[TeamConfig | None]]:
    """Each section and team on its own, so cross-field checks can run even when other parts are broken."""
    sections: dict[str, Any] = {}
    for name, field in Config.model_fields.items():
        model = inner_model(field.annotation)
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


def _read(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], Context, list[str]]:
    """The merged raw data (file, then environment on top), where each value came from, and read errors."""
    source = os.fspath(path) if path is not None else DEFAULTS_SOURCE
    if path is None:
        raw: dict[str, Any] = {"console": {"enabled": True}}  # no file: the console adapter, a sample team
    else:
        toml = TomlFileSource(Config, Path(path), source)
        if toml.problems:
            return {}, Context(source, {}, {}), toml.problems
        raw = toml()
    env = TeambeatEnvSource(Config, environ)
    raw = merge(raw, env())
    return raw, Context(source, raw, env.used), []


def _problems(raw: Mapping[str, Any]) -> tuple[Config | None, list[Problem]]:
    problems: list[Problem] = []
    config: Config | None = None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += from_validation_error(exc, Config)
    if config is not None:
        sections: dict[str, Any] = {name: getattr(config, name) for name in Config.model_fields}
        teams: list[TeamConfig | None] = list(config.teams)
    else:
        sections, teams = _validate_parts(raw)
    problems += duplicate_team_ids(teams)
    for i, team in enumerate(teams):
        if team is not None:
            problems += team_problems(team, i)
    problems += platform_problems(sections, teams)
    return config, problems


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
) -> tuple[Config | None, list[str], Context]:
    raw, ctx, read_problems = _read(path, os.environ if environ is None else environ)
    if read_problems:
        return None, read_problems, ctx
    config, problems = _problems(raw)
    lines = [format_problem(p, ctx) for p in problems]
    if lines or config is None:
        return None, lines, ctx
    if path is not None and ("database", "url") not in ctx.env_locs:
        # A path in the file is relative to the file, wherever the bot is started from; one from the
        # environment stays relative to the working directory, like any path given in a shell.
        folder = Path(relative_to) if relative_to is not None else Path(path).resolve().parent
        url = _resolve_sqlite_path(config.database.url, folder)
        if url != config.database.url:
            config = config.model_copy(update={"database": config.database.model_copy(update={"url": url})})
    config._source = ctx.source
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
    return [WARNING_PREFIX + format_problem(p, ctx) for p in warnings(config, today or date.today())]


def is_warning(line: str) -> bool:
    return line.startswith(WARNING_PREFIX)


def problems_only(lines: Sequence[str]) -> list[str]:
    """The lines of `check_config` that make the configuration invalid (exit 1)."""
    return [line for line in lines if not is_warning(line)]

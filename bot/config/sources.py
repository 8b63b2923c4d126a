"""Where values come from: the TOML file and TEAMBEAT_<SECTION>_<KEY> environment variables.

Both are pydantic-settings sources; they differ from the stock ones in that they never raise: a file that
cannot be read becomes a problem line, and every environment variable used is remembered so a bad value is
named by the variable, not by a file it never was in.
"""

from __future__ import annotations

import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from bot.config.problems import Loc, inner_model

ENV_PREFIX = "TEAMBEAT_"
_TOML_POSITION_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class TomlFileSource(TomlConfigSettingsSource):
    """The config file; `problems` holds why it could not be read (then the data is empty)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        super().__init__(settings_cls, toml_file=path)

    def _read_files(self, files: Any, deep_merge: bool = False) -> dict[str, Any]:
        return self._read_file(Path(files))  # one file, and a missing one is a problem, not "no settings"

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        try:
            data = file_path.read_bytes()
        except OSError as exc:
            return self._problem(f"cannot read the file: {exc.strerror or exc}")
        try:
            text = data.decode("utf-8-sig")  # editors on Windows often add a BOM
        except UnicodeDecodeError as exc:
            return self._problem(f"not UTF-8 text (byte {exc.start}): save the file as UTF-8")
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = _TOML_POSITION_RE.search(message)
            if match:
                where = f"line {match.group(1)}, column {match.group(2)}"
                return self._problem(f"{where}: invalid TOML: {message[: match.start()]}")
            return self._problem(f"invalid TOML: {message}")

    def _problem(self, text: str) -> dict[str, Any]:
        self.problems.append(f"{self.source}: {text}")
        return {}


def env_keys(settings_cls: type[BaseModel]) -> dict[str, Loc]:
    """TEAMBEAT_<SECTION>_<KEY> -> key path, for every scalar key of every non-array section."""
    table: dict[str, Loc] = {}

    def walk(model: type[BaseModel], prefix: Loc) -> None:
        for name, field in model.model_fields.items():
            inner = inner_model(field.annotation)
            if inner is not None:
                walk(inner, (*prefix, name))
            elif typing.get_origin(field.annotation) is not list:
                table[ENV_PREFIX + "_".join(str(p) for p in (*prefix, name)).upper()] = (*prefix, name)

    for name, field in settings_cls.model_fields.items():
        inner = inner_model(field.annotation)
        if inner is not None and typing.get_origin(field.annotation) is not list:
            walk(inner, (name,))
    return table


class TeambeatEnvSource(PydanticBaseSettingsSource):
    """TEAMBEAT_* variables as a nested dict; unknown names are someone else's and ignored.

    pydantic-settings' own EnvSettingsSource cannot split TEAMBEAT_SLACK_BOT_TOKEN (keys contain the
    delimiter), so the names are derived from the models instead. An empty value means unset.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.used: dict[Loc, str] = {}
        for var, loc in env_keys(settings_cls).items():
            value = environ.get(var)
            if value is not None and value.strip():
                self.used[loc] = var
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # values are produced as a whole in __call__

    def __call__(self) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for loc, var in self.used.items():
            table = nested
            for part in loc[:-1]:
                table = table.setdefault(str(part), {})
            table[str(loc[-1])] = self._environ[var]
        return nested


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`, table by table. A section of the file that is not a table
    (`server = 5`) keeps its value, and validation reports it."""
    for key, value in override.items():
        if isinstance(value, Mapping) and key in base and not isinstance(base[key], dict):
            continue
        if isinstance(value, Mapping):
            merge(base.setdefault(key, {}), value)
        else:
            base[key] = value
    return base

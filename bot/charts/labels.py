"""The words charts draw (titles, legends), per locale, from `bot/templates/<locale>/_charts.toml`."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LOCALE = "zh-CN"


@cache
def labels(locale: str) -> dict[str, Any]:
    folder = (
        locale if resources.files("bot").joinpath("templates", locale, "_charts.toml").is_file() else None
    )
    if folder is None:
        folder = "en" if locale.lower().startswith("en") else DEFAULT_LOCALE
    text = resources.files("bot").joinpath("templates", folder, "_charts.toml").read_text("utf-8")
    return tomllib.loads(text)

"""The TV board's words: both locales say everything the page's script asks for, and nothing else."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "adapters" / "web" / "tv_page" / "board.js"
TEMPLATE = ROOT / "adapters" / "web" / "tv_page" / "board.html"


def _words(locale: str) -> dict[str, object]:
    return tomllib.loads((ROOT / "bot" / "templates" / locale / "_tv.toml").read_text("utf-8"))


def test_both_locales_have_every_word_the_page_uses() -> None:
    used = set(re.findall(r"\bW\.(\w+)", SCRIPT.read_text("utf-8")))
    used |= set(re.findall(r"words\.(\w+)", TEMPLATE.read_text("utf-8")))
    zh, en = _words("zh-CN"), _words("en")
    assert set(zh) == set(en)
    assert used - set(zh) == set(), "words the page uses but no locale has"
    assert set(zh) - used == set(), "words no page uses"
    assert len(zh["weekdays"]) == len(en["weekdays"]) == 7  # type: ignore[arg-type]


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """A screen may have no internet: no fonts, scripts or styles from another host."""
    for path in (SCRIPT, TEMPLATE, SCRIPT.with_name("board.css")):
        text = path.read_text("utf-8")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\((?!#)", text), path.name

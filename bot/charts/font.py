"""The packaged CJK font (an OFL subset of Noto Sans CJK SC, see fonts/OFL.txt), registered on first use."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

FAMILY = "Teambeat Sans SC"
FONT_FILE = "TeambeatSansSC-Regular.otf"
# Latin symbols the subset lacks (a minus sign, an accented name) come from matplotlib's own font.
FALLBACK = "DejaVu Sans"


def font_path() -> Path:
    return Path(str(resources.files("bot.charts").joinpath("fonts", FONT_FILE)))


@cache
def register() -> list[str]:
    """Add the packaged font to matplotlib's font manager (once per process); the font.family to use."""
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(font_path()))
    return [FAMILY, FALLBACK]

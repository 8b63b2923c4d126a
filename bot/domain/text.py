"""Free text that must stay on one line (a deal's customer and product)."""

from __future__ import annotations

import re

# Every character str.splitlines() breaks at: a newline in a post could fake a line of its own.
_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` with each run of line or paragraph separators turned into one space."""
    return _LINE_BREAKS.sub(" ", text)

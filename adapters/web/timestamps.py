"""The one way every signed door reads a request's timestamp, before anything else looks at it.

ASCII digits only, at most 13 (milliseconds until the year 2286): `int()` also takes `"١٢"`, `"1_0"` and
surrounding space, `str.isdigit()` also takes `"²"` (which `int()` then refuses), and a 400-digit number
overflows the float arithmetic of a freshness check — each of those was a 500 once.
"""

from __future__ import annotations

import re

MAX_DIGITS = 13
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def parse_timestamp(text: str | None) -> int | None:
    """The number a timestamp header or query parameter carries, or None when it is not a plain one."""
    if text is None or _DIGITS.fullmatch(text) is None:
        return None
    return int(text)

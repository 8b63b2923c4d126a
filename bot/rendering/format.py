"""Number formatting shared by templates, fallbacks and renderers, so a ratio reads the same everywhere."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

NO_VALUE = "—"


def percent(ratio: float | None, *, signed: bool = False) -> str:
    """0.4349 -> "43%", 1.2 -> "120%", None -> "—"; `signed` adds "+" to gains ("+12%").

    Rounds half up on the decimal the reader sees (0.285 -> "29%"), not on the binary float.
    """
    if ratio is None or not math.isfinite(ratio):
        return NO_VALUE
    whole = int((Decimal(repr(float(ratio))) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    sign = "+" if signed and whole > 0 else ""
    return f"{sign}{whole}%"

"""The one way charts are drawn and saved: Agg canvas, fixed dpi and fonts, PNG without metadata."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bot.charts.font import register
from bot.charts.model import COUNT
from bot.domain.money import Money, format_money

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
WIDTH_IN = 8.0  # 800 px wide: readable in a chat window without zooming
MAX_NAME = 14
PALETTE = 128

ACTUAL = "#2563eb"
PLANNED = "#cbd5e1"
GOAL = "#dc2626"
PREVIOUS = "#94a3b8"
LEADER = "#f59e0b"
OWN = "#16a34a"
TEXT = "#1f2937"
GRID = "#e5e7eb"
# matplotlib's settings are the process's: charts drawn on worker threads take turns.
_DRAWING = threading.Lock()


@contextmanager
def style() -> Iterator[None]:
    """matplotlib settings for one drawing, undone after it: nothing global is left changed."""
    import matplotlib

    families = register()
    settings = {
        "font.family": families,
        "font.size": 10,
        # The subset carries no hints (tools/chart_font drops them), so hinting only cost time: FreeType
        # loaded each glyph again for a hinted advance.
        "text.hinting": "no_hinting",
        "axes.unicode_minus": False,
        "axes.edgecolor": GRID,
        "axes.labelcolor": TEXT,
        "axes.titlesize": 12,
        "axes.titleweight": "normal",
        "xtick.color": TEXT,
        "ytick.color": TEXT,
        "text.color": TEXT,
        "path.simplify": True,
        "savefig.facecolor": "white",
    }
    with _DRAWING, matplotlib.rc_context(settings):
        yield


def figure(height_in: float, width_in: float = WIDTH_IN) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, round(height_in, 2)), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure) -> bytes:
    """The figure's PNG, identical for identical figures: no Software tag, no date. Flat colours and
    antialiased edges fit a 128-colour palette: a third of the bytes of RGBA, and quicker to compress.
    Fast octree picks the palette in a fifth of median cut's time (which was a third of a 50-group
    race's CPU) and strays less on the worst pixel (median cut: up to 66 levels on a rare colour)."""
    from PIL import Image

    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    rgb = Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert(
        "RGB"
    )
    out = io.BytesIO()
    rgb.quantize(colors=PALETTE, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out, "PNG")
    return out.getvalue()


def hbars(
    ax: Axes, ys: Sequence[int], values: Sequence[float], height: float, colors: str | Sequence[str]
) -> None:
    """Horizontal bars from 0 as one artist. `barh` makes a Rectangle per bar and grows the data limits
    bar by bar (100 of them were a tenth of a 50-group race); callers set both axes' limits."""
    from matplotlib.collections import PolyCollection

    half = height / 2
    boxes = [
        [(0, y - half), (v, y - half), (v, y + half), (0, y + half)] for y, v in zip(ys, values, strict=True)
    ]
    ax.add_collection(PolyCollection(boxes, facecolors=colors, edgecolors="none"), autolim=False)


def show(unit: str, locale: str, value: float) -> str:
    if unit == COUNT:
        return f"{round(value):,}"
    return format_money(Money(round(value), unit), locale)


def value_axis(ax: Axes, unit: str, locale: str, axis: str = "x") -> None:
    """Ticks read like the text: `¥1.2万` in Chinese, `$12,000` in English."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: show(unit, locale, v)))
    target.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=2))
    ax.grid(axis=axis, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def short(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"

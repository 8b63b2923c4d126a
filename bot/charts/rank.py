"""`/rank … chart`: the board's rows as bars, the asker's own row in green."""

from __future__ import annotations

from bot.charts import canvas
from bot.charts.labels import labels
from bot.charts.model import RankChart

ROW_IN = 0.3


def rank_png(data: RankChart) -> bytes:
    words = labels(data.locale)
    rows = data.rows
    ys = list(range(len(rows)))
    height = 1.1 + ROW_IN * max(len(rows), 1)
    with canvas.style():
        fig = canvas.figure(height)
        fig.suptitle(data.title, x=0.02, ha="left", y=1 - 0.1 / height, va="top", fontsize=13)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.2, right=0.95, top=1 - 0.55 / height, bottom=0.4 / height)
        if not rows:
            ax.set_axis_off()
            ax.text(0.5, 0.5, words["empty"], ha="center", va="center", transform=ax.transAxes)
            return canvas.png(fig)
        colors = [canvas.OWN if r.own else (canvas.LEADER if r.rank == 1 else canvas.ACTUAL) for r in rows]
        canvas.hbars(ax, ys, [r.value for r in rows], 0.62, colors)
        ax.set_yticks(ys, [f"{r.rank}. {canvas.short(r.name)}" for r in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        canvas.value_axis(ax, data.unit, data.locale)
        top = max([*(r.value for r in rows), 1])
        ax.set_xlim(0, top * 1.2)
        for y, row in zip(ys, rows, strict=True):
            ax.text(
                row.value + top * 0.01,
                y,
                canvas.show(data.unit, data.locale, row.value),
                va="center",
                fontsize=8,
            )
        return canvas.png(fig)

"""The 小组PK race: every group toward its goal, total and per capita side by side, leader in gold."""

from __future__ import annotations

from bot.charts import canvas
from bot.charts.labels import labels
from bot.charts.model import RaceChart

ROW_IN = 0.26
# Past this many groups the bars go without figures (the text beside the chart has every one): each
# figure is a text to lay out and draw, a quarter of a 50-group race's work (bench/README, P9).
LABELLED = 20


def race_png(data: RaceChart) -> bytes:
    words = labels(data.locale)
    groups = data.groups
    rows = max(len(groups), 1)
    names = [canvas.short(g.name) for g in groups]
    ys = list(range(len(groups)))
    height = 1.3 + ROW_IN * rows
    with canvas.style():
        fig = canvas.figure(height)
        fig.suptitle(
            words["race_title"].format(name=data.title),
            x=0.02,
            ha="left",
            y=1 - 0.1 / height,
            va="top",
            fontsize=13,
        )
        total_ax, capita_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1], "wspace": 0.08})
        fig.subplots_adjust(left=0.17, right=0.97, top=1 - 0.75 / height, bottom=0.45 / height)
        first = groups[0].total if groups else 0
        colors = [canvas.LEADER if i == 0 and first > 0 else canvas.ACTUAL for i in range(len(groups))]
        labelled = len(groups) <= LABELLED
        _panel(total_ax, data, ys, [g.total for g in groups], colors, words["race_total"], labelled)
        goals = [(g.goal, y) for g, y in zip(groups, ys, strict=True) if g.goal]
        if goals:
            total_ax.scatter(
                [g for g, _ in goals],
                [y for _, y in goals],
                marker="|",
                s=160,
                color=canvas.GOAL,
                linewidths=2,
                label=words["goal"],
                zorder=3,
            )
            total_ax.set_xlim(right=max(total_ax.get_xlim()[1], max(g for g, _ in goals) * 1.1))
            total_ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), frameon=False, fontsize=9)
        _panel(
            capita_ax,
            data,
            ys,
            [g.per_capita for g in groups],
            colors,
            words["race_per_capita"],
            labelled,
        )
        # Names as plain text beside the bars: a tick per group costs several artists and copies each.
        total_ax.set_yticks([])
        total_ax.set_ylim(rows - 0.5, -0.5)
        beside = total_ax.get_yaxis_transform()
        for y, name in zip(ys, names, strict=True):
            total_ax.text(-0.015, y, name, transform=beside, ha="right", va="center", fontsize=10)
        capita_ax.set_yticks([])  # the names on the left serve both panels
        capita_ax.set_ylim(rows - 0.5, -0.5)
        return canvas.png(fig)


def _panel(
    ax,
    data: RaceChart,
    ys: list[int],
    values: list[int],
    colors: list[str],
    title: str,
    labelled: bool = True,
) -> None:
    unit = data.unit
    canvas.hbars(ax, ys, values, 0.66, colors)
    ax.set_title(title, loc="left", fontsize=10)
    canvas.value_axis(ax, unit, data.locale)
    top = max([*values, 1])
    ax.set_xlim(0, top * 1.25)
    if not labelled:
        return
    for y, value in zip(ys, values, strict=True):
        ax.text(value + top * 0.01, y, canvas.show(unit, data.locale, value), va="center", fontsize=7)

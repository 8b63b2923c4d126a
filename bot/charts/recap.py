"""The evening recap's chart: the team's day (actual, plan, goal), then each person's plan and actual."""

from __future__ import annotations

from bot.charts import canvas
from bot.charts.labels import labels
from bot.charts.model import RecapChart

MAX_PEOPLE = 30  # the text lists everyone; past this a bar chart stops being read
ROW_IN = 0.3


def recap_png(data: RecapChart) -> bytes:
    words = labels(data.locale)
    people = data.people[:MAX_PEOPLE]
    rows = max(len(people), 1)
    title = words["recap_title"].format(day=data.day)
    if len(data.people) > len(people):
        title += words["top_of"].format(shown=len(people), total=len(data.people))
    with canvas.style():
        fig = canvas.figure(1.9 + ROW_IN * rows)
        grid = fig.add_gridspec(2, 1, height_ratios=[0.55, ROW_IN * rows], hspace=0.35)
        grid.update(
            left=0.2, right=0.9, top=1 - 0.75 / fig.get_figheight(), bottom=0.45 / fig.get_figheight()
        )
        fig.suptitle(title, x=0.02, ha="left", y=1 - 0.12 / fig.get_figheight(), va="top", fontsize=13)
        team_ax = fig.add_subplot(grid[0])
        _bars(team_ax, data, [words["team"]], [data.team_actual], [data.team_planned])
        if data.goal:
            team_ax.axvline(data.goal, color=canvas.GOAL, linestyle="--", linewidth=1.5, label=words["goal"])
            team_ax.set_xlim(right=max(team_ax.get_xlim()[1], data.goal * 1.08))
        team_ax.legend(
            handles=_legend(team_ax, words, data.goal is not None),
            loc="lower left",
            bbox_to_anchor=(0, 1.02),
            ncols=3,
            frameon=False,
            fontsize=9,
        )
        people_ax = fig.add_subplot(grid[1])
        if people:
            _bars(
                people_ax,
                data,
                [canvas.short(p.name) for p in people],
                [p.actual for p in people],
                [p.planned for p in people],
            )
        else:
            people_ax.set_axis_off()
            people_ax.text(0.5, 0.5, words["nobody"], ha="center", va="center", transform=people_ax.transAxes)
        return canvas.png(fig)


def _bars(ax, data: RecapChart, names: list[str], actual: list[int], planned: list[int | None]) -> None:
    """A bullet bar per row: the plan wide and pale behind, the actual narrow and strong in front."""
    ys = list(range(len(names)))
    canvas.hbars(ax, ys, [p or 0 for p in planned], 0.78, canvas.PLANNED)
    canvas.hbars(ax, ys, actual, 0.42, canvas.ACTUAL)
    ax.set_yticks([])  # names as plain text: a tick per row costs several artists, each copied
    ax.set_ylim(len(names) - 0.5, -0.5)
    beside = ax.get_yaxis_transform()
    for y, name in zip(ys, names, strict=True):
        ax.text(-0.015, y, name, transform=beside, ha="right", va="center")
    canvas.value_axis(ax, data.unit, data.locale)
    top = max([*actual, *(p or 0 for p in planned), 1])
    ax.set_xlim(0, top * 1.18)
    for y, value in zip(ys, actual, strict=True):
        ax.text(value + top * 0.01, y, canvas.show(data.unit, data.locale, value), va="center", fontsize=8)


def _legend(ax, words: dict, with_goal: bool) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(color=canvas.PLANNED, label=words["planned"]),
        Patch(color=canvas.ACTUAL, label=words["actual"]),
    ]
    if with_goal:
        handles.append(Line2D([], [], color=canvas.GOAL, linestyle="--", label=words["goal"]))
    return handles

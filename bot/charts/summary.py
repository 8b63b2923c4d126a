"""The weekly/monthly summary's chart: each day's total beside last period's, and the running total
against last period's and the goal's pace."""

from __future__ import annotations

from itertools import accumulate

from bot.charts import canvas
from bot.charts.labels import labels
from bot.charts.model import SummaryChart

BAR = 0.4


def summary_png(data: SummaryChart) -> bytes:
    words = labels(data.locale)
    this_word, last_word = words[f"{data.kind}_this"], words[f"{data.kind}_last"]
    n = len(data.days)
    xs = list(range(n))
    previous = data.previous[:n]
    with canvas.style():
        fig = canvas.figure(6.4)
        fig.suptitle(
            words[f"{data.kind}_title"].format(period=data.period),
            x=0.02,
            ha="left",
            y=0.98,
            va="top",
            fontsize=13,
        )
        daily_ax, total_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"hspace": 0.32})
        fig.subplots_adjust(left=0.12, right=0.97, top=0.86, bottom=0.1)
        daily_ax.bar(
            [x - BAR / 2 for x in range(len(previous))], previous, BAR, color=canvas.PREVIOUS, label=last_word
        )
        daily_ax.bar(
            [x + BAR / 2 for x in range(len(data.daily))],
            data.daily,
            BAR,
            color=canvas.ACTUAL,
            label=this_word,
        )
        daily_ax.set_title(words["daily"], loc="left", fontsize=10)
        canvas.value_axis(daily_ax, data.unit, data.locale, axis="y")
        daily_ax.set_ylim(bottom=0)
        daily_ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), ncols=3, frameon=False, fontsize=9)

        if previous:
            total_ax.plot(
                range(len(previous)),
                list(accumulate(previous)),
                color=canvas.PREVIOUS,
                linestyle="--",
                label=last_word,
            )
        if data.daily:
            total_ax.plot(
                range(len(data.daily)),
                list(accumulate(data.daily)),
                color=canvas.ACTUAL,
                marker="o",
                markersize=3,
                linewidth=2,
                label=this_word,
            )
        if data.pace:
            total_ax.plot(
                xs, data.pace[:n], color=canvas.GOAL, linestyle=":", linewidth=1.5, label=words["pace"]
            )
        total_ax.set_title(words["cumulative"], loc="left", fontsize=10)
        canvas.value_axis(total_ax, data.unit, data.locale, axis="y")
        total_ax.set_ylim(bottom=0)
        total_ax.legend(loc="upper left", frameon=False, fontsize=9)
        step = max(1, -(-n // 11))  # at most about eleven day labels
        total_ax.set_xticks(xs[::step], data.days[::step])
        total_ax.set_xlim(-0.6, max(n, 1) - 0.4)
        return canvas.png(fig)

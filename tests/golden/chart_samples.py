"""Fixed chart data: every chart in both locales, Chinese names included, so goldens cover the CJK font."""

from __future__ import annotations

from collections.abc import Callable

from bot.charts.model import (
    COUNT,
    GroupRace,
    PersonDay,
    RaceChart,
    RankBar,
    RankChart,
    RecapChart,
    SummaryChart,
)
from bot.charts.race import race_png
from bot.charts.rank import rank_png
from bot.charts.recap import recap_png
from bot.charts.summary import summary_png

PEOPLE = (
    PersonDay("张伟", 1_280_000, 1_000_000),
    PersonDay("李娜", 560_000, 800_000),
    PersonDay("王芳", 0, 300_000),
    PersonDay("赵磊 (Leo)", 2_300_000, None),
    PersonDay("欧阳晓明（华东区）", 90_000, 50_000),
)
WEEK_DAYS = ("11/23", "11/24", "11/25", "11/26", "11/27", "11/28", "11/29")


def recap(locale: str) -> RecapChart:
    return RecapChart(
        locale=locale,
        unit="CNY",
        day="12/04",
        people=PEOPLE,
        team_actual=sum(p.actual for p in PEOPLE),
        team_planned=sum(p.planned or 0 for p in PEOPLE),
        goal=5_000_000,
    )


def summary(locale: str) -> SummaryChart:
    return SummaryChart(
        locale=locale,
        unit="CNY",
        kind="weekly",
        period="11/23–11/29",
        days=WEEK_DAYS,
        daily=(2_780_000, 1_500_000, 3_400_000, 0, 2_700_000),
        previous=(0, 0, 0, 0, 5_000_000, 0, 0),
        pace=(2_000_000, 4_000_000, 6_000_000, 8_000_000, 10_000_000, 10_000_000, 10_000_000),
    )


def race(locale: str, groups: int = 6) -> RaceChart:
    rows = tuple(
        GroupRace(
            name=f"第{i + 1}组·猛虎" if locale == "zh-CN" else f"Team {i + 1}",
            total=9_000_000 - i * 130_000,
            per_capita=(9_000_000 - i * 130_000) // (3 + i % 4),
            goal=9_500_000 if i % 3 == 0 else None,
        )
        for i in range(groups)
    )
    return RaceChart(
        locale=locale, unit="CNY", title="双十二冲刺" if locale == "zh-CN" else "Q4 push", groups=rows
    )


def rank(locale: str) -> RankChart:
    rows = (
        RankBar(1, "张伟", 12),
        RankBar(2, "Alice", 9),
        RankBar(3, "李娜", 9, own=True),
        RankBar(4, "王芳", 2),
    )
    title = "本周个人排行 · 单数" if locale == "zh-CN" else "This week · people by deals"
    return RankChart(locale=locale, unit=COUNT, title=title, rows=rows)


def samples() -> dict[str, tuple[Callable[[], bytes], int]]:
    """name -> (render, expected height in pixels); every chart is 800 pixels wide."""
    out: dict[str, tuple[Callable[[], bytes], int]] = {}
    for locale in ("zh-CN", "en"):
        out[f"recap.{locale}"] = (lambda loc=locale: recap_png(recap(loc)), 340)
        out[f"summary.{locale}"] = (lambda loc=locale: summary_png(summary(loc)), 640)
        out[f"race.{locale}"] = (lambda loc=locale: race_png(race(loc)), 286)
        out[f"rank.{locale}"] = (lambda loc=locale: rank_png(rank(loc)), 230)
    # bench P9's size: past 20 groups the bars go without figures
    out["race50.zh-CN"] = (lambda: race_png(race("zh-CN", groups=50)), 1430)
    return out

"""The numbers charts draw come from the same deals, check-ins and goals the posts' text shows."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.services import charts, competitions, directory
from bot.services.scope import TeamScope
from tests.integration.conftest import SHANGHAI


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


async def scope_of(chat) -> tuple:
    session = chat.app.sessionmaker()
    team = await directory.team_by_slug(session, "east")
    return session, TeamScope.of(team, chat.clock.now())


async def test_recap_chart_has_todays_plans_actuals_and_the_days_goal_line(chat) -> None:
    chat.at(at(20, 15))
    await chat.say("alice", "/deal 50000")  # last week: not today's, not this week's
    chat.at(at(23, 9))
    await chat.say("boss", "/goal team 100000 week")
    await chat.say("alice", "/checkin 电话跟进; 20000; 无", dm=True)
    await chat.say("bob", "/checkin 电话跟进; 10000; 无", dm=True)
    await chat.say("carol", "/checkin 电话跟进; 5000; 无", dm=True)
    await chat.say("alice", "/deal 12800")
    await chat.say("alice", "/deal 9000")
    await chat.say("bob", "/deal 6000")
    await chat.say("dave", "/deal 4000")
    session, scope = await scope_of(chat)
    async with session:
        chart = await charts.recap_chart(session, scope)
    assert [(p.name, p.actual, p.planned) for p in chart.people] == [
        ("alice", 2_180_000, 2_000_000),
        ("bob", 600_000, 1_000_000),
        ("dave", 400_000, None),
        ("carol", 0, 500_000),
    ]
    assert (chart.team_actual, chart.team_planned) == (3_180_000, 3_500_000)
    assert chart.goal == 2_000_000  # ¥100,000 over the week's five workdays, none of it in before today
    assert (chart.locale, chart.unit, chart.day) == ("zh-CN", "CNY", "11/23")

    chat.at(at(24, 18))  # Tuesday: what is left of the goal shared over the four days left
    session, scope = await scope_of(chat)
    async with session:
        tuesday = await charts.recap_chart(session, scope)
    assert tuesday.goal == -(-(10_000_000 - 3_180_000) // 4)
    assert tuesday.people == () and tuesday.team_planned is None


async def test_summary_chart_has_each_day_last_week_and_the_goals_pace(chat) -> None:
    chat.at(at(20, 15))
    await chat.say("alice", "/deal 50000")
    chat.at(at(23, 9))
    await chat.say("boss", "/goal team 100000 week")
    for day, who, amount in (
        (23, "alice", 12800),
        (23, "bob", 6000),
        (24, "carol", 15000),
        (26, "dave", 4000),
    ):
        chat.at(at(day, 11))
        await chat.say(who, f"/deal {amount}")
    chat.at(at(26, 17))  # a Thursday 周会 reviews this week
    session, scope = await scope_of(chat)
    async with session:
        chart = await charts.summary_chart(session, scope, "weekly")
    assert chart.days == ("11/23", "11/24", "11/25", "11/26", "11/27", "11/28", "11/29")
    assert chart.daily == (1_880_000, 1_500_000, 0, 400_000)
    assert chart.previous == (0, 0, 0, 0, 5_000_000, 0, 0)
    assert chart.pace == (2_000_000, 4_000_000, 6_000_000, 8_000_000, 10_000_000, 10_000_000, 10_000_000)
    assert chart.period == "11/23–11/29"


@pytest.mark.slow
async def test_race_chart_has_each_groups_total_per_capita_and_goal(chat) -> None:
    chat.at(at(23, 9))
    await chat.say("boss", "/team pk start 周冲刺 2026-11-23..2026-11-27 狼队 虎队")
    await chat.say("boss", "/goal group 狼队 30000 week")
    await chat.say("alice", "/deal 12000")
    await chat.say("bob", "/deal 15000")
    await chat.say("erin", "/deal 1000")
    session, scope = await scope_of(chat)
    async with session:
        (competition,) = await competitions.active_of(session, scope.team)
        board = await competitions.board_of(session, scope.team, competition)
        chart = await charts.race_chart(session, scope, competition.name, board.rows())
    assert chart.title == "周冲刺"
    assert [(g.name, g.total, g.per_capita, g.goal) for g in chart.groups] == [
        ("虎队", 1_600_000, 800_000, None),
        ("狼队", 1_200_000, 600_000, 3_000_000),
    ]


def test_pace_spreads_the_goal_over_workdays_only() -> None:
    class Calendar:
        @staticmethod
        def is_workday(day: date) -> bool:
            return day.weekday() < 5

    class Scope:
        calendar = Calendar()

    days = [date(2026, 11, d) for d in range(23, 30)]
    assert charts.pace(Scope(), days, 1000) == (200, 400, 600, 800, 1000, 1000, 1000)  # type: ignore[arg-type]
    weekend = [date(2026, 11, 28), date(2026, 11, 29)]
    assert charts.pace(Scope(), weekend, 1000) == (500, 1000)  # type: ignore[arg-type]

"""Chart data from the database: the same numbers the posts' text shows, as `bot.charts.model` records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.charts.labels import labels
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
from bot.charts.recap import recap_png
from bot.charts.summary import summary_png
from bot.domain.leaderboard import RankRow, per_capita
from bot.domain.periods import Period, local_day
from bot.messages import Image, OutgoingMessage, png_image
from bot.services import recap, standings, summaries
from bot.services.scope import TeamScope
from bot.storage.orm import Deal, Goal, Team

GOAL_ORDER = ("today", "week", "month", "quarter")  # the nearest goal sets the day's line


def day_label(day: date) -> str:
    return f"{day.month}/{day.day:02d}"


async def recap_chart(session: AsyncSession, scope: TeamScope) -> RecapChart:
    """Today's people (plan from their check-ins, actual from their deals) and the day's goal line."""
    period = scope.period("today")
    roster = await standings.roster(session, scope.team)
    board = await standings.board(session, scope, period, roster)
    planned = await recap.planned_amounts(session, scope.team.id, period)
    people = []
    for row in board.people("amount"):
        member = board.member_by_key(row.standing.key)
        if member is None or (row.value == 0 and member.id not in planned):
            continue
        people.append(PersonDay(member.name, row.standing.amount_minor, planned.get(member.id)))
    return RecapChart(
        locale=scope.locale,
        unit=scope.team.currency,
        day=day_label(scope.today),
        people=tuple(people),
        team_actual=board.team_amount,
        team_planned=sum(planned.values()) if planned else None,
        goal=await day_goal(session, scope, roster, board.team_amount),
    )


async def day_goal(
    session: AsyncSession, scope: TeamScope, roster: standings.Roster, today_amount: int
) -> int | None:
    """The team's amount goal for today: a day goal as set, else what is left of the week's or month's
    goal at the start of today shared over the workdays left (today included)."""
    goals = [
        g
        for g in await standings.goals_covering(session, scope)
        if g.subject == "team" and g.metric == "amount" and g.period in GOAL_ORDER
    ]
    if not goals:
        return None
    goal = min(goals, key=lambda g: GOAL_ORDER.index(g.period))
    if goal.period == "today":
        return goal.target
    wider = await standings.board(session, scope, scope.period(goal.period, goal.period_start), roster)
    before_today = wider.team_amount - today_amount
    days_left = scope.calendar.count_workdays(scope.today, goal.period_end)
    if days_left <= 0:
        return None
    return max(-(-(goal.target - before_today) // days_left), 0)


async def daily_totals(session: AsyncSession, scope: TeamScope, period: Period) -> dict[date, int]:
    """Live deals' amounts by local day over a period (one query, bounded by the period)."""
    start, end = period.utc_bounds(scope.team.timezone)
    rows = await session.execute(
        select(Deal.closed_at, Deal.amount_minor).where(
            Deal.team_id == scope.team.id,
            Deal.closed_at >= start,
            Deal.closed_at < end,
            Deal.voided_at.is_(None),
        )
    )
    totals: dict[date, int] = {}
    for closed_at, amount in rows:
        day = local_day(closed_at, scope.team.timezone)
        totals[day] = totals.get(day, 0) + int(amount)
    return totals


async def summary_chart(session: AsyncSession, scope: TeamScope, kind: str) -> SummaryChart:
    """The reviewed period's daily totals (up to today) against the period before and the goal's pace."""
    period = summaries.summary_period(kind, scope.today)
    before = period.previous()
    days = list(period.days())
    shown = [d for d in days if d <= scope.today]
    this = await daily_totals(session, scope, period)
    last = await daily_totals(session, scope, before)
    goal = await session.scalar(
        select(Goal).where(
            Goal.team_id == scope.team.id,
            Goal.subject == "team",
            Goal.metric == "amount",
            Goal.period == period.name.value,
            Goal.period_start == period.start,
        )
    )
    return SummaryChart(
        locale=scope.locale,
        unit=scope.team.currency,
        kind=kind,
        period=f"{day_label(period.start)}–{day_label(period.end)}",
        days=tuple(day_label(d) for d in days),
        daily=tuple(this.get(d, 0) for d in shown),
        previous=tuple(last.get(d, 0) for d in before.days()),
        pace=pace(scope, days, goal.target) if goal else None,
    )


def pace(scope: TeamScope, days: list[date], target: int) -> tuple[int, ...]:
    """How much of `target` should be in by the end of each day, spread evenly over the workdays
    (over every day when the period has none)."""
    counts = [scope.calendar.is_workday(d) for d in days]
    if not any(counts):
        counts = [True] * len(days)
    done, out = 0, []
    for counted in counts:
        done += counted
        out.append(target * done // len([c for c in counts if c]))
    return tuple(out)


async def race_chart(session: AsyncSession, scope: TeamScope, name: str, rows: list[RankRow]) -> RaceChart:
    """A competition's groups in rank order, total and per capita, each with its amount goal if set."""
    goals = {
        g.group_id: g.target
        for g in await standings.goals_covering(session, scope)
        if g.group_id is not None and g.member_id is None and g.metric == "amount"
    }
    groups = []
    for row in rows:
        group_id = int(row.standing.key.split(":", 1)[1])
        groups.append(
            GroupRace(
                name=row.standing.name,
                total=row.standing.amount_minor,
                per_capita=per_capita(row.standing.amount_minor, row.standing.members),
                goal=goals.get(group_id),
            )
        )
    return RaceChart(locale=scope.locale, unit=scope.team.currency, title=name, groups=tuple(groups))


def rank_chart(
    scope: TeamScope, title: str, metric: str, rows: list[RankRow], own_key: str | None
) -> RankChart:
    bars = tuple(
        RankBar(rank=r.rank, name=r.standing.name, value=r.value, own=r.standing.key == own_key) for r in rows
    )
    return RankChart(
        locale=scope.locale, unit=COUNT if metric == "deals" else scope.team.currency, title=title, rows=bars
    )


# ----- pictures in posts -----------------------------------------------------------------------------


def images_on(team: Team) -> bool:
    """`[images] enabled` as seeded on the team (default on)."""
    return bool((team.settings or {}).get("images", True))


async def picture(draw: Callable[[Any], bytes], data: Any, alt: str) -> Image:
    """The chart as an Image block, drawn on a thread (a chart takes a few hundred ms)."""
    return png_image(await asyncio.to_thread(draw, data), alt)


def with_picture(message: OutgoingMessage, block: Image) -> OutgoingMessage:
    """The message with the chart after its text (the text stays complete without it)."""
    return replace(message, blocks=(*message.blocks, block))


async def recap_picture(session: AsyncSession, scope: TeamScope) -> Image:
    data = await recap_chart(session, scope)
    return await picture(recap_png, data, labels(data.locale)["recap_title"].format(day=data.day))


async def summary_picture(session: AsyncSession, scope: TeamScope, kind: str) -> Image:
    data = await summary_chart(session, scope, kind)
    return await picture(summary_png, data, labels(data.locale)[f"{kind}_title"].format(period=data.period))


async def race_picture(session: AsyncSession, scope: TeamScope, name: str, rows: list[RankRow]) -> Image:
    data = await race_chart(session, scope, name, rows)
    return await picture(race_png, data, labels(data.locale)["race_title"].format(name=name))

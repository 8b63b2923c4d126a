"""What a TV board shows: today's people, this week's 小组PK race, the team goal and its pace, and the
winners of a PK that ended today — as names and amounts only.

A board hangs in an office where visitors see it: nothing here carries an email, a mobile, an employee
code, a check-in answer or a deal's customer. Amounts arrive formatted in the team's locale and currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.leaderboard import RankRow, per_capita
from bot.domain.money import CURRENCIES
from bot.domain.periods import PeriodName, local_day, period_containing
from bot.rendering.engine import Renderer
from bot.services import competitions, standings, views
from bot.services.deals import ANNOUNCE_WITHIN
from bot.services.scope import TeamScope
from bot.storage.orm import Competition, Deal, Member, Team

TOP_PEOPLE = 10


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A board as of one read: `view` is what the page gets; the rest is for the deal events."""

    view: dict[str, Any]
    scope: TeamScope
    total_minor: int
    deals: int


@dataclass(frozen=True, slots=True)
class SeenDeal:
    """A deal as the board's poller reads it: enough for a 喜报 (name and amount), nothing else."""

    id: int
    name: str
    amount_minor: int
    closed_at: datetime
    created_at: datetime
    voided: bool

    def celebrated(self, now: datetime) -> bool:
        """Shown as a 喜报: live, and closed within a day of being recorded (as the channel's 喜报)."""
        return (
            not self.voided
            and self.created_at - self.closed_at <= ANNOUNCE_WITHIN
            and (now - self.created_at <= ANNOUNCE_WITHIN)
        )


async def latest_deal_id(session: AsyncSession, team_id: int) -> int:
    return await session.scalar(select(func.max(Deal.id)).where(Deal.team_id == team_id)) or 0


async def deals_after(session: AsyncSession, team_id: int, after_id: int, limit: int = 500) -> list[SeenDeal]:
    """The team's deals with an id above `after_id`, oldest first, with their member's name."""
    rows = await session.execute(
        select(Deal.id, Member.name, Deal.amount_minor, Deal.closed_at, Deal.created_at, Deal.voided_at)
        .join(Member, Member.id == Deal.member_id)
        .where(Deal.team_id == team_id, Deal.id > after_id)
        .order_by(Deal.id)
        .limit(limit)
    )
    return [
        SeenDeal(i, name, amount, closed, created, voided is not None)
        for i, name, amount, closed, created, voided in rows
    ]


def deal_view(snapshot: Snapshot, deal: SeenDeal, total_minor: int) -> dict[str, Any]:
    """A 喜报 on the board: who, how much, and the team's total today with it."""
    money = snapshot.scope.money
    return {
        "deal": deal.id,
        "name": deal.name,
        "amount": money(deal.amount_minor),
        "total": money(total_minor),
    }


def counts_today(snapshot: Snapshot, deal: SeenDeal) -> bool:
    return not deal.voided and local_day(deal.closed_at, snapshot.scope.team.timezone) == snapshot.scope.today


async def snapshot(session: AsyncSession, team: Team, now: datetime, renderer: Renderer) -> Snapshot:
    scope = TeamScope.of(team, now)
    roster = await standings.roster(session, team)
    today = await standings.board(session, scope, scope.period("today"), roster)
    view: dict[str, Any] = {
        "team": team.name,
        "locale": renderer.resolve_locale(team.locale),
        "day": scope.today.isoformat(),
        "timezone": team.timezone,
        "weekday": scope.today.isoweekday(),
        "total": scope.money(today.team_amount),
        "deals": today.team_deals,
        "people": _people(scope, today.people()),
        "race": await _race(session, scope, roster),
        "goal": await _goal(session, scope, roster, renderer),
        "winners": await _winners(session, scope),
    }
    return Snapshot(view, scope, today.team_amount, today.team_deals)


def _share(value: int, best: int) -> float:
    return round(value / best, 4) if best > 0 and value > 0 else 0.0


def _people(scope: TeamScope, rows: list[RankRow]) -> list[dict[str, Any]]:
    sold = [row for row in rows if row.standing.deals > 0 or row.standing.amount_minor > 0][:TOP_PEOPLE]
    best = sold[0].standing.amount_minor if sold else 0
    return [
        {
            "rank": row.rank,
            "name": row.standing.name,
            "amount": scope.money(row.standing.amount_minor),
            "deals": row.standing.deals,
            "share": _share(row.standing.amount_minor, best),
        }
        for row in sold
    ]


async def _race(session: AsyncSession, scope: TeamScope, roster: standings.Roster) -> dict[str, Any]:
    """The 小组PK running today (the one ending first), else the groups' race this week by amount."""
    running = [
        c
        for c in await competitions.active_of(session, scope.team)
        if c.start_day <= scope.today <= c.end_day
    ]
    if running:
        competition = running[0]
        board = await competitions.board_of(session, scope.team, competition)
        rows = board.rows()
        info = competitions.competition_view(competition, scope.today)
        return {
            "name": competition.name,
            "metric": competition.metric,
            "days_left": info["days_left"],
            "rows": _race_rows(scope, rows, competition.metric, board.slogan_of),
        }
    week = await standings.board(session, scope, scope.period("week"), roster)
    slogans = {f"group:{g.id}": g.slogan for g in roster.groups}
    rows = week.group_rows("amount")
    return {
        "name": None,
        "metric": "amount",
        "days_left": None,
        "rows": _race_rows(scope, rows, "amount", slogans.get),
    }


def _race_rows(scope: TeamScope, rows: list[RankRow], metric: str, slogan_of: Any) -> list[dict[str, Any]]:
    best = rows[0].value if rows else 0

    def shown(value: int) -> str:
        return str(value) if metric == "deals" else _whole(scope, value)

    return [
        {
            "rank": row.rank,
            "name": row.standing.name,
            "slogan": slogan_of(row.standing.key) or "",
            "value": shown(row.value),
            "total": scope.money(row.standing.amount_minor),
            "deals": row.standing.deals,
            "per_capita": _whole(scope, per_capita(row.standing.amount_minor, row.standing.members)),
            "share": _share(row.value, best),
        }
        for row in rows
    ]


async def _goal(
    session: AsyncSession, scope: TeamScope, roster: standings.Roster, renderer: Renderer
) -> dict[str, Any] | None:
    """The team's goal covering today (amount before deal counts, the shortest period first), with the
    pace it needs per workday left; None when the team has set none."""
    team_goals = [g for g in await standings.goals_covering(session, scope) if g.subject.startswith("team")]
    if not team_goals:
        return None
    order = {name: i for i, name in enumerate(("today", "week", "month", "quarter"))}
    goal = min(team_goals, key=lambda g: (g.metric != "amount", order.get(g.period, 9), g.id))
    period = period_containing(PeriodName(goal.period), goal.period_start)
    board = await standings.board(session, scope, period, roster)
    view = views.goal_view(renderer, scope, goal, board)
    view["ratio"] = round(min(float(view["ratio"]), 9.99), 4)
    actual = board.actual_for(goal)
    view["remaining"] = views.format_goal_value(scope, goal.metric, max(goal.target - actual, 0))
    pace = standings.progress_of(goal, actual, scope).daily_pace
    if pace is not None and goal.metric == "amount":  # what it takes each day: rounded up, not down
        unit = 10 ** CURRENCIES[scope.team.currency][0]
        view["pace"] = scope.money(-(-pace // unit) * unit)
    view["period"] = goal.period
    return view


async def _winners(session: AsyncSession, scope: TeamScope) -> dict[str, Any] | None:
    """The PK whose result came out today (the latest), with its winning groups: shown all day."""
    for competition in await competitions.recent_ended(session, scope.team):
        if competition.status != competitions.FINISHED or not _ended_today(competition, scope):
            continue
        board = await competitions.board_of(session, scope.team, competition)
        rows = board.rows()
        first = competitions.winners(rows)
        if not first:
            continue
        return {
            "name": competition.name,
            "groups": [{"name": w.standing.name, "slogan": board.slogan_of(w.standing.key)} for w in first],
            "value": scope.money(first[0].standing.amount_minor),
            "stake": competition.stake,
            "rows": _race_rows(scope, rows, competition.metric, board.slogan_of)[:5],
        }
    return None


def _whole(scope: TeamScope, minor: int) -> str:
    """An amount in whole currency units (half up): cents are noise on a screen across the room."""
    unit = 10 ** CURRENCIES[scope.team.currency][0]
    return scope.money((minor + unit // 2) // unit * unit)


def _ended_today(competition: Competition, scope: TeamScope) -> bool:
    ended = competition.ended_at
    if ended is None:
        return False
    return local_day(ended, scope.team.timezone) == scope.today

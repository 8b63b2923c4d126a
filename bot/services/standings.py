"""Leaderboards and goal progress for a team and period, built from the period's deals only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.goals import GoalProgress, goal_progress
from bot.domain.leaderboard import Metric, RankRow, rank
from bot.domain.periods import Period, PeriodName, period_containing
from bot.services import directory, stats
from bot.services.scope import TeamScope
from bot.storage.orm import Goal, Group, Member


@dataclass(slots=True)
class Board:
    """Everything a period's numbers say about a team, computed with one deals query."""

    scope: TeamScope
    period: Period
    members: list[Member]
    groups: list[Group]
    totals: dict[int, tuple[int, int]]

    @property
    def team_amount(self) -> int:
        return sum(a for a, _ in self.totals.values())

    @property
    def team_deals(self) -> int:
        return sum(d for _, d in self.totals.values())

    def people(self, metric: Metric = "amount") -> list[RankRow]:
        return rank(stats.people_standings(self.members, self.totals), metric)

    def group_rows(self, metric: Metric = "amount") -> list[RankRow]:
        return rank(stats.group_standings(self.groups, self.members, self.totals), metric)

    def member_by_key(self, key: str) -> Member | None:
        return next((m for m in self.members if f"member:{m.id}" == key), None)

    def group_by_key(self, key: str) -> Group | None:
        return next((g for g in self.groups if f"group:{g.id}" == key), None)

    def actual_for(self, goal: Goal) -> int:
        """What counts toward a goal: the team's, the group's current members' or one member's deals."""
        index = 1 if goal.metric == "deals" else 0
        if goal.member_id is not None:
            return self.totals.get(goal.member_id, (0, 0))[index]
        if goal.group_id is not None:
            ids = {m.id for m in self.members if m.group_id == goal.group_id}
            return sum(v[index] for k, v in self.totals.items() if k in ids)
        return sum(v[index] for v in self.totals.values())


async def board(session: AsyncSession, scope: TeamScope, period: Period) -> Board:
    start, end = period.utc_bounds(scope.team.timezone)
    totals = await stats.member_totals(session, scope.team.id, start, end)
    members = await directory.active_members(session, scope.team)
    groups = await directory.groups_of(session, scope.team)
    return Board(scope=scope, period=period, members=members, groups=groups, totals=totals)


async def goals_covering(session: AsyncSession, scope: TeamScope) -> list[Goal]:
    """Goals whose period contains today, team first, then groups, then members."""
    today = scope.today
    rows = await session.scalars(
        select(Goal).where(
            Goal.team_id == scope.team.id, Goal.period_start <= today, Goal.period_end >= today
        )
    )
    order = {"team": 0, "group": 1, "member": 2}
    return sorted(rows, key=lambda g: (order[g.subject.split(":")[0]], g.period_start, g.id))


def progress_of(goal: Goal, actual: int, scope: TeamScope) -> GoalProgress:
    period = period_containing(PeriodName(goal.period), goal.period_start)
    return goal_progress(goal.target, actual, period, scope.today, scope.calendar)

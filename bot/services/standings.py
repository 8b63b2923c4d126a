"""Leaderboards and goal progress for a team and period, built from the period's deals only.

A post shows several boards (the day, the week, the month, each goal's period) over one roster: load it
once with `roster()` and pass it to each `board()`. Members and groups are read as plain rows, not ORM
objects: boards only read them, and a 500-person team loads several times faster that way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.goals import GoalProgress, goal_progress
from bot.domain.leaderboard import Metric, RankRow, Standing, rank
from bot.domain.periods import Period, PeriodName, period_containing
from bot.services import stats
from bot.services.scope import TeamScope
from bot.storage.orm import Deal, Goal, Group, Member, Team


@dataclass(frozen=True, slots=True)
class TeamMember:
    """An active member as boards and posts read them (the attributes they use of a Member)."""

    id: int
    user_id: str
    name: str
    group_id: int | None


@dataclass(frozen=True, slots=True)
class TeamGroup:
    id: int
    name: str
    slogan: str


@dataclass(frozen=True, slots=True)
class Roster:
    """A team's active members (by id) and its groups (by id), as of one read; shared through the
    process's RosterCache, hence tuples."""

    members: tuple[TeamMember, ...]
    groups: tuple[TeamGroup, ...]


ROSTER_CACHE = "teambeat.roster_cache"
"""`session.info` key of the process's `RosterCache`, given to its sessions by `build_app`."""


class RosterCache:
    """Rosters as read under their team's `roster_version`, which the database changes with every change
    to the team's members or groups (migration 0009). A roster is read again only when that token
    differs; a 200-person team's roster took over a millisecond of every /rank to read."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._rosters: OrderedDict[int, tuple[str, Roster]] = OrderedDict()

    def get(self, team_id: int, version: str) -> Roster | None:
        found = self._rosters.get(team_id)
        if found is None or found[0] != version:
            return None
        self._rosters.move_to_end(team_id)
        return found[1]

    def put(self, team_id: int, version: str, roster: Roster) -> None:
        self._rosters[team_id] = (version, roster)
        self._rosters.move_to_end(team_id)
        while len(self._rosters) > self._capacity:
            self._rosters.popitem(last=False)


@cache
def _roster_queries() -> tuple[Select, Select, Select]:
    """Built once: every /rank and post runs them, and building them took about as long as running them.
    On the tables, not the entities: a plain Core statement skips the ORM's part of every execution."""
    teams, members, groups = Team.__table__.c, Member.__table__.c, Group.__table__.c
    version = select(teams.roster_version).where(teams.id == bindparam("team_id"))
    active = (
        select(members.id, members.user_id, members.name, members.group_id)
        .where(members.team_id == bindparam("team_id"), members.active.is_(True))
        .order_by(members.id)
    )
    named = (
        select(groups.id, groups.name, groups.slogan)
        .where(groups.team_id == bindparam("team_id"))
        .order_by(groups.id)
    )
    return version, active, named


async def roster(session: AsyncSession, team: Team) -> Roster:
    """The team's active members and groups; from the process's cache while the team's roster version is
    the one it was read under. The version is read first, so what is read after it is never older."""
    version_query, members_query, groups_query = _roster_queries()
    parameters = {"team_id": team.id}
    cache: RosterCache | None = session.info.get(ROSTER_CACHE)
    version = ""
    if cache is not None:
        version = await session.scalar(version_query, parameters) or ""
        found = cache.get(team.id, version)
        if found is not None:
            return found
    members = await session.execute(members_query, parameters)
    groups = await session.execute(groups_query, parameters)
    found = Roster(tuple(TeamMember(*row) for row in members), tuple(TeamGroup(*row) for row in groups))
    if cache is not None:
        cache.put(team.id, version, found)
    return found


@dataclass(slots=True)
class Board:
    """Everything a period's numbers say about a team, computed with one deals query."""

    scope: TeamScope
    period: Period
    members: Sequence[TeamMember]
    groups: Sequence[TeamGroup]
    totals: dict[int, tuple[int, int]]
    _members_by_key: dict[str, TeamMember] | None = field(default=None, repr=False, compare=False)
    _groups_by_key: dict[str, TeamGroup] | None = field(default=None, repr=False, compare=False)
    _rows: dict[tuple[str, Metric], list[RankRow]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def team_amount(self) -> int:
        return sum(a for a, _ in self.totals.values())

    @property
    def team_deals(self) -> int:
        return sum(d for _, d in self.totals.values())

    def people(self, metric: Metric = "amount") -> list[RankRow]:
        """Ranked once per metric: one announcement reads the day's board several times, and ranking
        500 people took over a millisecond each time. The list is shared: callers only read it."""
        found = self._rows.get(("people", metric))
        if found is None:
            found = self._rows[("people", metric)] = rank(self.people_standings(), metric)
        return found

    def leaders(self) -> list[RankRow]:
        """The rows of `people("amount")` with an amount above 0 (what posts show), ranking only those
        members: a row's rank and gap depend only on the rows above it, all of them above 0 too. A
        500-person board has a few dozen of them on most days."""
        found = self._rows.get(("leaders", "amount"))
        if found is None:
            none = (0, 0)
            selling = [m for m in self.members if self.totals.get(m.id, none)[0] > 0]
            found = self._rows[("leaders", "amount")] = rank(
                stats.people_standings(selling, self.totals), "amount"
            )
        return found

    def people_top(self, n: int) -> list[RankRow]:
        """`people("amount")[:n]`, from `leaders` when there are that many."""
        leaders = self.leaders()
        return leaders[:n] if len(leaders) >= n else self.people("amount")[:n]

    def group_rows(self, metric: Metric = "amount") -> list[RankRow]:
        found = self._rows.get(("groups", metric))
        if found is None:
            found = self._rows[("groups", metric)] = rank(self.group_standings(), metric)
        return found

    def people_standings(self) -> list[Standing]:
        return stats.people_standings(self.members, self.totals)

    def group_standings(self) -> list[Standing]:
        return stats.group_standings(self.groups, self.members, self.totals)

    def without(self, deal: Deal) -> Board:
        """The same board as it stood before `deal` (for what-changed questions)."""
        start, end = self.period.utc_bounds(self.scope.team.timezone)
        if not start <= deal.closed_at < end:
            return self
        totals = dict(self.totals)
        amount, count = totals.get(deal.member_id, (0, 0))
        totals[deal.member_id] = (amount - deal.amount_minor, count - 1)
        return Board(self.scope, self.period, self.members, self.groups, totals)

    def member_by_key(self, key: str) -> TeamMember | None:
        if self._members_by_key is None:
            self._members_by_key = {f"member:{m.id}": m for m in self.members}
        return self._members_by_key.get(key)

    def group_by_key(self, key: str) -> TeamGroup | None:
        if self._groups_by_key is None:
            self._groups_by_key = {f"group:{g.id}": g for g in self.groups}
        return self._groups_by_key.get(key)

    def actual_for(self, goal: Goal) -> int:
        """What counts toward a goal: the team's, the group's current members' or one member's deals."""
        index = 1 if goal.metric == "deals" else 0
        if goal.member_id is not None:
            return self.totals.get(goal.member_id, (0, 0))[index]
        if goal.group_id is not None:
            ids = {m.id for m in self.members if m.group_id == goal.group_id}
            return sum(v[index] for k, v in self.totals.items() if k in ids)
        return sum(v[index] for v in self.totals.values())


async def board(
    session: AsyncSession,
    scope: TeamScope,
    period: Period,
    team_roster: Roster | None = None,
    *,
    announcing: int | None = None,
) -> Board:
    """The period's board; pass the roster when building several boards for one post, and the deal
    being announced to leave out the deals still waiting to be announced after it."""
    start, end = period.utc_bounds(scope.team.timezone)
    totals = await stats.member_totals(session, scope.team.id, start, end, announcing=announcing)
    if team_roster is None:
        team_roster = await roster(session, scope.team)
    return Board(scope, period, team_roster.members, team_roster.groups, totals)


@cache
def _goals_query() -> Select:
    """Built once: every announcement and several commands run it."""
    today = bindparam("today")
    return select(Goal).where(
        Goal.team_id == bindparam("team_id"), Goal.period_start <= today, Goal.period_end >= today
    )


async def goals_covering(session: AsyncSession, scope: TeamScope) -> list[Goal]:
    """Goals whose period contains today, team first, then groups, then members."""
    rows = await session.scalars(_goals_query(), {"team_id": scope.team.id, "today": scope.today})
    order = {"team": 0, "group": 1, "member": 2}
    return sorted(rows, key=lambda g: (order[g.subject.split(":")[0]], g.period_start, g.id))


def progress_of(goal: Goal, actual: int, scope: TeamScope) -> GoalProgress:
    period = period_containing(PeriodName(goal.period), goal.period_start)
    return goal_progress(goal.target, actual, period, scope.today, scope.calendar)

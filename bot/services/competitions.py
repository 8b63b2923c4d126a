"""Named group competitions (小组PK): their standings, the posts when the lead changes, and the result.

A competition ranks its groups over its own range of local days by one metric (total amount by
default, per capita or deal count), always showing the other figures beside it. Like every board,
a group's numbers are those of its current members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import Post, enqueue
from bot.domain.leaderboard import Metric, RankRow, per_capita, rank, top3_changes
from bot.domain.periods import day_bounds, local_day
from bot.messages import OutgoingMessage
from bot.rendering.engine import Renderer
from bot.services import charts, directory, stats
from bot.services.directory import team_channel
from bot.services.scope import TeamScope
from bot.services.standings import TeamMember
from bot.storage.orm import Competition, Deal, Group, Member, OutboxRow, Team
from bot.storage.uow import UnitOfWork

ACTIVE = "active"
FINISHED = "finished"
STOPPED = "stopped"
DEFAULT_WINDOW_MINUTES = 10


@dataclass(slots=True)
class CompetitionBoard:
    """A competition's groups ranked over its days, with the members and totals behind the ranking."""

    competition: Competition
    groups: list[Group]
    members: list[Member]
    totals: dict[int, tuple[int, int]]

    def rows(self, totals: dict[int, tuple[int, int]] | None = None) -> list[RankRow]:
        chosen = self.totals if totals is None else totals
        metric: Metric = self.competition.metric  # type: ignore[assignment]
        return rank(stats.group_standings(self.groups, self.members, chosen), metric)

    def slogan_of(self, key: str) -> str:
        return next((g.slogan for g in self.groups if f"group:{g.id}" == key), "")


# ----- reading ---------------------------------------------------------------------------------------


async def active_of(session: AsyncSession, team: Team) -> list[Competition]:
    """The team's running and upcoming competitions, the one ending first first."""
    rows = await session.scalars(
        select(Competition)
        .where(Competition.team_id == team.id, Competition.status == ACTIVE)
        .order_by(Competition.end_day, Competition.id)
    )
    return list(rows)


async def recent_ended(session: AsyncSession, team: Team, limit: int = 3) -> list[Competition]:
    rows = await session.scalars(
        select(Competition)
        .where(Competition.team_id == team.id, Competition.status != ACTIVE)
        .order_by(Competition.end_day.desc(), Competition.id.desc())
        .limit(limit)
    )
    return list(rows)


async def named(session: AsyncSession, team: Team, name: str) -> Competition | None:
    """The competition called `name` (any case): the active one if any, else the latest that ended."""
    rows = await session.scalars(
        select(Competition)
        .where(Competition.team_id == team.id, func.lower(Competition.name) == name.lower())
        .order_by(Competition.end_day.desc(), Competition.id.desc())
    )
    matches = list(rows)
    return next((c for c in matches if c.status == ACTIVE), matches[0] if matches else None)


async def board_of(session: AsyncSession, team: Team, competition: Competition) -> CompetitionBoard:
    """One deals query over the competition's days; groups in the order the leader named them."""
    start, end = day_bounds(competition.start_day, competition.end_day, team.timezone)
    totals = await stats.member_totals(session, team.id, start, end)
    members = await directory.active_members(session, team)
    by_id = {g.id: g for g in await directory.groups_of(session, team)}
    groups = [by_id[i] for i in competition.group_ids if i in by_id]
    return CompetitionBoard(competition=competition, groups=groups, members=members, totals=totals)


# ----- views -----------------------------------------------------------------------------------------


def competition_view(competition: Competition, today: date) -> dict[str, Any]:
    """Name, dates and where today falls: `starts_in` days before it, `days_left` counting today."""
    return {
        "name": competition.name,
        "start": competition.start_day.isoformat(),
        "end": competition.end_day.isoformat(),
        "metric": competition.metric,
        "status": competition.status,
        "stake": competition.stake or "",
        "starts_in": max((competition.start_day - today).days, 0),
        "days_left": max((competition.end_day - today).days + 1, 0),
    }


def _shown(scope: TeamScope, metric: str, value: int) -> str:
    return str(value) if metric == "deals" else scope.money(value)


def row_views(scope: TeamScope, board: CompetitionBoard, rows: list[RankRow]) -> list[dict[str, Any]]:
    """Each group with its rank, slogan, total, deals, per capita and its gap to the leader."""
    metric = board.competition.metric
    best = rows[0].value if rows else 0
    return [
        {
            "rank": row.rank,
            "name": row.standing.name,
            "slogan": board.slogan_of(row.standing.key),
            "value": _shown(scope, metric, row.value),
            "total": scope.money(row.standing.amount_minor),
            "deals": row.standing.deals,
            "members": row.standing.members,
            "per_capita": scope.money(per_capita(row.standing.amount_minor, row.standing.members)),
            "gap": _shown(scope, metric, best - row.value) if row.rank > 1 else None,
            "key": row.standing.key,
        }
        for row in rows
    ]


def winners(rows: list[RankRow]) -> list[RankRow]:
    """Everyone sharing first place, or nobody when no competing group sold anything."""
    return [row for row in rows if row.rank == 1 and row.value > 0]


# ----- writing ---------------------------------------------------------------------------------------


def create(
    session: AsyncSession,
    team: Team,
    *,
    name: str,
    start: date,
    end: date,
    groups: list[Group],
    metric: str,
    by: Member | None,
    now: datetime,
    stake: str = "",
) -> Competition:
    competition = Competition(
        team_id=team.id,
        name=name,
        start_day=start,
        end_day=end,
        group_ids=[g.id for g in groups],
        metric=metric,
        status=ACTIVE,
        created_by_id=by.id if by else None,
        created_at=now,
        stake=stake,
    )
    session.add(competition)
    return competition


def stop(competition: Competition, now: datetime) -> None:
    """Called off by a leader: no result is posted."""
    competition.status = STOPPED
    competition.ended_at = now


# ----- posts -----------------------------------------------------------------------------------------


def _announcements(team: Team) -> dict[str, Any]:
    return (team.settings or {}).get("announcements") or {}


async def _message(
    uow: UnitOfWork,
    renderer: Renderer,
    team: Team,
    template: str,
    now: datetime,
    race: tuple[str, list[RankRow]] | None,
    **context,
) -> OutgoingMessage:
    """The post's message; `race` (name, ranked rows) adds the race chart where images are on."""
    message = renderer.render(template, team.locale, **context)
    if race is not None and charts.images_on(team):
        scope = TeamScope.of(team, now)
        message = charts.with_picture(message, await charts.race_picture(uow.session, scope, *race))
    return message


async def _post(
    uow: UnitOfWork,
    renderer: Renderer,
    team: Team,
    template: str,
    key: str,
    now: datetime,
    *,
    race: tuple[str, list[RankRow]] | None = None,
    **context,
) -> bool:
    """Enqueue the post once per key."""
    message = await _message(uow, renderer, team, template, now, race, **context)
    return await enqueue(
        uow.session, channel=team_channel(team), message=message, dedupe_key=key, now=now, team_id=team.id
    )


async def standings_posts(
    uow: UnitOfWork,
    renderer: Renderer,
    team: Team,
    deal: Deal,
    now: datetime,
    member: Member | TeamMember | None = None,
) -> list[Post]:
    """The standings boards (posts) of each running competition the deal's group is in:
    read and drawn only, nothing written, so a caller can draw before its first write.

    The deal counts on its own local day. Each is a state of the competition's board of today (board
    key `pk:<id>:<today>`), one message edited in place where the platform can edit. It is news — posted
    anew where the platform cannot edit, with the race chart — when the deal reordered the top places,
    at most once per competition per `rank_window_minutes` (dedupe key `pk:<id>:<slot>`); otherwise it
    is a quiet refresh. All follow the team's `rank_changes` switch. `member`: the deal's, when the
    caller has it already.
    """
    if deal.voided_at is not None:
        return []
    session = uow.session
    window = int(_announcements(team).get("rank_window_minutes", DEFAULT_WINDOW_MINUTES))
    slot = int(now.timestamp() // (max(window, 1) * 60))
    scope = TeamScope.of(team, now)
    posts = []
    for competition, counted in await _counting(session, team, deal, member):
        board = await board_of(session, team, competition)
        before_totals = dict(board.totals)
        amount, count = before_totals.get(counted.id, (0, 0))
        before_totals[counted.id] = (amount - deal.amount_minor, count - 1)
        changes = top3_changes(board.rows(before_totals), board.rows())
        news_key = f"pk:{competition.id}:{slot}"
        news = bool(changes) and not await session.scalar(
            select(OutboxRow.id).where(OutboxRow.dedupe_key == news_key)
        )
        key = news_key if news else f"pk:{competition.id}:{scope.today}:deal:{deal.id}"
        posts.append(await _board_post(uow, renderer, scope, board, changes, key, news=news))
    return posts


async def corrected_boards(
    uow: UnitOfWork, renderer: Renderer, team: Team, deal: Deal, now: datetime
) -> list[Post]:
    """After `deal` was voided: a quiet state of each of today's boards already posted that counted it,
    so an edited board never goes on showing a deal that no longer counts (where boards are new posts,
    the correction itself says it)."""
    session = uow.session
    scope = TeamScope.of(team, now)
    posts = []
    for competition, _ in await _counting(session, team, deal):
        board_key = f"pk:{competition.id}:{scope.today}"
        posted = await session.scalar(select(OutboxRow.id).where(OutboxRow.board_key == board_key).limit(1))
        if posted is None:
            continue  # no board today yet: the next deal posts it, without this one
        board = await board_of(session, team, competition)
        key = f"{board_key}:void:{deal.id}"
        posts.append(await _board_post(uow, renderer, scope, board, [], key, news=False))
    return posts


async def _counting(
    session: AsyncSession, team: Team, deal: Deal, member: Member | TeamMember | None = None
) -> list[tuple[Competition, Member | TeamMember]]:
    """The running competitions the deal counts in (its member's group competes, on the deal's local
    day), with that member; none when the team switched rank posts off."""
    if not _announcements(team).get("rank_changes", True):
        return []
    if member is None:
        member = await session.get(Member, deal.member_id)
    if member is None or member.group_id is None:
        return []
    day = local_day(deal.closed_at, team.timezone)
    running = await session.scalars(_running_query(), {"team_id": team.id, "day": day})
    return [(c, member) for c in running if member.group_id in c.group_ids]


@cache
def _running_query() -> Select:
    """Built once: it runs with every deal."""
    day = bindparam("day")
    return select(Competition).where(
        Competition.team_id == bindparam("team_id"),
        Competition.status == ACTIVE,
        Competition.start_day <= day,
        Competition.end_day >= day,
    )


async def _board_post(
    uow: UnitOfWork,
    renderer: Renderer,
    scope: TeamScope,
    board: CompetitionBoard,
    changes: list[tuple[str, str, int]],
    key: str,
    *,
    news: bool,
) -> Post:
    """One state of a competition's board of today."""
    team, competition, rows = scope.team, board.competition, board.rows()
    names = {row.standing.key: row.standing.name for row in rows}
    message = await _message(
        uow,
        renderer,
        team,
        "pk_standing",
        scope.now,
        (competition.name, rows) if news else None,  # a refresh is text only (no chart drawn)
        competition=competition_view(competition, scope.today),
        changes=[{"overtaker": names[a], "overtaken": names[b], "rank": r} for a, b, r in changes],
        rows=row_views(scope, board, rows),
    )
    return {
        "channel": team_channel(team),
        "message": message,
        "dedupe_key": key,
        "now": scope.now,
        "team_id": team.id,
        "board": f"pk:{competition.id}:{scope.today}",
        "quiet": not news,
    }


async def finish_due(uow: UnitOfWork, renderer: Renderer, now: datetime) -> int:
    """Post the result of every active competition whose last day is over in its team's timezone.

    Each result is posted once (dedupe key `pk_result:<id>`) and the competition becomes `finished`.
    Rows are locked (skipping those another replica holds) on PostgreSQL. Returns how many finished.
    """
    session = uow.session
    # No timezone is ahead of UTC by a day or more, so a competition over anywhere ended by UTC today.
    due = await session.scalars(
        select(Competition)
        .where(Competition.status == ACTIVE, Competition.end_day <= now.astimezone(UTC).date())
        .order_by(Competition.id)
        .with_for_update(skip_locked=True)
    )
    finished = 0
    for competition in list(due):
        team = await session.get(Team, competition.team_id)
        if team is None:
            continue
        scope = TeamScope.of(team, now)
        if competition.end_day >= scope.today:
            continue
        board = await board_of(session, team, competition)
        rows = board.rows()
        first = winners(rows)
        await _post(
            uow,
            renderer,
            team,
            "pk_result",
            f"pk_result:{competition.id}",
            now,
            race=(competition.name, rows),
            competition=competition_view(competition, scope.today),
            winners=[{"name": w.standing.name, "slogan": board.slogan_of(w.standing.key)} for w in first],
            rows=row_views(scope, board, rows),
            total=scope.money(sum(r.standing.amount_minor for r in rows)),
            deals=sum(r.standing.deals for r in rows),
        )
        competition.status = FINISHED
        competition.ended_at = now
        finished += 1
    return finished

"""The announcer: turns domain events into channel posts (outbox rows) in the caller's transaction.

Kudos, check-ins and voids are announced in their own transaction (a few reads; `bot.bus` calls them).
A deal's announcements (喜报, 开单, goal thresholds, records, rank changes, competition standings) need a
dozen boards, so the deal commits marked `announce_pending` with an `announce_deal` job, and that job
(`bot.deal_announcements`) calls `announce_deal` in a transaction of its own.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, select, update

from bot.delivery.outbox import Post, enqueue_many
from bot.domain.events import CheckinCompleted, DealVoided, KudosGiven
from bot.domain.goals import crossed_thresholds
from bot.domain.leaderboard import find, top3_changes, top3_may_change
from bot.domain.periods import local_day
from bot.domain.text import one_line
from bot.jobs.kinds import announce_key
from bot.rendering.engine import Renderer
from bot.services import checkins, competitions, records, standings
from bot.services.directory import team_channel
from bot.services.scope import TeamScope, person
from bot.services.views import goal_view, group_view
from bot.storage.db import is_postgres
from bot.storage.orm import Checkin, Deal, Goal, JobRow, Kudos, Member, OutboxRow, Team
from bot.storage.uow import UnitOfWork

Posts = list[Post]
"""Posts worked out and not yet in the outbox."""


class Announcer:
    """Every announcement row is written atomically with the change behind it (for deals: with the
    clearing of the deal's `announce_pending`)."""

    def __init__(self, renderer: Renderer, clock) -> None:
        self._renderer = renderer
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()

    def _post(
        self,
        posts: Posts,
        team: Team,
        template: str,
        key: str,
        now: datetime,
        *,
        switch: str | None = None,
        fold: tuple[str, dict] | None = None,
        board: str | None = None,
        **context,
    ) -> None:
        """Render one post into `posts` (unless the team switched its kind off); `board` makes it a
        quiet state of that board (bot.delivery.boards)."""
        if not _wants(team, switch or _KIND_SETTING.get(template, "")):
            return
        posts.append(
            {
                "channel": team_channel(team),
                "message": self._renderer.render(template, team.locale, **context),
                "dedupe_key": key,
                "now": now,
                "team_id": team.id,
                "fold": fold,
                "board": board,
                "quiet": board is not None,
            }
        )

    async def announce_deal(self, uow: UnitOfWork, deal: Deal) -> None:
        """Everything one recorded deal announces, as of the deals announced before it: the boards
        leave out the other deals still waiting in the queue (they will see this one).

        Its posts (and a raised daily record) are written together at the end, in order: on SQLite the
        first write holds the one write lock until the commit, and the boards and renders after an early
        post held it 15–30 ms, every command's own write waiting behind them."""
        posts: Posts = []
        raised: records.Raised = []  # a raised daily record is written with the posts, not before
        with uow.session.no_autoflush:
            team, now, member = await self._work_out_deal(uow, deal, posts, raised)
            # 小组PK standings (a chart takes a few hundred ms) are drawn before the first write too
            posts += await competitions.standings_posts(uow, self._renderer, team, deal, now, member)
        await records.write(uow.session, raised)
        await _enqueue_all(uow, posts)

    async def _work_out_deal(
        self, uow: UnitOfWork, deal: Deal, posts: Posts, raised: records.Raised
    ) -> tuple[Team, datetime, Member | standings.TeamMember]:
        session = uow.session
        team = await _locked_team(session, deal.team_id)
        now = self._clock.now()
        scope = TeamScope.of(team, now)
        day = scope.period("today")
        board = await standings.board(session, scope, day, announcing=deal.id)
        # The roster's row where the member is still active: reading the member again cost a query
        member = board.member_by_key(f"member:{deal.member_id}") or await session.get(Member, deal.member_id)
        boards = _DealBoards(session, scope, board, deal.id)
        member_key = f"member:{member.id}"
        # Only who sold is ranked, unless the member is at 0 or below (negative amounts) or off the board
        mine = find(board.leaders(), member_key) or find(board.people("amount"), member_key)
        goals = await standings.goals_covering(session, scope)
        team_goals = [
            (goal, await boards.of(scope.period(goal.period, goal.period_start)))
            for goal in goals
            if goal.subject == "team"
        ]
        goal_context = goal_view(self._renderer, scope, *team_goals[0]) if team_goals else None
        group_row = find(board.group_rows("amount"), f"group:{member.group_id}") if member.group_id else None
        group_context = group_view(scope, board, group_row) if group_row else None
        # Deals stored before intake kept them on one line may still hold line breaks.
        customer, product = one_line(deal.customer), one_line(deal.product)
        self._post(
            posts,
            team,
            "deal_announcement",
            f"deal:{deal.id}",
            now,
            fold=(
                "deal",
                {
                    "member": person(member),
                    "amount": scope.money(deal.amount_minor),
                    "amount_minor": deal.amount_minor,
                    "customer": customer,
                    "product": product,
                },
            ),
            member=person(member),
            amount=scope.money(deal.amount_minor),
            customer=customer,
            product=product,
            member_total_today=scope.money(mine.standing.amount_minor if mine else deal.amount_minor),
            member_rank_today=mine.rank if mine else 1,
            member_deals_today=mine.standing.deals if mine else 1,
            team_total_today=scope.money(board.team_amount),
            team_goal=goal_context,
            group=group_context,
        )
        await self._milestones(uow, posts, raised, team, scope, deal, member, board, goals, boards)
        await self._rank_changes(posts, team, scope, deal, board, boards)
        if local_day(deal.closed_at, team.timezone) == scope.today:  # an earlier day's: today's board stands
            self._leaderboard(posts, team, scope, board, f"deal:{deal.id}")
        return team, now, member

    def _leaderboard(self, posts: Posts, team, scope, board: standings.Board, cause: str) -> None:
        """A state of the day's leaderboard (board `rank:<team>:<day>`): one message edited as deals
        arrive where the platform edits; skipped where it cannot (the rank-change posts say what moved)."""
        self._post(
            posts,
            team,
            "rank_board",
            f"rank_board:{team.id}:{scope.today}:{cause}",
            self._clock.now(),
            board=f"rank:{team.id}:{scope.today}",
            people=[_row_view(scope, row) for row in board.leaders()[:LEADERBOARD_ROWS]],
            groups=[_row_view(scope, row) for row in board.group_rows("amount") if row.value > 0],
            total=scope.money(board.team_amount),
            deals=board.team_deals,
        )

    async def _rank_changes(self, posts: Posts, team, scope, deal, board, boards: _DealBoards) -> None:
        """Top-3 changes on today's and this week's people boards and today's group board,
        at most one post per board per window."""
        week = await boards.of(scope.period("week"))
        boards = [("today", "people", board), ("week", "people", week), ("today", "groups", board)]
        if week.totals == board.totals:  # nothing earlier this week: the week board says what today's says
            del boards[1]
        for period, subject, period_board in boards:
            self._rank_change(posts, team, scope, deal, period, subject, period_board)

    def _rank_change(self, posts: Posts, team, scope, deal, period: str, subject: str, board) -> None:
        window = int(_announcements(team).get("rank_window_minutes", 10))
        now = self._clock.now()
        rows_of = standings.Board.people if subject == "people" else standings.Board.group_rows
        top3 = board.people_top(3) if subject == "people" else board.group_rows("amount")[:3]
        if not top3_may_change(top3, _moved_key(board, subject, deal), deal.amount_minor):
            return  # only the deal's entry rose, outside the top 3: ranking the board before is moot
        after_rows = rows_of(board, "amount")
        changes = top3_changes(rows_of(board.without(deal), "amount"), after_rows)
        if not changes:
            return
        slot = int(now.timestamp() // (window * 60))
        names = {row.standing.key: row.standing.name for row in after_rows}
        values = {row.standing.key: row.value for row in after_rows}

        def gap(ahead: str, behind: str) -> str:
            return scope.money(values[ahead] - values[behind])

        def who(key: str) -> dict[str, str | None]:
            found = board.member_by_key(key)
            return person(found) if found else {"user_id": None, "name": names.get(key, key)}

        self._post(
            posts,
            team,
            "rank_change",
            f"rank:{team.id}:{period}:{subject}:{board.period.key}:{slot}",
            now,
            period=period,
            subject=subject,
            changes=[
                {"overtaker": who(a), "overtaken": who(b), "rank": r, "gap": gap(a, b)} for a, b, r in changes
            ],
            top=[
                {"rank": row.rank, "name": row.standing.name, "value": scope.money(row.value)}
                for row in after_rows[:3]
                if row.value > 0
            ],
        )

    async def _milestones(
        self,
        uow,
        posts: Posts,
        raised: records.Raised,
        team,
        scope,
        deal,
        member,
        board,
        goals,
        boards: _DealBoards,
    ) -> None:
        """开单 (the day's first deal) and any goal — team, group or person — passing a threshold
        (50 % and 100 % unless the team chose others), each announced once by its dedupe key."""
        now = self._clock.now()
        if board.team_deals == 1:
            self._post(
                posts,
                team,
                "milestone",
                f"milestone:first:{team.id}:{scope.today}",
                now,
                kind="first_deal",
                member=person(member),
                amount=scope.money(deal.amount_minor),
                goal_label=None,
                previous_record=None,
            )
        thresholds = _announcements(team).get("goal_thresholds") or (50, 100)
        for goal in goals:
            if not _counts_toward(goal, member):
                continue
            goal_board = await boards.of(scope.period(goal.period, goal.period_start))
            after = goal_board.actual_for(goal)
            before = after - (1 if goal.metric == "deals" else deal.amount_minor)
            for threshold in crossed_thresholds(goal.target, before, after, thresholds):
                view = goal_view(self._renderer, scope, goal, goal_board)
                self._post(
                    posts,
                    team,
                    "milestone",
                    f"milestone:goal{threshold}:{goal.id}",
                    now,
                    kind=f"goal_{threshold}" if threshold in (50, 100) else "goal_percent",
                    percent=threshold,
                    member=person(member),
                    amount=view["actual"],
                    goal_label=f"{view['label']} {view['target']}",
                    previous_record=None,
                )
        if local_day(deal.closed_at, team.timezone) == scope.today and _wants(team, "records"):
            await self._records(uow, posts, raised, team, scope, member, board)

    async def _records(self, uow, posts: Posts, raised: records.Raised, team, scope, member, board) -> None:
        """A new best day for the team, then for the person (each at most once a day)."""
        now = self._clock.now()
        subjects = (
            ("record_team", None, board.team_amount),
            ("record_member", member.id, board.totals.get(member.id, (0, 0))[0]),
        )
        totals = [(member_id, total) for _, member_id, total in subjects]
        beaten = await records.new_records(uow.session, team, scope.today, totals, raised)
        for (kind, member_id, total), previous in zip(subjects, beaten, strict=True):
            if previous is None:
                continue
            self._post(
                posts,
                team,
                "milestone",
                f"milestone:{kind}:{team.id}:{member_id or 'team'}:{scope.today}",
                now,
                switch="records",
                kind=kind,
                member=person(member),
                amount=scope.money(total),
                goal_label=None,
                previous_record=scope.money(previous),
            )

    async def void(self, uow: UnitOfWork, event: DealVoided) -> None:
        """A correction for an announced deal; a deal voided while still waiting to be announced is
        simply taken out of the queue (nobody saw it, so there is nothing to correct)."""
        session = uow.session
        deal = await session.get(Deal, event.deal_id)
        # Read again after our own write (flushed): on PostgreSQL our UPDATE of the deal waited for a
        # queue transaction holding it, so this sees whether that one announced it.
        still_waiting = await session.scalar(select(Deal.announce_pending).where(Deal.id == deal.id))
        if still_waiting:
            await session.execute(update(Deal).where(Deal.id == deal.id).values(announce_pending=False))
            return
        parked = await session.scalar(
            select(JobRow.id).where(JobRow.key == announce_key(deal.id), JobRow.parked_at.is_not(None))
        )
        if parked is not None:  # set aside unannounced: nothing to correct either
            return
        team = await session.get(Team, event.team_id)
        member = await session.get(Member, deal.member_id)
        scope = TeamScope.of(team, self._clock.now())
        posts: Posts = []
        self._post(
            posts,
            team,
            "deal_voided",
            f"void:{deal.id}",
            self._clock.now(),
            id=deal.id,
            amount=scope.money(deal.amount_minor),
            member=person(member),
        )
        posts += await competitions.corrected_boards(uow, self._renderer, team, deal, self._clock.now())
        board_key = f"rank:{team.id}:{scope.today}"
        if await session.scalar(select(OutboxRow.id).where(OutboxRow.board_key == board_key).limit(1)):
            today = await standings.board(session, scope, scope.period("today"))
            self._leaderboard(posts, team, scope, today, f"void:{deal.id}")  # no longer counting it
        await _enqueue_all(uow, posts)

    async def kudos(self, uow: UnitOfWork, event: KudosGiven) -> None:
        session = uow.session
        rows = list(
            await session.scalars(select(Kudos).where(Kudos.id.in_(event.kudos_ids)).order_by(Kudos.id))
        )
        if not rows:
            return
        team = await session.get(Team, event.team_id)
        giver = await session.get(Member, rows[0].giver_id)
        receivers = [await session.get(Member, k.receiver_id) for k in rows]
        posts: Posts = []
        self._post(
            posts,
            team,
            "kudos_post",
            f"kudos:{rows[0].id}",
            self._clock.now(),
            giver=person(giver),
            receivers=[person(r) for r in receivers],
            reason=rows[0].reason,
        )
        await _enqueue_all(uow, posts)

    async def checkin(self, uow: UnitOfWork, event: CheckinCompleted) -> None:
        session = uow.session
        team = await session.get(Team, event.team_id)
        if not (team.settings or {}).get("post_checkins"):
            return
        checkin = await session.get(Checkin, event.checkin_id)
        member = await session.get(Member, checkin.member_id)
        answers = checkins.answer_views(team, checkin)
        posts: Posts = []
        self._post(
            posts,
            team,
            "checkin_post",
            f"checkin:{checkin.id}",
            self._clock.now(),
            member=person(member),
            answers=answers,
        )
        await _enqueue_all(uow, posts)


LEADERBOARD_ROWS = 10  # people on the day's leaderboard


def _row_view(scope: TeamScope, row) -> dict:
    return {
        "rank": row.rank,
        "name": row.standing.name,
        "value": scope.money(row.value),
        "deals": row.standing.deals,
    }


_KIND_SETTING = {
    "deal_announcement": "deals",
    "deal_voided": "deals",
    "milestone": "milestones",
    "kudos_post": "kudos",
    "rank_change": "rank_changes",
    "rank_board": "rank_changes",
}


async def _enqueue_all(uow: UnitOfWork, posts: Posts) -> None:
    await enqueue_many(uow.session, posts)


async def _locked_team(session, team_id: int) -> Team:
    """The team row, locked on PostgreSQL until commit: one deal's announcements are worked out at a
    time per team, each seeing every deal committed before it, so a threshold crossed by two concurrent
    deals is noticed by exactly one of them (SQLite serialises writers already)."""
    return await session.scalar(_team_query(is_postgres(session.bind)), {"team_id": team_id})


@cache
def _team_query(postgres: bool) -> Select:
    """Built once per dialect: it runs with every deal."""
    query = select(Team).where(Team.id == bindparam("team_id")).execution_options(populate_existing=True)
    if postgres:
        query = query.with_for_update(of=Team, key_share=True)  # NO KEY UPDATE: FK inserts go on
    return query


class _DealBoards:
    """The boards one deal's announcements read, each built once on one read of the members and each
    without the deals still waiting behind it."""

    def __init__(self, session, scope: TeamScope, today: standings.Board, announcing: int) -> None:
        self._session = session
        self._scope = scope
        self._announcing = announcing
        self._roster = standings.Roster(today.members, today.groups)
        self._built: dict[tuple[str, str], standings.Board] = {(today.period.name, today.period.key): today}

    async def of(self, period) -> standings.Board:
        key = (period.name, period.key)
        if key not in self._built:
            self._built[key] = await standings.board(
                self._session, self._scope, period, self._roster, announcing=self._announcing
            )
        return self._built[key]


def _moved_key(board: standings.Board, subject: str, deal: Deal) -> str | None:
    """The entry of `board` the deal moves: its member's, or their group's on the group board (None
    when the member is off the roster or in no group: no entry moved)."""
    key = f"member:{deal.member_id}"
    if subject == "people":
        return key
    member = board.member_by_key(key)
    return f"group:{member.group_id}" if member is not None and member.group_id is not None else None


def _announcements(team: Team) -> dict:
    return (team.settings or {}).get("announcements") or {}


def _wants(team: Team, switch: str) -> bool:
    """A team's announcement switches (config `[teams.announcements]` or /team announce); on by default."""
    return bool(_announcements(team).get(switch, True))


def _counts_toward(goal: Goal, member: Member | standings.TeamMember) -> bool:
    """Whether a deal by `member` moves this goal: the team's, the member's group's, or their own."""
    if goal.member_id is not None:
        return goal.member_id == member.id
    if goal.group_id is not None:
        return goal.group_id == member.group_id
    return True

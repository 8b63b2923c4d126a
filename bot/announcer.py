"""The announcer: turns a unit of work's domain events into channel posts, in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.delivery.outbox import enqueue
from bot.domain.events import CheckinCompleted, DealRecorded, DealVoided, KudosGiven
from bot.domain.goals import crossed_thresholds
from bot.domain.leaderboard import find, top3_changes
from bot.rendering.engine import Renderer
from bot.services import checkins, standings
from bot.services.directory import team_channel
from bot.services.scope import TeamScope, person
from bot.services.views import goal_view, group_view
from bot.storage.orm import Checkin, Deal, Kudos, Member, Team
from bot.storage.uow import UnitOfWork


class Announcer:
    """A before-commit hook: every announcement row is written atomically with the change behind it."""

    def __init__(self, renderer: Renderer, clock) -> None:
        self._renderer = renderer
        self._clock = clock

    async def __call__(self, uow: UnitOfWork) -> None:
        for event in list(uow.events):
            if isinstance(event, DealRecorded) and event.announce:
                await self._deal(uow, event)
            elif isinstance(event, DealVoided):
                await self._void(uow, event)
            elif isinstance(event, KudosGiven):
                await self._kudos(uow, event)
            elif isinstance(event, CheckinCompleted):
                await self._checkin(uow, event)

    async def _post(
        self, uow: UnitOfWork, team: Team, template: str, key: str, now: datetime, **context
    ) -> None:
        if not _wants(team, template):
            return
        message = self._renderer.render(template, team.locale, **context)
        await enqueue(
            uow.session, channel=team_channel(team), message=message, dedupe_key=key, now=now, team_id=team.id
        )

    async def _deal(self, uow: UnitOfWork, event: DealRecorded) -> None:
        session = uow.session
        deal = await session.get(Deal, event.deal_id)
        team = await session.get(Team, event.team_id)
        member = await session.get(Member, deal.member_id)
        now = self._clock.now()
        scope = TeamScope.of(team, now)
        day = scope.period("today")
        board = await standings.board(session, scope, day)
        people = board.people("amount")
        mine = find(people, f"member:{member.id}")
        team_goals = [
            (goal, await standings.board(session, scope, scope.period(goal.period, goal.period_start)))
            for goal in await standings.goals_covering(session, scope)
            if goal.subject == "team"
        ]
        goal_context = goal_view(self._renderer, scope, *team_goals[0]) if team_goals else None
        group_row = find(board.group_rows("amount"), f"group:{member.group_id}") if member.group_id else None
        group_context = group_view(scope, board, group_row) if group_row else None
        await self._post(
            uow,
            team,
            "deal_announcement",
            f"deal:{deal.id}",
            now,
            member=person(member),
            amount=scope.money(deal.amount_minor),
            customer=deal.customer,
            product=deal.product,
            member_total_today=scope.money(mine.standing.amount_minor if mine else deal.amount_minor),
            member_rank_today=mine.rank if mine else 1,
            member_deals_today=mine.standing.deals if mine else 1,
            team_total_today=scope.money(board.team_amount),
            team_goal=goal_context,
            group=group_context,
        )
        await self._milestones(uow, team, scope, deal, member, board, team_goals)
        await self._rank_changes(uow, team, scope, deal, board)

    async def _rank_changes(self, uow, team, scope, deal, board) -> None:
        """Top-3 changes on today's people and group boards, at most one post per board per window."""
        window = int(((team.settings or {}).get("announcements") or {}).get("rank_window_minutes", 10))
        now = self._clock.now()
        before_totals = dict(board.totals)
        amount, count = before_totals.get(deal.member_id, (0, 0))
        before_totals[deal.member_id] = (amount - deal.amount_minor, count - 1)
        before = standings.Board(board.scope, board.period, board.members, board.groups, before_totals)
        for subject, rows_of in (("people", standings.Board.people), ("groups", standings.Board.group_rows)):
            after_rows, before_rows = rows_of(board, "amount"), rows_of(before, "amount")
            changes = top3_changes(before_rows, after_rows)
            if not changes:
                continue
            slot = int(now.timestamp() // (window * 60))
            names = {row.standing.key: row.standing.name for row in after_rows}

            def who(key: str, names: dict[str, str] = names) -> dict[str, str | None]:
                found = board.member_by_key(key)
                return person(found) if found else {"user_id": None, "name": names.get(key, key)}

            await self._post(
                uow,
                team,
                "rank_change",
                f"rank:{team.id}:today:{subject}:{scope.today}:{slot}",
                now,
                period="today",
                subject=subject,
                changes=[{"overtaker": who(a), "overtaken": who(b), "rank": r} for a, b, r in changes],
                top=[
                    {"rank": row.rank, "name": row.standing.name, "value": scope.money(row.value)}
                    for row in after_rows[:3]
                    if row.value > 0
                ],
            )

    async def _milestones(self, uow, team, scope, deal, member, board, team_goals) -> None:
        """开单 (the day's first deal) and a team goal passing 50 % / 100 %, each announced once."""
        now = self._clock.now()
        if board.team_deals == 1:
            await self._post(
                uow,
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
        for goal, goal_board in team_goals:
            if goal.metric != "amount":
                continue
            after = goal_board.actual_for(goal)
            for threshold in crossed_thresholds(goal.target, after - deal.amount_minor, after):
                view = goal_view(self._renderer, scope, goal, goal_board)
                await self._post(
                    uow,
                    team,
                    "milestone",
                    f"milestone:goal{threshold}:{goal.id}",
                    now,
                    kind=f"goal_{threshold}",
                    member=person(member),
                    amount=view["actual"],
                    goal_label=f"{view['label']} {view['target']}",
                    previous_record=None,
                )

    async def _void(self, uow: UnitOfWork, event: DealVoided) -> None:
        session = uow.session
        deal = await session.get(Deal, event.deal_id)
        team = await session.get(Team, event.team_id)
        member = await session.get(Member, deal.member_id)
        scope = TeamScope.of(team, self._clock.now())
        await self._post(
            uow,
            team,
            "deal_voided",
            f"void:{deal.id}",
            self._clock.now(),
            id=deal.id,
            amount=scope.money(deal.amount_minor),
            member=person(member),
        )

    async def _kudos(self, uow: UnitOfWork, event: KudosGiven) -> None:
        session = uow.session
        rows = list(
            await session.scalars(select(Kudos).where(Kudos.id.in_(event.kudos_ids)).order_by(Kudos.id))
        )
        if not rows:
            return
        team = await session.get(Team, event.team_id)
        giver = await session.get(Member, rows[0].giver_id)
        receivers = [await session.get(Member, k.receiver_id) for k in rows]
        await self._post(
            uow,
            team,
            "kudos_post",
            f"kudos:{rows[0].id}",
            self._clock.now(),
            giver=person(giver),
            receivers=[person(r) for r in receivers],
            reason=rows[0].reason,
        )

    async def _checkin(self, uow: UnitOfWork, event: CheckinCompleted) -> None:
        session = uow.session
        team = await session.get(Team, event.team_id)
        if not (team.settings or {}).get("post_checkins"):
            return
        checkin = await session.get(Checkin, event.checkin_id)
        member = await session.get(Member, checkin.member_id)
        answers = checkins.answer_views(team, checkin)
        await self._post(
            uow,
            team,
            "checkin_post",
            f"checkin:{checkin.id}",
            self._clock.now(),
            member=person(member),
            answers=answers,
        )


_KIND_SETTING = {
    "deal_announcement": "deals",
    "deal_voided": "deals",
    "milestone": "milestones",
    "kudos_post": "kudos",
    "rank_change": "rank_changes",
}


def _wants(team: Team, template: str) -> bool:
    """A team's announcement switches (config `[teams.announcements]` or /team); on by default."""
    switches = (team.settings or {}).get("announcements") or {}
    return bool(switches.get(_KIND_SETTING.get(template, ""), True))

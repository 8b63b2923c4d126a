"""Scheduled posts (早会 morning post, 夕会 evening recap): built, recorded once per period, enqueued."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.delivery.outbox import enqueue
from bot.rendering.engine import Renderer
from bot.services import standings
from bot.services.directory import team_channel
from bot.services.recap import participation, recap_context
from bot.services.scope import TeamScope, person
from bot.services.views import goal_view, group_view
from bot.storage.orm import Checkin, CheckinAnswer, ScheduledPost, Team
from bot.storage.uow import UnitOfWork

Outcome = Literal["posted", "skipped: not a workday", "skipped: already posted"]


async def morning_context(uow: UnitOfWork, renderer: Renderer, scope: TeamScope) -> dict[str, Any]:
    session = uow.session
    today = scope.today
    month_board = await standings.board(session, scope, scope.period("month"))
    goals = []
    for goal in await standings.goals_covering(session, scope):
        if goal.subject != "team" and not goal.subject.startswith("group:"):
            continue
        board = month_board
        if (goal.period, goal.period_start) != ("month", month_board.period.start):
            board = await standings.board(session, scope, scope.period(goal.period, goal.period_start))
        goals.append(goal_view(renderer, scope, goal, board))
    yesterday = scope.calendar.previous_workday(today)
    prev = await standings.board(session, scope, scope.period("today", yesterday))
    champion_person = champion_group = None
    if prev.team_amount:
        top_person = prev.people("amount")[0]
        member = prev.member_by_key(top_person.standing.key)
        champion_person = {"member": person(member), "amount": scope.money(top_person.standing.amount_minor)}
        groups = prev.group_rows("amount")
        if groups and groups[0].standing.amount_minor:
            champion_group = {
                "name": groups[0].standing.name,
                "amount": scope.money(groups[0].standing.amount_minor),
            }
    rows = await session.execute(
        select(Checkin.member_id, CheckinAnswer.amount_minor)
        .join(CheckinAnswer, CheckinAnswer.checkin_id == Checkin.id)
        .where(
            Checkin.team_id == scope.team.id, Checkin.day == today, CheckinAnswer.amount_minor.is_not(None)
        )
        .order_by(CheckinAnswer.amount_minor.desc())
    )
    by_id = {m.id: m for m in month_board.members}
    commitments, committed = [], 0
    for member_id, amount in rows:
        if member_id in by_id:
            commitments.append({"member": person(by_id[member_id]), "text": scope.money(int(amount))})
            committed += int(amount)
    part = await participation(session, scope, month_board.members, today)
    week = await standings.board(session, scope, scope.period("week"))
    group_rows = [group_view(scope, week, row) for row in week.group_rows("amount")]
    date_label = renderer.render(
        "period_label", scope.locale, period="today", start=today.isoformat(), end=today.isoformat()
    ).fallback_text
    return {
        "date_label": date_label,
        "goals": goals,
        "champion_person": champion_person,
        "champion_group": champion_group,
        "yesterday_total": scope.money(prev.team_amount) if prev.team_amount else None,
        "commitments": commitments,
        "commitments_total": scope.money(committed) if commitments else None,
        "not_checked_in": [person(m) for m in part["missing"]],
        "on_leave": [person(m) for m in part["on_leave"]],
        "groups": group_rows,
    }


async def run_post(
    uow: UnitOfWork, renderer: Renderer, team: Team, kind: str, now: datetime, *, force: bool = False
) -> Outcome:
    """Build and enqueue one scheduled post, at most once per team, kind and day unless forced."""
    scope = TeamScope.of(team, now)
    day = scope.today
    if not scope.calendar.is_workday(day) and not force:
        return "skipped: not a workday"
    key = day.isoformat()
    existing = await uow.session.scalar(
        select(ScheduledPost).where(
            ScheduledPost.team_id == team.id, ScheduledPost.kind == kind, ScheduledPost.period_key == key
        )
    )
    if existing is not None and not force:
        return "skipped: already posted"
    if existing is None:
        uow.session.add(ScheduledPost(team_id=team.id, kind=kind, period_key=key, created_at=now))
        try:
            await uow.session.flush()
        except IntegrityError:
            await uow.rollback()
            return "skipped: already posted"
    if kind == "morning":
        message = renderer.render("morning", team.locale, **await morning_context(uow, renderer, scope))
    elif kind == "recap":
        context = await recap_context(uow.session, renderer, scope, scope.period("today"))
        message = renderer.render("recap", team.locale, **context)
    else:
        raise ValueError(f"unknown post kind {kind!r}")
    suffix = f":{now.isoformat()}" if force else ""
    await enqueue(
        uow.session,
        channel=team_channel(team),
        message=message,
        dedupe_key=f"{kind}:{team.slug}:{key}{suffix}",
        now=now,
        team_id=team.id,
    )
    return "posted"

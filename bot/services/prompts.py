"""Check-in prompts and reminders: one DM per member through the outbox, never twice for the same day.

The prompt opens each member's check-in for the day, so that a plain reply in the DM is taken as the
answer to the question it shows. Reminders go only to members whose check-in is still open, each at
most the number of reminder times the team configured, never to anyone on leave.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.delivery.outbox import enqueue
from bot.rendering.engine import Renderer
from bot.services import checkins
from bot.services.directory import active_members, dm_channel
from bot.services.recap import on_leave_ids
from bot.services.scope import TeamScope, person
from bot.storage.orm import Checkin, Member
from bot.storage.uow import UnitOfWork

ANSWERED = ("done", "skipped")


async def _open_checkins(uow: UnitOfWork, scope: TeamScope, now: datetime) -> list[tuple[Member, Checkin]]:
    """Each member expected to answer today (active, not on leave, not done or skipped) with their
    check-in, opened now for those who had none."""
    session = uow.session
    team, day = scope.team, scope.today
    members = await active_members(session, team)
    away = await on_leave_ids(session, team.id, day)
    existing = {
        c.member_id: c
        for c in await session.scalars(
            select(Checkin)
            .options(selectinload(Checkin.answers))
            .where(Checkin.team_id == team.id, Checkin.day == day)
        )
    }
    out = []
    for member in members:
        if member.id in away:
            continue
        checkin = existing.get(member.id)
        if checkin is not None and checkin.status in ANSWERED:
            continue
        if checkin is None:
            checkin = Checkin(
                team_id=team.id,
                member_id=member.id,
                day=day,
                status="open",
                started_at=now,
                reminders_sent=0,
                answers=[],
            )
            session.add(checkin)
        out.append((member, checkin))
    await session.flush()
    return out


def _key(kind: str, team_id: int, day: date, member: Member, suffix: str) -> str:
    return f"{kind}:{team_id}:{day.isoformat()}:{member.id}{suffix}"


async def _dm(uow: UnitOfWork, scope: TeamScope, member: Member, message, key: str, now: datetime) -> int:
    added = await enqueue(
        uow.session,
        channel=dm_channel(scope.team, member),
        message=message,
        dedupe_key=key,
        now=now,
        team_id=scope.team.id,
    )
    return int(added)


async def send_prompts(
    uow: UnitOfWork, renderer: Renderer, scope: TeamScope, now: datetime, *, suffix: str = ""
) -> int:
    """DM today's next question to every member expected to check in; the number of DMs queued."""
    team = scope.team
    questions = checkins.questions_for(team)
    queued = 0
    opened = await _open_checkins(uow, scope, now)
    # One flush at commit rather than one per member before each outbox lookup (keys are per member).
    with uow.session.no_autoflush:
        for member, checkin in opened:
            step = checkins.next_question(checkin, questions)
            if step is None:
                continue
            index, question = step
            message = renderer.render(
                "checkin_prompt",
                team.locale,
                member=person(member),
                question=question.prompt,
                index=index + 1,
                total=len(questions),
                kind=question.kind,
                example=question.example,
                day=scope.today.isoformat(),  # its leave button books this day, not the day it is clicked
            )
            key = _key("checkin-prompt", team.id, scope.today, member, suffix)
            queued += await _dm(uow, scope, member, message, key, now)
    return queued


async def send_reminders(
    uow: UnitOfWork,
    renderer: Renderer,
    scope: TeamScope,
    now: datetime,
    *,
    number: int,
    allowed: int,
    suffix: str = "",
) -> int:
    """Remind everyone whose check-in is still open, unless they had `allowed` reminders already."""
    team = scope.team
    question_keys = {q.key for q in checkins.questions_for(team)}
    queued = 0
    opened = await _open_checkins(uow, scope, now)
    with uow.session.no_autoflush:
        for member, checkin in opened:
            remaining = len(question_keys - {a.question_key for a in checkin.answers})
            if checkin.reminders_sent >= allowed or remaining == 0:
                continue
            checkin.reminders_sent += 1
            message = renderer.render(
                "checkin_reminder",
                team.locale,
                member=person(member),
                remaining=remaining,
                reminder_no=checkin.reminders_sent,
                day=scope.today.isoformat(),  # its leave button books this day, not the day it is clicked
            )
            key = _key(f"checkin-reminder{number}", team.id, scope.today, member, suffix)
            queued += await _dm(uow, scope, member, message, key, now)
    return queued

"""Leave rows: booking, the ones still to come, cancelling them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bot.storage.orm import Leave, Member
from bot.storage.uow import UnitOfWork


async def upcoming(uow: UnitOfWork, member: Member, today: date) -> list[Leave]:
    """The member's leave not cancelled and not over yet, earliest first."""
    rows = await uow.session.scalars(
        select(Leave)
        .where(Leave.member_id == member.id, Leave.cancelled.is_(False), Leave.end_day >= today)
        .order_by(Leave.start_day)
    )
    return list(rows)


async def cancel_upcoming(uow: UnitOfWork, member: Member, today: date) -> int:
    leaves = await upcoming(uow, member, today)
    for leave in leaves:
        leave.cancelled = True
    return len(leaves)


async def book(uow: UnitOfWork, member: Member, start: date, end: date, reason: str, now: datetime) -> Leave:
    """The member's leave for these days: the one already booked (a second click on "on leave today",
    the same line sent twice) with the newer reason if one is given, else a new one."""
    same = await uow.session.scalar(
        select(Leave).where(
            Leave.member_id == member.id,
            Leave.start_day == start,
            Leave.end_day == end,
            Leave.cancelled.is_(False),
        )
    )
    if same is not None:
        if reason:
            same.reason = reason
        return same
    leave = Leave(member_id=member.id, start_day=start, end_day=end, reason=reason, created_at=now)
    uow.session.add(leave)
    return leave

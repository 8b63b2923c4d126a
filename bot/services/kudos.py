"""Kudos rows: how many a giver gave today, giving them, and the month's board."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from bot.domain.events import KudosGiven
from bot.storage.orm import Kudos, Member, Team
from bot.storage.uow import UnitOfWork

BOARD_SIZE = 10


async def given_on(uow: UnitOfWork, giver: Member, day: date) -> int:
    found = await uow.session.scalar(
        select(func.count(Kudos.id)).where(Kudos.giver_id == giver.id, Kudos.day == day)
    )
    return int(found or 0)


async def give(
    uow: UnitOfWork, team: Team, giver: Member, receivers: list[Member], reason: str, day: date, now: datetime
) -> list[Kudos]:
    """One row per receiver, and a KudosGiven event for the channel post."""
    rows = [
        Kudos(team_id=team.id, giver_id=giver.id, receiver_id=r.id, reason=reason, day=day, created_at=now)
        for r in receivers
    ]
    uow.session.add_all(rows)
    await uow.session.flush()
    uow.add_event(KudosGiven(team_id=team.id, kudos_ids=tuple(k.id for k in rows)))
    return rows


async def board(uow: UnitOfWork, team: Team, first: date, last: date) -> list[tuple[Member, int]]:
    """The most thanked members between two days (inclusive), most first."""
    rows = await uow.session.execute(
        select(Member, func.count(Kudos.id))
        .join(Kudos, Kudos.receiver_id == Member.id)
        .where(Kudos.team_id == team.id, Kudos.day >= first, Kudos.day <= last)
        .group_by(Member.id)
        .order_by(func.count(Kudos.id).desc(), Member.name)
        .limit(BOARD_SIZE)
    )
    return [(member, int(count)) for member, count in rows]

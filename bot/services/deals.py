"""Recording and voiding deals — the one path used by /deal, the webhook and CSV import."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from bot.domain.events import DealRecorded, DealVoided
from bot.domain.text import one_line
from bot.storage.db import is_postgres
from bot.storage.orm import Deal, Member, Team
from bot.storage.uow import UnitOfWork

ANNOUNCE_WITHIN = timedelta(hours=24)
UNDO_WITHIN = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class NewDeal:
    member: Member
    amount_minor: int
    currency: str
    closed_at: datetime
    source: str = "chat"
    external_id: str | None = None
    customer: str = ""
    product: str = ""
    created_by: Member | None = None


class DuplicateDeal(Exception):
    """The team already has a deal with this external id (recorded meanwhile by a concurrent door)."""

    def __init__(self, external_id: str) -> None:
        super().__init__(f"a deal with id {external_id!r} is already recorded for this team")
        self.external_id = external_id


@cache
def _insert_deal(postgres: bool) -> ReturningInsert[tuple[int]]:
    """INSERT … ON CONFLICT (team, external id) DO NOTHING RETURNING id: a concurrent insert of the same
    id waits for the other transaction and then inserts nothing, instead of failing the transaction (a
    CSV import's rows before it stay) or, as when the key also held `source`, recording the deal twice."""
    deals = Deal.__table__
    insert = postgresql.insert(deals) if postgres else sqlite.insert(deals)
    return insert.on_conflict_do_nothing(index_elements=["team_id", "external_id"]).returning(deals.c.id)


async def record(
    uow: UnitOfWork,
    team: Team,
    new: NewDeal,
    now: datetime,
    *,
    announce: bool | None = None,
    voided: bool = False,
) -> Deal:
    """Store a deal and raise DealRecorded; a deal closed over 24 hours ago is kept but not announced.
    `voided`: recorded already void (a void that overtook its deal), never announced.

    The row is written with a Core INSERT … RETURNING, not session.add + flush: the ORM's unit of work
    cost a /deal more than half a millisecond. The Deal returned is not in the session, so changing it
    changes nothing stored: everything a new deal needs is decided here. Raises DuplicateDeal when the
    team has a deal with this external id already, whoever recorded it (the transaction stays usable).
    Customer and product are kept on one line: a line break in them could fake lines of a post."""
    if announce is None:
        announce = now - new.closed_at <= ANNOUNCE_WITHIN
    announce = announce and not voided  # the announcement queue takes it from here, after the commit
    values = {
        "team_id": team.id,
        "member_id": new.member.id,
        "amount_minor": new.amount_minor,
        "currency": new.currency,
        "customer": one_line(new.customer),
        "product": one_line(new.product),
        "source": new.source,
        "external_id": new.external_id or uuid.uuid4().hex,
        "closed_at": new.closed_at,
        "created_at": now,
        "created_by_id": new.created_by.id if new.created_by else new.member.id,
        "voided_at": now if voided else None,
        "voided_by_id": None,
        "announce_pending": announce,
    }
    deal_id = await uow.session.scalar(_insert_deal(is_postgres(uow.session.bind)), values)
    if deal_id is None:
        raise DuplicateDeal(values["external_id"])
    deal = Deal(id=deal_id, **values)
    uow.add_event(DealRecorded(team_id=team.id, deal_id=deal_id, announce=announce))
    return deal


async def void(uow: UnitOfWork, deal: Deal, by: Member | None, now: datetime) -> None:
    deal.voided_at = now
    deal.voided_by_id = by.id if by else None
    uow.add_event(DealVoided(team_id=deal.team_id, deal_id=deal.id))


async def deal_of_team(session: AsyncSession, team: Team, deal_id: int) -> Deal | None:
    return await session.scalar(select(Deal).where(Deal.id == deal_id, Deal.team_id == team.id))


async def latest_logged_by(session: AsyncSession, team: Team, member: Member) -> Deal | None:
    """The newest deal `member` logged that still counts: what `/deal undo` without an id takes back."""
    return await session.scalar(
        select(Deal)
        .where(Deal.team_id == team.id, Deal.created_by_id == member.id, Deal.voided_at.is_(None))
        .order_by(Deal.created_at.desc(), Deal.id.desc())
        .limit(1)
    )


async def owner_of(session: AsyncSession, deal: Deal) -> Member | None:
    return await session.get(Member, deal.member_id)

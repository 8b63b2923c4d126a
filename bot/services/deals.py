"""Recording and voiding deals — the one path used by /deal, the webhook and CSV import."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import insert, select
from sqlalchemy.sql.dml import ReturningInsert

from bot.domain.events import DealRecorded, DealVoided
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


async def existing(uow: UnitOfWork, team: Team, source: str, external_id: str) -> Deal | None:
    return await uow.session.scalar(
        select(Deal).where(Deal.team_id == team.id, Deal.source == source, Deal.external_id == external_id)
    )


@cache
def _insert_deal() -> ReturningInsert[tuple[int]]:
    deals = Deal.__table__
    return insert(deals).returning(deals.c.id)


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
    changes nothing stored: everything a new deal needs is decided here."""
    if announce is None:
        announce = now - new.closed_at <= ANNOUNCE_WITHIN
    announce = announce and not voided  # the announcement queue takes it from here, after the commit
    values = {
        "team_id": team.id,
        "member_id": new.member.id,
        "amount_minor": new.amount_minor,
        "currency": new.currency,
        "customer": new.customer,
        "product": new.product,
        "source": new.source,
        "external_id": new.external_id or uuid.uuid4().hex,
        "closed_at": new.closed_at,
        "created_at": now,
        "created_by_id": new.created_by.id if new.created_by else new.member.id,
        "voided_at": now if voided else None,
        "voided_by_id": None,
        "announce_pending": announce,
    }
    deal_id = await uow.session.scalar(_insert_deal(), values)
    assert deal_id is not None
    deal = Deal(id=deal_id, **values)
    uow.add_event(DealRecorded(team_id=team.id, deal_id=deal_id, announce=announce))
    return deal


async def void(uow: UnitOfWork, deal: Deal, by: Member | None, now: datetime) -> None:
    deal.voided_at = now
    deal.voided_by_id = by.id if by else None
    uow.add_event(DealVoided(team_id=deal.team_id, deal_id=deal.id))

"""Recording and voiding deals — the one path used by /deal, the webhook and CSV import."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

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


async def record(
    uow: UnitOfWork, team: Team, new: NewDeal, now: datetime, *, announce: bool | None = None
) -> Deal:
    """Store a deal and raise DealRecorded; a deal closed over 24 hours ago is kept but not announced."""
    deal = Deal(
        team_id=team.id,
        member_id=new.member.id,
        amount_minor=new.amount_minor,
        currency=new.currency,
        customer=new.customer,
        product=new.product,
        source=new.source,
        external_id=new.external_id or uuid.uuid4().hex,
        closed_at=new.closed_at,
        created_at=now,
        created_by_id=new.created_by.id if new.created_by else new.member.id,
    )
    if announce is None:
        announce = now - new.closed_at <= ANNOUNCE_WITHIN
    deal.announce_pending = announce  # the announcement queue takes it from here, after the commit
    uow.session.add(deal)
    await uow.session.flush()
    uow.add_event(DealRecorded(team_id=team.id, deal_id=deal.id, announce=announce))
    return deal


async def void(uow: UnitOfWork, deal: Deal, by: Member | None, now: datetime) -> None:
    deal.voided_at = now
    deal.voided_by_id = by.id if by else None
    uow.add_event(DealVoided(team_id=deal.team_id, deal_id=deal.id))

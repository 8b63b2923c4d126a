"""The `announce_deal` job: a recorded deal's announcements, worked out after the deal's commit.

The deal commits with `announce_pending` and this job (both in one transaction, `bot.bus`), so an
acknowledged deal is announced even if the process dies in between. The job clears the flag in the
transaction that writes the posts, conditionally: a job run twice (its worker died after the commit), or
a deal voided meanwhile, announces nothing more. A job that keeps failing is parked by the job worker;
`on_parked` clears the flag then, so the boards of later deals stop treating the deal as still waiting.
It stays recorded and counted, unannounced, and `teambeat status` lists it.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, Update, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.announcer import Announcer
from bot.jobs.queue import Job
from bot.storage.db import is_postgres
from bot.storage.orm import Deal
from bot.storage.uow import UnitOfWorkFactory


class DealAnnouncements:
    def __init__(self, uow_factory: UnitOfWorkFactory, announcer: Announcer) -> None:
        self._uow_factory = uow_factory
        self._announcer = announcer

    async def run(self, job: Job) -> None:
        deal_id = int(job.payload["deal_id"])
        async with self._uow_factory() as uow:
            session = uow.session
            deal = await session.scalar(_deal_query(is_postgres(session.bind)), {"deal_id": deal_id})
            if deal is None or not deal.announce_pending or deal.voided_at is not None:
                return  # announced already, voided, or gone with its team
            await self._announcer.announce_deal(uow, deal)
            if await _clear(session, deal_id):
                await uow.commit()

    @staticmethod
    async def on_parked(session: AsyncSession, job: Job) -> None:
        await _clear(session, int(job.payload["deal_id"]))


async def _clear(session: AsyncSession, deal_id: int) -> bool:
    if session.autoflush:  # as the ORM statement did: what the announcements changed is written first
        await session.flush()
    cleared = await session.execute(_clear_statement(), {"deal_id": deal_id})
    return cleared.rowcount == 1


@cache
def _deal_query(postgres: bool) -> Select:
    """Built once per dialect: it runs with every deal."""
    query = select(Deal).where(Deal.id == bindparam("deal_id"))
    if postgres:  # a void of this deal waits for the announcements (and sees them)
        query = query.with_for_update(of=Deal)
    return query


@cache
def _clear_statement() -> Update:
    """Built once (it runs with every deal), on the table: a plain Core statement skips the ORM's part."""
    deals = Deal.__table__.c
    return (
        update(Deal.__table__)
        .where(deals.id == bindparam("deal_id"), deals.announce_pending.is_(True))
        .values(announce_pending=False)
    )

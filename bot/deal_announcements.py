"""The `announce_deal` job: a recorded deal's announcements, worked out after the deal's commit.

The deal commits with `announce_pending` and this job (both in one transaction, `bot.bus`), so an
acknowledged deal is announced even if the process dies in between. The job clears the flag in the
transaction that writes the posts, conditionally: a job run twice (its worker died after the commit), or
a deal voided meanwhile, announces nothing more. A job that keeps failing is parked by the job worker;
`on_parked` clears the flag then, so the boards of later deals stop treating the deal as still waiting.
It stays recorded and counted, unannounced, and `teambeat status` lists it.
"""

from __future__ import annotations

from sqlalchemy import select, update
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
            query = select(Deal).where(Deal.id == deal_id)
            if is_postgres(session.bind):  # a void of this deal waits for the announcements (and sees them)
                query = query.with_for_update(of=Deal)
            deal = await session.scalar(query)
            if deal is None or not deal.announce_pending or deal.voided_at is not None:
                return  # announced already, voided, or gone with its team
            await self._announcer.announce_deal(uow, deal)
            if await _clear(session, deal_id):
                await uow.commit()

    @staticmethod
    async def on_parked(session: AsyncSession, job: Job) -> None:
        await _clear(session, int(job.payload["deal_id"]))


async def _clear(session: AsyncSession, deal_id: int) -> bool:
    cleared = await session.execute(
        update(Deal).where(Deal.id == deal_id, Deal.announce_pending.is_(True)).values(announce_pending=False)
    )
    return cleared.rowcount == 1

"""The announcement queue: deals committed with `announce_pending`, announced one by one in order.

Recording a deal (webhook, `/deal`, import) only writes the deal; its announcements take a dozen board
reads, done here after the commit so the sender gets its answer at once. The flag is part of the deal's
own transaction, so an acknowledged deal is announced even if the process dies in between; it is cleared
in the transaction that writes the announcements to the outbox, so each deal is announced exactly once.
Several processes may work the queue: PostgreSQL hands each deal to one of them (SKIP LOCKED) and the
announcer locks the team; on SQLite, clearing the flag is conditional and a loser rolls back.

A deal whose announcement fails (anything but the database being unavailable) is tried again, and after
MAX_ATTEMPTS failures set aside — parked, with its reason, for `teambeat status` and /metrics — so it never
holds up the deals behind it. It stays recorded and counted, unannounced. The count is in the database, so
a deal that fails every time is set aside even if each failure ends the process that tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import case, literal, select, update
from sqlalchemy.exc import OperationalError

from bot.announcer import Announcer
from bot.domain.events import DealRecorded
from bot.foreground import Foreground
from bot.storage.db import is_postgres
from bot.storage.orm import Deal
from bot.storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0  # deals queued by another process (an import, a replica) are found this often
RETRY_SECONDS = 1.0  # after the database was locked or unreachable
YIELD_AT_MOST = 2.0  # the longest the queue gives way to requests before announcing the next deal
QUIET_SECONDS = 0.05  # ...and the pause in requests it waits for: in a burst they come closer than that
MAX_ATTEMPTS = 3  # failed attempts at a deal's announcement before it is set aside
REASON_LENGTH = 500  # the width of deals.announce_error


class AnnouncementQueue:
    """`drain()` announces every waiting deal; `run_forever()` does so whenever a deal is recorded."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, announcer: Announcer, foreground: Foreground | None = None
    ) -> None:
        self._uow_factory = uow_factory
        self._announcer = announcer
        self._foreground = foreground
        self._wake = asyncio.Event()

    def notice(self, committed: list[object]) -> None:
        """An after-commit hook: wake up when a committed unit of work recorded a deal to announce."""
        if any(isinstance(event, DealRecorded) and event.announce for event in committed):
            self._wake.set()

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Announce every deal waiting now (and any recorded meanwhile), or until `stop` is set (the
        rest keep waiting, in the database, for the next drain); the number announced."""
        announced = 0
        while not (stop is not None and stop.is_set()):
            if self._foreground is not None:
                await self._foreground.wait_idle(YIELD_AT_MOST, QUIET_SECONDS)
            if not await self.announce_next():
                break
            announced += 1  # its commit woke the delivery worker (UnitOfWork.on_outbox)
        return announced

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float = POLL_SECONDS) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.drain(stop)
            except OperationalError as exc:
                log.warning("announcement queue: database unavailable, retrying: %s", exc)
                await _sleep_or_stop(stop, RETRY_SECONDS)
                continue
            waker = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait(
                    {waker, stopper}, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waker.cancel()
                stopper.cancel()

    async def announce_next(self) -> bool:
        """Announce the oldest waiting deal in one transaction; False when none is waiting."""
        async with self._uow_factory() as uow:
            session = uow.session
            query = select(Deal).where(Deal.announce_pending.is_(True)).order_by(Deal.id).limit(1)
            if is_postgres(session.bind):
                query = query.with_for_update(skip_locked=True, of=Deal)
            deal = await session.scalar(query)
            if deal is None:
                return False
            deal_id = deal.id
            try:
                if deal.voided_at is None:
                    await self._announcer.announce_deal(uow, deal)
            except OperationalError:
                raise
            except Exception as exc:
                log.exception("announcing deal %s failed", deal_id)
                await uow.rollback()
                if await _failed(session, deal_id, _reason(exc), self._announcer.now()):
                    log.error(
                        "deal %s set aside after %d failed attempts: it stays recorded, unannounced",
                        deal_id,
                        MAX_ATTEMPTS,
                    )
                await session.commit()
                return True
            if await _clear(session, deal_id):
                await uow.commit()
            else:  # another process announced it first (SQLite has no SKIP LOCKED)
                await uow.rollback()
            return True


async def _clear(session, deal_id: int) -> bool:
    cleared = await session.execute(
        update(Deal).where(Deal.id == deal_id, Deal.announce_pending.is_(True)).values(announce_pending=False)
    )
    return cleared.rowcount == 1


async def _failed(session, deal_id: int, reason: str, now) -> bool:
    """Count a failed attempt and keep its reason; at the last attempt set the deal aside (True)."""
    last = Deal.announce_attempts + 1 >= MAX_ATTEMPTS
    parked_at = literal(now, Deal.__table__.c.announce_parked_at.type)  # stored as UTC, like the column
    await session.execute(
        update(Deal)
        .where(Deal.id == deal_id, Deal.announce_pending.is_(True))
        .values(
            announce_attempts=Deal.announce_attempts + 1,
            announce_error=reason,
            announce_pending=case((last, False), else_=True),
            announce_parked_at=case((last, parked_at), else_=None),
        )
    )
    parked = await session.scalar(select(Deal.announce_parked_at).where(Deal.id == deal_id))
    return parked is not None


def _reason(exc: BaseException) -> str:
    """One line saying what went wrong, short enough for its column."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)

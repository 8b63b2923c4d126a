"""One way in: a request an adapter acknowledges is first a `command.<adapter>` job, committed.

Platforms want their answer within seconds (Slack 3 s, DingTalk a few, WeCom 5 s); the work behind a
command can take longer. So an adapter `take`s the request — one row of the jobs table, committed —
and only then acknowledges it. A job worker of this process hands it to the adapter's handler (the row
is queued leased to that worker and run at once; with every slot busy, it is claimed later): the payload
as taken and when it was received, translated into an `IncomingMessage` and run through the dispatcher.
A crash in between loses nothing: the row outlives the process, and once its lease lapses (or at once,
if it was not leased) the next start, or another replica running the same adapter, handles it. The
dispatcher's event-id check makes a request handled twice count once.

A process that only takes requests in (`teambeat run --role web`) starts its intake without working:
`take` commits the job and returns, and a process that works jobs (`--role worker` or `all`) handles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.jobs import queue
from bot.jobs.kinds import COMMAND
from bot.jobs.queue import Job
from bot.jobs.worker import JobSettings, JobWorker

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], datetime], Awaitable[None]]
"""(the payload as taken, when it was received): handles one request."""

IN_HAND = 32  # commands in hand at once per adapter and process; past that each waits for a claim


def command_kind(adapter: str) -> str:
    return f"{COMMAND}.{adapter}"


class Intake:
    """One adapter's requests between their acknowledgement and their handling."""

    def __init__(
        self,
        name: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        handler: Handler,
        *,
        in_hand: int = IN_HAND,
    ) -> None:
        self._name = name
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._handler = handler
        self.kind = command_kind(name)
        self._worker = JobWorker(sessionmaker, clock, JobSettings(concurrency=in_hand))
        self._worker.register(self.kind, self._run)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.works = False
        """Whether this process handles the commands taken (else another process does)."""

    async def start(self, *, work: bool = True) -> None:
        """Handle commands from now on (`work`), or only take them in."""
        if self._task is not None or not work:  # started already, or another process handles them
            return
        self.works = True
        async with self._sessionmaker() as session:
            left = await queue.waiting_count(session, self.kind)
        if left:
            log.warning("%s: %d acknowledged request(s) left by an earlier run", self._name, left)
        self._stop.clear()
        self._task = asyncio.create_task(self._worker.run_forever(self._stop), name=f"intake-{self._name}")

    async def stop(self) -> None:
        """Give up the commands still in hand (the adapter waited its grace for them) and stop: they,
        and the rest, wait in the jobs table for the next start."""
        self._stop.set()
        self._worker.cancel_in_hand()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
        self.works = False

    async def take(self, payload: dict[str, Any]) -> None:
        """Return once `payload` is committed (so the caller may acknowledge it); raises when it could
        not be stored — then nothing was acknowledged, and the platform will send it again.

        Where this process handles commands and has a slot free, the job is queued leased to it and
        handled at once, with no claim; otherwise a worker (here or in another process) claims it."""
        now = self._clock.now()
        job = {"payload": payload, "received_at": now.isoformat()}
        mine = self.works and self._worker.reserve()
        try:
            async with self._sessionmaker() as session:
                if mine:
                    lease = timedelta(seconds=self._worker.settings.lease)
                    taken = await queue.enqueue_leased(
                        session, self.kind, job, now=now, owner=self._worker.owner, lease=lease
                    )
                else:
                    await queue.enqueue(session, self.kind, job, now=now)
                await session.commit()
        except BaseException:
            if mine:
                self._worker.unreserve()
            raise
        if mine:
            self._worker.adopt(taken)
        else:
            self._worker.wake()

    async def wait_idle(self) -> None:
        """Until every command taken so far and due has been handled (tests, a clean stop); with the
        database away, until those in hand are. Returns at once where commands are only taken in."""
        while self.works:
            await self._worker.wait_idle()
            try:
                ran = await self._worker.drain()
            except SQLAlchemyError as exc:
                log.warning("%s: cannot look for commands left to handle: %s", self._name, exc)
                ran = 0
            if not ran:
                await self._worker.wait_idle()
                return

    async def _run(self, job: Job) -> None:
        received_at = datetime.fromisoformat(job.payload["received_at"])
        if received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=UTC)
        await self._handler(job.payload["payload"], received_at)

"""The job worker: claims due jobs, runs the handler registered for each kind, and lets go of them.

- A few jobs run at once; a kind registered `serial` runs one at a time in this worker (a deal's
  announcements read the boards as of the deals announced before it).
- While jobs are in hand their leases are renewed every `heartbeat` seconds; a worker that dies stops
  renewing, and another takes its jobs over once the lease (`lease` seconds) lapses.
- Success deletes the job, `finish_delay` seconds later together with the jobs done meanwhile (one
  DELETE for many, not a transaction each). A failure is tried again after
  an exponential backoff; after `max_attempts` claims it is parked with its reason (the kind's
  `on_parked` hook runs in that transaction) and the jobs behind it go on.
- Handlers must tolerate running twice (a worker may die after the work and before the delete).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.jobs import queue
from bot.jobs.queue import Job

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]
ParkedHook = Callable[[AsyncSession, Job], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobSettings:
    concurrency: int = 8
    lease: float = 10.0  # seconds a claim lasts without a heartbeat
    heartbeat: float = 3.0
    poll: float = 1.0  # seconds between looks for jobs queued by another process
    max_attempts: int = 5
    backoff: float = 1.0  # seconds before the second attempt; doubled each time
    max_backoff: float = 300.0
    finish_delay: float = 0.1  # seconds a done job's row waits, to be deleted with those done meanwhile


@dataclass(frozen=True, slots=True)
class _Kind:
    handler: Handler
    serial: bool
    on_parked: ParkedHook | None


class JobWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: JobSettings | None = None,
        *,
        owner: str | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self.settings = settings or JobSettings()
        self.owner = owner or f"jobs-{uuid.uuid4().hex[:12]}"
        self._kinds: dict[str, _Kind] = {}
        self._in_hand: dict[int, str] = {}  # job id -> kind
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._claiming = asyncio.Lock()
        self._finished: list[int] = []  # done, row not deleted yet (`_delete_finished`)
        self._deleting: asyncio.Task[None] | None = None  # deletes `_finished` after `finish_delay`
        self._reserved = 0  # slots kept for jobs being queued by this process (`reserve`)
        self._may_have_work = True  # whether a claim may find a job: after a wake, a find or a poll

    def register(
        self, kind: str, handler: Handler, *, serial: bool = False, on_parked: ParkedHook | None = None
    ) -> None:
        self._kinds[kind] = _Kind(handler, serial, on_parked)

    def handles(self, kind: str) -> bool:
        return kind in self._kinds

    def wake(self, *_: object) -> None:
        """Look for jobs now (after a commit that queued one)."""
        self._may_have_work = True
        self._wake.set()

    # ----- running ----------------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop`; jobs in hand are finished, the rest wait in the table."""
        heart = asyncio.create_task(self._heartbeat(), name=f"{self.owner}-heartbeat")
        try:
            while not stop.is_set():
                self._wake.clear()
                self._done.clear()
                if self._may_have_work and self._has_room():
                    self._may_have_work = False  # until a claim finds one, a wake, or the next poll
                    try:
                        job = await self._claim()
                    except Exception as exc:  # the database is away: look again at the next poll
                        log.warning("jobs: could not claim: %s", exc)
                        job = None
                    if job is not None:
                        # More may be due; after a serial kind's job, look again when it is done.
                        self._may_have_work = not self._kinds[job.kind].serial
                        self._start(job)
                        continue
                woken = await _first_of(stop, self._wake, self._done, timeout=self.settings.poll)
                if not woken:  # a job queued by another process, or one due by now
                    self._may_have_work = True
        except asyncio.CancelledError:  # killed: the jobs in hand are dropped, their leases lapse
            for task in self._tasks:
                task.cancel()
            raise
        finally:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            heart.cancel()
            await asyncio.gather(heart, return_exceptions=True)
            await self._release()

    def reserve(self) -> bool:
        """Keep a slot for a job this process queues leased to this worker (`queue.enqueue_leased`),
        to run it without claiming it; False when every slot is taken (queue it for a claim then)."""
        if not self._has_room():
            return False
        self._reserved += 1
        return True

    def unreserve(self) -> None:
        """The job meant for the slot kept by `reserve` was not queued after all."""
        self._reserved -= 1

    def adopt(self, job: Job) -> None:
        """Run a job queued leased to this worker, in the slot `reserve` kept."""
        assert not self._kinds[job.kind].serial, "a serial kind is only run through a claim"
        self._reserved -= 1
        self._in_hand[job.id] = job.kind
        self._start(job)

    def _has_room(self) -> bool:
        return len(self._tasks) + self._reserved < self.settings.concurrency

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Run every due job now, one at a time, until none is left (tests, the console, imports);
        the number run. A serial kind another drain has in hand is left to that one."""
        ran = 0
        heart = asyncio.create_task(self._heartbeat(), name=f"{self.owner}-drain-heartbeat")
        try:
            while not (stop is not None and stop.is_set()):
                job = await self._claim()
                if job is None:
                    break
                try:
                    await self._run(job)
                    await self._delete_finished()
                finally:
                    self._in_hand.pop(job.id, None)
                ran += 1
        finally:
            heart.cancel()
            await asyncio.gather(heart, return_exceptions=True)
        return ran

    async def wait_idle(self) -> None:
        """Until the jobs in hand are done (cancelling this wait leaves them running)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))
        await self._delete_now()

    def cancel_in_hand(self) -> None:
        """Give up the jobs running now (a stop whose grace is over): they stay in the table."""
        for task in self._tasks:
            task.cancel()

    async def _release(self) -> None:
        """Stopped: the rows of jobs done go, and the leases of jobs given up at once, not when they lapse."""
        await self._delete_now()
        try:
            async with self._sessionmaker() as session:
                await queue.release(session, self.owner)
        except Exception as exc:
            log.warning("jobs: could not release leases (they lapse): %s", exc)

    def _start(self, job: Job) -> None:
        task = asyncio.create_task(self._run(job), name=f"job-{job.kind}-{job.id}")
        self._tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self._in_hand.pop(job.id, None)
            if self._finished and self._deleting is None:
                self._deleting = asyncio.create_task(self._delete_soon(), name=f"{self.owner}-finish")
            if self._kinds[job.kind].serial:  # its kind, left out of claims meanwhile, may have more
                self._may_have_work = True
            self._done.set()

        task.add_done_callback(done)

    async def _claim(self) -> Job | None:
        """The next job for this worker, marked in hand (one claim at a time: a serial kind's job in
        hand is seen by the next claim, which then leaves that kind alone)."""
        async with self._claiming:
            while True:
                busy = {kind for kind in self._in_hand.values() if self._kinds[kind].serial}
                kinds = frozenset(self._kinds) - busy
                if not kinds:
                    return None
                lease = timedelta(seconds=self.settings.lease)
                async with self._sessionmaker() as session:
                    job = await queue.claim(session, self.owner, self._clock.now(), lease, kinds)
                if job is None or job.attempts <= self.settings.max_attempts:
                    if job is not None:
                        self._in_hand[job.id] = job.kind
                    return job
                # Claimed that often and never finished: its workers died with it in hand.
                reason = f"abandoned {job.attempts - 1} times (the worker stopped while running it)"
                await self._let_go(job, reason, park=True)

    async def _run(self, job: Job) -> None:
        kind = self._kinds[job.kind]
        try:
            await kind.handler(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("job %s (%s) failed, attempt %d", job.id, job.kind, job.attempts)
            park = job.attempts >= self.settings.max_attempts
            with contextlib.suppress(Exception):  # unwritable: the lease lapses, it is tried again
                await self._let_go(job, queue.reason_of(exc), park=park)
            return
        self._finished.append(job.id)

    async def _delete_soon(self) -> None:
        await asyncio.sleep(self.settings.finish_delay)
        self._deleting = None
        await self._delete_finished()

    async def _delete_now(self) -> None:
        """The done jobs' rows go now, not at the end of the delay."""
        if self._deleting is not None:
            self._deleting.cancel()
            self._deleting = None
        await self._delete_finished()

    async def _delete_finished(self) -> None:
        """Delete the rows of the jobs done so far, in one statement. Until then a done job's row keeps
        its lease; should the process die first, the job runs again once it lapses, which handlers
        tolerate."""
        done, self._finished = self._finished, []
        if not done:
            return
        try:
            async with self._sessionmaker() as session:
                await queue.finish(session, done)
                await session.commit()
        except Exception as exc:  # left leased: run again once the lease lapses (handlers tolerate that)
            log.warning("jobs: could not delete %d finished job(s): %s", len(done), exc)

    async def _let_go(self, job: Job, reason: str, *, park: bool) -> None:
        now = self._clock.now()
        delay = min(self.settings.max_backoff, self.settings.backoff * 2 ** max(0, job.attempts - 1))
        async with self._sessionmaker() as session:
            retry_at = None if park else now + timedelta(seconds=delay)
            await queue.fail(session, job, reason, now, retry_at=retry_at)
            hook = self._kinds[job.kind].on_parked
            if park and hook is not None:
                await hook(session, job)
            await session.commit()
        if park:
            log.error("job %s (%s) parked after %d attempts: %s", job.id, job.kind, job.attempts, reason)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat)
            await self._delete_finished()
            if not self._in_hand:
                continue
            until = self._clock.now() + timedelta(seconds=self.settings.lease)
            try:
                async with self._sessionmaker() as session:
                    await queue.renew(session, self.owner, list(self._in_hand), until)
            except Exception as exc:
                log.warning("jobs: could not renew leases: %s", exc)


async def _first_of(stop: asyncio.Event, *events: asyncio.Event, timeout: float) -> bool:
    """Wait until one of the events is set (True) or `timeout` seconds have passed (False)."""
    waiters = [asyncio.ensure_future(event.wait()) for event in (stop, *events)]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for waiter in waiters:
            waiter.cancel()

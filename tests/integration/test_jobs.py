"""The job queue on real SQLite and PostgreSQL: transactional enqueue, exclusive claims, leases that
lapse when a worker dies, backoff, and parking a job that keeps failing without holding up the rest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FixedClock, SystemClock
from bot.jobs import queue
from bot.jobs.queue import Job
from bot.jobs.status import jobs_status, render_jobs
from bot.jobs.worker import JobSettings, JobWorker
from bot.metrics import Metrics
from bot.observe import refresh_gauges
from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.orm import JobRow
from tests.support.statements import statements_starting

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=10)


async def _queue(sessionmaker: async_sessionmaker[AsyncSession], n: int, kind: str = "k", now=NOW) -> None:
    async with sessionmaker() as session:
        for i in range(n):
            await queue.enqueue(session, kind, {"n": i}, now=now)
        await session.commit()


async def _rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[JobRow]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(JobRow).order_by(JobRow.id)))


async def test_a_job_exists_only_if_its_transaction_commits(sessionmaker) -> None:
    async with sessionmaker() as session:
        await queue.enqueue(session, "k", {"n": 1}, now=NOW)
        await session.rollback()
        await queue.enqueue(session, "k", {"n": 2}, now=NOW, key="same")
        assert not await queue.enqueue(session, "k", {"n": 3}, now=NOW, key="same")  # keyed: once
        await session.commit()
    ran: list[dict] = []

    async def handler(job: Job) -> None:
        ran.append(job.payload)

    worker = JobWorker(sessionmaker, FixedClock(NOW))
    worker.register("k", handler)
    assert await worker.drain() == 1
    assert ran == [{"n": 2}]
    assert await _rows(sessionmaker) == []  # done: deleted


async def test_concurrent_claims_never_share_a_job(database_url, engine: AsyncEngine) -> None:
    """Two processes' pools claiming at once (PostgreSQL: SKIP LOCKED) each get different jobs."""
    url, pg_schema = database_url
    other = create_engine(url, pg_schema=pg_schema)
    try:
        makers = [create_sessionmaker(engine), create_sessionmaker(other)]
        await _queue(makers[0], 20)

        async def claim(i: int) -> Job | None:
            async with makers[i % 2]() as session:
                return await queue.claim(session, f"w{i % 2}", NOW, LEASE, frozenset({"k"}))

        claimed = [job for job in await asyncio.gather(*(claim(i) for i in range(40))) if job is not None]
    finally:
        await other.dispose()
    ids = [job.id for job in claimed]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert all(row.lease_owner in ("w0", "w1") for row in await _rows(makers[0]))


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_workers_run_every_job_exactly_once(database_url, engine: AsyncEngine) -> None:
    url, pg_schema = database_url
    other = create_engine(url, pg_schema=pg_schema)
    makers = [create_sessionmaker(engine), create_sessionmaker(other)]
    await _queue(makers[0], 60, now=SystemClock().now())
    ran: list[tuple[str, int]] = []
    stop = asyncio.Event()
    workers = [JobWorker(m, SystemClock(), JobSettings(concurrency=4, poll=0.05)) for m in makers]

    def handler_for(worker: JobWorker):
        async def handler(job: Job) -> None:
            ran.append((worker.owner, job.payload["n"]))
            await asyncio.sleep(0.01)
            if len(ran) == 60:
                stop.set()

        return handler

    for worker in workers:
        worker.register("k", handler_for(worker))
    try:
        await asyncio.wait_for(asyncio.gather(*(w.run_forever(stop) for w in workers)), timeout=30)
    finally:
        await other.dispose()
    assert sorted(n for _, n in ran) == list(range(60))
    assert {owner for owner, _ in ran} == {w.owner for w in workers}  # both took a share
    assert await _rows(makers[0]) == []


async def test_a_dead_workers_job_is_taken_over_when_its_lease_lapses(sessionmaker) -> None:
    clock = FixedClock(NOW)
    await _queue(sessionmaker, 1)
    async with sessionmaker() as session:  # a worker claims it, then dies: no heartbeat, no delete
        assert await queue.claim(session, "dead", NOW, LEASE, frozenset({"k"})) is not None
    ran: list[int] = []

    async def handler(job: Job) -> None:
        ran.append(job.attempts)

    worker = JobWorker(sessionmaker, clock)
    worker.register("k", handler)
    assert await worker.drain() == 0  # leased: not claimable
    clock.advance(LEASE - timedelta(seconds=1))
    assert await worker.drain() == 0
    clock.advance(timedelta(seconds=2))  # the lease lapsed
    assert await worker.drain() == 1
    assert ran == [2]  # the second claim
    assert await _rows(sessionmaker) == []


async def test_the_heartbeat_keeps_a_long_job_and_a_killed_worker_loses_it(sessionmaker) -> None:
    """Real time, short leases: a job running three leases long stays with its worker; once that worker
    is gone (its task killed), another takes the job over within a lease and a poll."""
    settings = JobSettings(lease=0.6, heartbeat=0.15, poll=0.05)
    await _queue(sessionmaker, 1, now=SystemClock().now())
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.sleep(1.8)
        finished.append("slow")

    async def quick(job: Job) -> None:
        finished.append("taken over")

    first = JobWorker(sessionmaker, SystemClock(), settings)
    first.register("k", slow)
    second = JobWorker(sessionmaker, SystemClock(), settings)
    second.register("k", quick)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(first.run_forever(stop_first))
    await asyncio.wait_for(started.wait(), 5)
    # Three leases' time: the heartbeat keeps the job with the first worker, the second finds nothing.
    assert await asyncio.wait_for(_run_for(second, stop_second, 1.2), 5) == []
    running.cancel()  # killed mid-job: no heartbeat, no delete (a crash)
    await asyncio.gather(running, return_exceptions=True)
    begun = asyncio.get_running_loop().time()
    stop_second.clear()
    await asyncio.wait_for(_run_until(second, stop_second, lambda: finished == ["taken over"]), 5)
    assert asyncio.get_running_loop().time() - begun < settings.lease + 0.5
    assert await _rows(sessionmaker) == []


async def _run_for(worker: JobWorker, stop: asyncio.Event, seconds: float) -> list[JobRow]:
    task = asyncio.create_task(worker.run_forever(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return []


async def _run_until(worker: JobWorker, stop: asyncio.Event, done) -> None:
    task = asyncio.create_task(worker.run_forever(stop))
    while not done():
        await asyncio.sleep(0.02)
    stop.set()
    await task


async def test_failures_back_off_exponentially_then_park_and_the_next_job_still_runs(sessionmaker) -> None:
    clock = FixedClock(NOW)
    async with sessionmaker() as session:
        await queue.enqueue(session, "k", {"n": "poison"}, now=NOW)
        await queue.enqueue(session, "k", {"n": "good"}, now=NOW)
        await session.commit()
    ran: list[str] = []
    parked_hook: list[object] = []

    async def handler(job: Job) -> None:
        ran.append(job.payload["n"])
        if job.payload["n"] == "poison":
            raise RuntimeError("cannot build the post")

    async def on_parked(session: AsyncSession, job: Job) -> None:
        parked_hook.append(job.payload["n"])

    worker = JobWorker(sessionmaker, clock, JobSettings(max_attempts=3, backoff=2.0))
    worker.register("k", handler, on_parked=on_parked)
    assert await worker.drain() == 2
    assert ran == ["poison", "good"]  # the failure held nothing up
    (row,) = await _rows(sessionmaker)
    assert row.run_after == NOW + timedelta(seconds=2) and row.lease_owner is None
    assert row.last_error == "RuntimeError: cannot build the post" and row.parked_at is None
    clock.advance(timedelta(seconds=1))
    assert await worker.drain() == 0  # not due yet
    clock.advance(timedelta(seconds=1))
    assert await worker.drain() == 1
    (row,) = await _rows(sessionmaker)
    assert row.run_after == clock.now() + timedelta(seconds=4)  # doubled
    clock.advance(timedelta(seconds=4))
    assert await worker.drain() == 1
    (row,) = await _rows(sessionmaker)
    assert row.parked_at == clock.now() and row.attempts == 3
    assert parked_hook == ["poison"]
    clock.advance(timedelta(days=1))
    assert await worker.drain() == 0  # parked: never claimed again
    async with sessionmaker() as session:
        assert await queue.parked_count(session) == 1
        assert await queue.waiting_count(session) == 0


async def test_a_job_that_kills_every_worker_is_parked(sessionmaker) -> None:
    """Claimed max_attempts times and never finished (each worker died with it): parked, not run."""
    clock = FixedClock(NOW)
    await _queue(sessionmaker, 1)
    for _ in range(3):
        async with sessionmaker() as session:
            assert await queue.claim(session, "dies", clock.now(), LEASE, frozenset({"k"})) is not None
        clock.advance(LEASE + timedelta(seconds=1))
    ran: list[int] = []

    async def handler(job: Job) -> None:
        ran.append(job.id)

    worker = JobWorker(sessionmaker, clock, JobSettings(max_attempts=3))
    worker.register("k", handler)
    assert await worker.drain() == 0
    assert ran == []
    (row,) = await _rows(sessionmaker)
    assert row.parked_at is not None and "abandoned 3 times" in (row.last_error or "")


async def test_only_registered_kinds_are_claimed(sessionmaker) -> None:
    await _queue(sessionmaker, 1, kind="other")
    worker = JobWorker(sessionmaker, FixedClock(NOW))
    worker.register("k", lambda job: asyncio.sleep(0))
    assert await worker.drain() == 0
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow)) == 1


async def test_teambeat_status_shows_waiting_and_parked_jobs_with_their_reasons(sessionmaker) -> None:
    clock = FixedClock(NOW)
    async with sessionmaker() as session:
        await queue.enqueue(session, "command.slack", {"n": "bad"}, now=NOW)
        await queue.enqueue(session, "command.slack", {"n": "later"}, now=NOW + timedelta(seconds=30))
        await session.commit()

    async def handler(job: Job) -> None:
        if job.payload["n"] == "bad":
            raise ValueError("no such channel")

    worker = JobWorker(sessionmaker, clock, JobSettings(max_attempts=1))
    worker.register("command.slack", handler)
    assert await worker.drain() == 1  # the later one is not due yet
    clock.advance(timedelta(minutes=2))
    async with sessionmaker() as session:
        text = render_jobs(await jobs_status(session), clock.now())
    lines = text.splitlines()
    assert lines[0] == "jobs: 1 waiting (oldest 1m 30s) · 1 parked"
    assert lines[1].startswith("  job #") and "(command.slack) parked 2m 00s ago · 1 attempt" in lines[1]
    assert lines[1].endswith("ValueError: no such channel")


async def test_metrics_show_waiting_jobs_the_oldest_ones_age_and_parked_jobs_by_kind(sessionmaker) -> None:
    clock = FixedClock(NOW)
    await _queue(sessionmaker, 1, kind="poison")
    await _queue(sessionmaker, 2, kind="later", now=NOW + timedelta(seconds=30))

    async def handler(job: Job) -> None:
        raise RuntimeError("cannot build the post")

    worker = JobWorker(sessionmaker, clock, JobSettings(max_attempts=1))
    worker.register("poison", handler)
    assert await worker.drain() == 1
    metrics = Metrics()
    async with sessionmaker() as session:
        await refresh_gauges(metrics, session, NOW + timedelta(minutes=2))
    value = metrics.registry.get_sample_value
    assert value("teambeat_jobs_parked", {"kind": "poison"}) == 1
    assert value("teambeat_jobs_parked", {"kind": "later"}) is None
    assert value("teambeat_jobs_waiting") == 2
    assert value("teambeat_jobs_oldest_waiting_seconds") == 90


async def test_jobs_finishing_side_by_side_are_deleted_together(engine: AsyncEngine, sessionmaker) -> None:
    """Five jobs in hand at once: their rows go in one DELETE once they are done, not one each; a job
    done while nothing else is in hand goes too."""
    await _queue(sessionmaker, 5, now=SystemClock().now())
    release = asyncio.Event()
    started: list[int] = []

    async def held(job: Job) -> None:
        started.append(job.id)
        await release.wait()

    worker = JobWorker(sessionmaker, SystemClock(), JobSettings(poll=0.05))
    worker.register("k", held)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    try:
        with statements_starting(engine, "DELETE FROM JOBS") as deletes:
            while len(started) < 5:
                await asyncio.sleep(0.01)
            release.set()
            await asyncio.wait_for(worker.wait_idle(), 5)
            assert await _rows(sessionmaker) == []
            assert len(deletes) == 1

            await _queue(sessionmaker, 1, now=SystemClock().now())
            worker.wake()
            while len(started) < 6:
                await asyncio.sleep(0.01)
            await asyncio.wait_for(worker.wait_idle(), 5)
            assert len(deletes) == 2 and await _rows(sessionmaker) == []
    finally:
        stop.set()
        await running


async def test_jobs_done_one_after_another_within_the_delay_are_deleted_together(
    engine: AsyncEngine, sessionmaker
) -> None:
    """Never two in hand at once (one slot), yet done within `finish_delay` of each other: one DELETE
    for both, and then without anyone waiting for the worker to be idle."""
    await _queue(sessionmaker, 2, now=SystemClock().now())
    ran: list[int] = []

    async def handler(job: Job) -> None:
        ran.append(job.id)

    settings = JobSettings(concurrency=1, poll=0.05, finish_delay=0.5)
    worker = JobWorker(sessionmaker, SystemClock(), settings)
    worker.register("k", handler)
    stop = asyncio.Event()
    with statements_starting(engine, "DELETE FROM JOBS") as deletes:
        running = asyncio.create_task(worker.run_forever(stop))
        try:
            while len(ran) < 2 or await _rows(sessionmaker):
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await running
    assert len(deletes) == 1


async def test_a_job_queued_leased_to_its_worker_runs_without_a_claim(
    engine: AsyncEngine, sessionmaker
) -> None:
    """The intake's path: the row is written already leased to this worker, which runs it at once; no
    claim statement is made for it, and a worker with every slot taken leaves the row to a claim."""
    ran: list[dict] = []

    async def handler(job: Job) -> None:
        ran.append(job.payload)

    worker = JobWorker(sessionmaker, SystemClock(), JobSettings(concurrency=1))
    worker.register("k", handler)
    with statements_starting(engine, "UPDATE JOBS SET ATTEMPTS") as claims:
        assert worker.reserve()
        assert not worker.reserve()  # the one slot is kept
        async with sessionmaker() as session:
            job = await queue.enqueue_leased(
                session, "k", {"n": 1}, now=SystemClock().now(), owner=worker.owner, lease=LEASE
            )
            await session.commit()
        worker.adopt(job)
        await asyncio.wait_for(worker.wait_idle(), 5)
    assert ran == [{"n": 1}] and claims == []
    assert await _rows(sessionmaker) == []
    assert worker.reserve()  # the slot is free again


async def test_a_serial_kinds_job_is_not_followed_by_a_claim_that_must_find_nothing(
    engine: AsyncEngine, sessionmaker
) -> None:
    """A deal's announcement (a serial kind) beside another kind: one claim takes it, one more after it
    looks for the next; none right after the first, which could only find the other kind's (those come
    with a wake or the poll)."""
    ran: list[dict] = []

    async def handler(job: Job) -> None:
        await asyncio.sleep(0.05)
        ran.append(job.payload)

    worker = JobWorker(sessionmaker, SystemClock(), JobSettings(poll=5))
    worker.register("serial", handler, serial=True)
    worker.register("other", handler)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    await asyncio.sleep(0.05)  # its first look, at start, finds nothing
    try:
        with statements_starting(engine, "UPDATE JOBS SET ATTEMPTS") as claims:
            await _queue(sessionmaker, 1, kind="serial", now=SystemClock().now())
            worker.wake()
            while not ran:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await running
    assert ran == [{"n": 0}]
    assert len(claims) == 2

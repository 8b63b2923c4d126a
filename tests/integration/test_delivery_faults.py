"""Delivery against a real HTTP platform on loopback: outages, 429s, a robot's rate limit, two workers.

Each post is one JSON POST from a test adapter (httpx) to a fake platform (starlette under uvicorn); the
platform, not the worker, is the witness of what arrived, when, and in which order.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FixedClock, SystemClock
from bot.config import DeliveryConfig
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text
from bot.metrics import Metrics
from bot.ports import ChannelLimits
from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.orm import OutboxRow
from bot.storage.uow import UnitOfWorkFactory
from tests.support.fake_platform import FakePlatform, HttpPostAdapter, Phase, busiest_window
from tests.support.loopback import serve

FAST = ChannelLimits(max_message_bytes=100_000, rate_per_minute=6000, burst=100)


def post(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)),), text)


async def put(
    uow_factory: UnitOfWorkFactory, platform: str, channel: str, texts: list[str], now: datetime
) -> None:
    async with uow_factory() as uow:
        for text in texts:
            destination = ChannelRef(platform, "W", channel, "group")
            await enqueue(uow.session, channel=destination, message=post(text), dedupe_key=text, now=now)
        await uow.commit()


async def until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the platform"
        await asyncio.sleep(0.02)


async def outbox(uow_factory: UnitOfWorkFactory) -> list[OutboxRow]:
    async with uow_factory() as uow:
        rows = list(await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        await uow.session.commit()  # ends the read without expiring the rows (a rollback would)
        return rows


@pytest.mark.slow
async def test_outage_then_429_then_recovery_delivers_every_post_once_in_order(uow_factory):
    """R2/R3: 500s for a second, then 429 with Retry-After: 1 for a second, then 200."""
    clock = SystemClock()
    platform = FakePlatform(clock, phases=[Phase(1.0, 500), Phase(2.0, 429, retry_after=1)])
    config = DeliveryConfig(poll_interval=0.2, base_backoff=0.05, max_backoff=0.4, max_attempts=100)
    metrics = Metrics()
    expected = {channel: [f"{channel}-{i}" for i in range(10)] for channel in ("C1", "C2", "C3")}
    async with serve(platform.asgi()) as url:
        adapter = HttpPostAdapter(url, FAST)
        worker = DeliveryWorker.from_config(uow_factory, {"console": adapter}, clock, config, metrics=metrics)
        for channel, texts in expected.items():
            await put(uow_factory, "console", channel, texts[:5], clock.now())
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run_forever(stop))
        await asyncio.sleep(0.3)  # the outage is under way; more posts arrive and wake the worker
        for channel, texts in expected.items():
            await put(uow_factory, "console", channel, texts[5:], clock.now())
        worker.wake()
        await until(lambda: len(platform.accepted) == 30, timeout=30)
        stop.set()
        await running
        await adapter.stop()

    for channel, texts in expected.items():
        assert platform.texts(channel) == texts  # each once, in order
    answers = Counter(r.status for r in platform.requests)
    assert answers[500] > 0 and answers[429] > 0 and answers[200] == 30
    for refused in (r for r in platform.requests if r.status == 429):
        following = [
            r for r in platform.requests if r.destination == refused.destination and r.at > refused.at
        ]
        assert not following or following[0].at - refused.at >= timedelta(seconds=1)  # Retry-After honoured
    rows = await outbox(uow_factory)
    assert {r.status for r in rows} == {"sent"} and all(r.message_id for r in rows)
    assert max(r.attempts for r in rows) > 1
    errors = metrics.registry.get_sample_value(
        "teambeat_platform_errors_total", {"platform": "console", "kind": "transient"}
    )
    assert errors == answers[500] + answers[429]
    assert (
        metrics.registry.get_sample_value("teambeat_delivery_latency_seconds_count", {"platform": "console"})
        == 30
    )


@pytest.mark.parametrize(
    ("declared", "override"),
    [(20, None), (60, 20)],
    ids=["robot-declares-20", "config-lowers-60-to-20"],
)
async def test_a_robot_limited_to_20_a_minute_never_sees_21(uow_factory, declared, override):
    """DingTalk blocks a robot for 10 minutes past 20 posts a minute: 60 posts take exactly two minutes."""
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clock = FixedClock(start)
    platform = FakePlatform(clock, limit=(20, 60.0))
    texts = [f"喜报 {i}" for i in range(60)]
    await put(uow_factory, "dingtalk", "robot-1", texts, clock.now())
    config = DeliveryConfig(rates={"dingtalk": override})
    async with serve(platform.asgi()) as url:
        adapter = HttpPostAdapter(
            url, ChannelLimits(20_000, rate_per_minute=declared, burst=20), name="dingtalk"
        )
        worker = DeliveryWorker.from_config(uow_factory, {"dingtalk": adapter}, clock, config)
        waits: list[datetime] = []
        for _ in range(200):
            if len(platform.accepted) == 60:
                break
            if await worker.run_once() == 0:
                assert worker.next_due is not None and worker.next_due > clock.now()
                waits.append(worker.next_due)
                clock.set(worker.next_due)
        await adapter.stop()

    assert platform.violations == []
    assert platform.texts("robot-1") == texts
    assert busiest_window([r.at for r in platform.accepted], 60) == 20
    assert waits == [start + timedelta(seconds=60), start + timedelta(seconds=120)]  # no slower than needed


@pytest.mark.slow
async def test_pacing_in_real_time_keeps_every_window_and_destinations_run_in_parallel(uow_factory):
    """600/min, burst 5: never over 5 posts in any half second per destination, by the platform's clock."""
    clock = SystemClock()
    platform = FakePlatform(clock, limit=(5, 0.5))
    texts = {channel: [f"{channel}-{i}" for i in range(30)] for channel in ("C1", "C2")}
    for channel, batch in texts.items():
        await put(uow_factory, "console", channel, batch, clock.now())
    async with serve(platform.asgi()) as url:
        adapter = HttpPostAdapter(url, ChannelLimits(100_000, rate_per_minute=600, burst=5))
        worker = DeliveryWorker(uow_factory, {"console": adapter}, clock, poll_interval=1.0)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run_forever(stop))
        await until(lambda: len(platform.accepted) == 60, timeout=30)
        stop.set()
        await running
        await adapter.stop()

    assert platform.violations == []
    spans = []
    for channel, batch in texts.items():
        assert platform.texts(channel) == batch
        times = [r.at for r in platform.accepted if r.destination == channel]
        assert busiest_window(times, 0.5) <= 5
        assert times[-1] - times[0] >= timedelta(seconds=2.5)  # six bursts of five, half a second apart
        spans.append((times[0], times[-1]))
    assert max(first for first, _ in spans) < min(last for _, last in spans)  # paced side by side


@pytest.mark.slow
async def test_two_workers_on_one_database_send_every_row_once_in_order(engine, database_url):
    """R5: two workers (own engines, as two replicas — or `teambeat run` beside `teambeat post` on
    SQLite — would have) share 200 rows to five destinations."""
    url, pg_schema = database_url
    clock = SystemClock()
    platform = FakePlatform(clock, limit=(4, 0.2), latency=0.003)
    channels = [f"C{n}" for n in range(5)]
    texts = {channel: [f"{channel}-{i}" for i in range(40)] for channel in channels}
    engines = [create_engine(url, pg_schema=pg_schema) for _ in range(2)]
    factories = [UnitOfWorkFactory(create_sessionmaker(e)) for e in engines]
    for channel, batch in texts.items():
        await put(factories[0], "console", channel, batch, clock.now())
    limits = ChannelLimits(100_000, rate_per_minute=1200, burst=4)  # four in any 0.2 s
    try:
        async with serve(platform.asgi()) as url_:
            adapters = [HttpPostAdapter(url_, limits, sender=f"w{n}") for n in range(2)]
            workers = [
                DeliveryWorker(f, {"console": a}, clock, poll_interval=0.05)
                for f, a in zip(factories, adapters, strict=True)
            ]
            stop = asyncio.Event()
            running = [asyncio.create_task(w.run_forever(stop)) for w in workers]
            await until(lambda: len(platform.accepted) >= 200, timeout=60)
            await asyncio.sleep(0.3)  # a duplicate, were there one, would arrive now
            stop.set()
            await asyncio.gather(*running)
            for adapter in adapters:
                await adapter.stop()
        rows = await outbox(factories[0])
    finally:
        for e in engines:
            await e.dispose()

    assert len(platform.requests) == 200 and len(platform.accepted) == 200  # never twice, never refused
    for channel, batch in texts.items():
        assert platform.texts(channel) == batch
    assert platform.violations == [] and platform.overlapping == []
    assert {r.sender for r in platform.accepted} == {"w0", "w1"}  # both took part
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert all(r.claimed_by is None for r in rows)

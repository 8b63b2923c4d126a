"""The outbox and its worker: once, in order per destination, retried when transient, failed when not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FixedClock, SystemClock
from bot.config import DeliveryConfig
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker, RetryPolicy
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, SentMessage, Text
from bot.metrics import Metrics
from bot.ports import ChannelLimits, DeliveryError, PartProgress
from bot.storage.orm import OutboxRow

UNLIMITED = ChannelLimits(max_message_bytes=100_000, rate_per_minute=float("inf"))


class FlakyAdapter:
    name = "console"

    def __init__(self, failures: dict[str, list[DeliveryError]], limits: ChannelLimits = UNLIMITED) -> None:
        self.failures = failures
        self.limits = limits
        self.sent: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}  # a post whose send waits until its gate opens
        self.started: list[str] = []

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        self.started.append(msg.fallback_text)
        gate = self.gates.get(msg.fallback_text)
        if gate is not None:
            await gate.wait()
        pending = self.failures.get(msg.fallback_text)
        if pending:
            raise pending.pop(0)
        self.sent.append((to.id, msg.fallback_text))
        return SentMessage(message_id=f"m{len(self.sent)}", channel=to)


def post(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)),), text)


async def put(uow_factory, clock, channel: str, text: str, key: str | None = None) -> bool:
    async with uow_factory() as uow:
        added = await enqueue(
            uow.session,
            channel=ChannelRef("console", "W", channel, "group"),
            message=post(text),
            dedupe_key=key or f"{channel}:{text}",
            now=clock.now(),
        )
        await uow.commit()
    return added


async def test_retries_transient_keeps_order_and_fails_permanent(uow_factory):
    clock = FixedClock(datetime(2026, 11, 23, 2, tzinfo=UTC))
    adapter = FlakyAdapter(
        {
            "a1": [
                DeliveryError("HTTP 500", transient=True),
                DeliveryError("429", transient=True, retry_after=30),
            ],
            "b1": [DeliveryError("channel_not_found", transient=False)],
        }
    )
    for channel, text in [("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b2")]:
        assert await put(uow_factory, clock, channel, text)
    assert not await put(uow_factory, clock, "A", "a1")  # the same key again is a no-op
    worker = DeliveryWorker(
        uow_factory, {"console": adapter}, clock, RetryPolicy(base_backoff=1, max_backoff=60)
    )

    await worker.drain()
    assert adapter.sent == [("B", "b2")]  # a1 is waiting to retry and a2 waits behind it; b1 failed for good
    clock.advance(timedelta(seconds=5))
    await worker.drain()
    assert adapter.sent == [("B", "b2")]  # second failure: Retry-After 30 s is honoured
    clock.advance(timedelta(seconds=31))
    await worker.drain()
    assert adapter.sent == [("B", "b2"), ("A", "a1"), ("A", "a2")]

    async with uow_factory() as uow:
        rows = {
            r.payload and OutgoingMessage.from_json(r.payload).fallback_text: r
            for r in await uow.session.scalars(select(OutboxRow))
        }
        assert rows["b1"].status == "failed" and rows["b1"].last_error == "channel_not_found"
        assert rows["a1"].status == "sent" and rows["a1"].attempts == 3 and rows["a1"].message_id
        assert len(rows) == 4


async def rows_by_text(uow_factory) -> dict[str, OutboxRow]:
    async with uow_factory() as uow:
        rows = {
            OutgoingMessage.from_json(r.payload).fallback_text: r
            for r in await uow.session.scalars(select(OutboxRow))
        }
        await uow.session.commit()
        return rows


async def test_a_destinations_rate_holds_across_a_restart(uow_factory):
    """Three a minute: the first worker sends three; a fresh one (a restart) still waits out the minute."""
    start = datetime(2026, 11, 23, 2, tzinfo=UTC)
    clock = FixedClock(start)
    three_a_minute = ChannelLimits(4000, rate_per_minute=3, burst=3)
    adapter = FlakyAdapter({}, three_a_minute)
    for i in range(5):
        await put(uow_factory, clock, "A", f"a{i}")
    await put(uow_factory, clock, "B", "b0")

    first = DeliveryWorker(uow_factory, {"console": adapter}, clock)
    assert await first.drain() == 4
    assert adapter.sent == [("A", "a0"), ("B", "b0"), ("A", "a1"), ("A", "a2")]  # B is not held up by A
    assert first.next_due == start + timedelta(seconds=60)

    restarted = DeliveryWorker(uow_factory, {"console": adapter}, clock)
    clock.advance(timedelta(seconds=59))
    assert await restarted.drain() == 0  # the database remembers the three sends of the last minute
    assert restarted.next_due == start + timedelta(seconds=60)
    clock.advance(timedelta(seconds=1))
    assert await restarted.drain() == 2
    assert [text for _, text in adapter.sent[4:]] == ["a3", "a4"]


async def test_posts_for_a_destination_at_its_rate_limit_do_not_wake_the_worker(uow_factory):
    """A burst of posts to one channel at its limit: each commit rings the bell, but the worker only
    looks again for a destination that may send now (a claim query per post would be wasted)."""
    clock = FixedClock(datetime(2026, 11, 23, 2, tzinfo=UTC))
    adapter = FlakyAdapter({}, ChannelLimits(4000, rate_per_minute=2, burst=2))
    worker = DeliveryWorker(uow_factory, {"console": adapter}, clock, poll_interval=60)  # no polls here
    uow_factory.on_outbox.append(worker.wake)
    for i in range(3):
        await put(uow_factory, clock, "A", f"a{i}")
    assert await worker.drain() == 2  # a0, a1; channel A may send again in a minute
    claims = 0
    claim = worker._claim

    async def counted(limit: int) -> list[OutboxRow]:
        nonlocal claims
        claims += 1
        return await claim(limit)

    worker._claim = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    for _ in range(200):  # the first look, then asleep until A's slot
        if claims:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert claims == 1
    for i in range(3, 8):
        await put(uow_factory, clock, "A", f"a{i}")
    await asyncio.sleep(0.1)
    assert claims == 1  # nothing A may send yet: no look
    await put(uow_factory, clock, "B", "b0")
    for _ in range(100):
        if ("B", "b0") in adapter.sent:
            break
        await asyncio.sleep(0.01)
    assert ("B", "b0") in adapter.sent and claims >= 2
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert [text for _, text in adapter.sent] == ["a0", "a1", "b0"]


async def test_failed_attempts_count_against_the_rate_too(uow_factory):
    """A platform may count refused posts: two a minute means two attempts, failed or not."""
    start = datetime(2026, 11, 23, 2, tzinfo=UTC)
    clock = FixedClock(start)
    adapter = FlakyAdapter(
        {"a0": [DeliveryError("HTTP 502", transient=True), DeliveryError("HTTP 502", transient=True)]},
        ChannelLimits(4000, rate_per_minute=2, burst=2),
    )
    await put(uow_factory, clock, "A", "a0")
    worker = DeliveryWorker(
        uow_factory, {"console": adapter}, clock, RetryPolicy(base_backoff=0.5, max_backoff=1)
    )
    await worker.drain()
    clock.advance(timedelta(seconds=2))
    await worker.drain()
    assert adapter.sent == [] and len(adapter.started) == 2
    clock.advance(timedelta(seconds=2))
    assert await worker.drain() == 0  # a third attempt would be the third in a minute
    assert worker.next_due == start + timedelta(seconds=60)
    clock.set(start + timedelta(seconds=60))
    assert await worker.drain() == 1
    assert adapter.sent == [("A", "a0")]


async def test_a_config_rate_lowers_the_adapters_but_never_raises_it(uow_factory):
    clock = FixedClock(datetime(2026, 11, 23, 2, tzinfo=UTC))
    for i in range(4):
        await put(uow_factory, clock, "A", f"a{i}")
    fast = FlakyAdapter({}, ChannelLimits(4000, rate_per_minute=6000, burst=100))
    lowered = DeliveryConfig(rates={"console": 2})
    assert await DeliveryWorker.from_config(uow_factory, {"console": fast}, clock, lowered).drain() == 2

    for i in range(4):
        await put(uow_factory, clock, "B", f"b{i}")
    slow = FlakyAdapter({}, ChannelLimits(4000, rate_per_minute=3, burst=3))
    raised = DeliveryConfig(rates={"console": 10_000})
    assert await DeliveryWorker.from_config(uow_factory, {"console": slow}, clock, raised).drain() == 4
    # The declared three a minute: A had two already and takes one more; B takes three.
    assert sorted(slow.sent) == [("A", "a2"), ("B", "b0"), ("B", "b1"), ("B", "b2")]
    policy = RetryPolicy.from_config(DeliveryConfig(max_attempts=3, base_backoff=1, max_backoff=9))
    assert policy == RetryPolicy(3, 1, 9)


async def test_run_forever_wakes_on_new_rows_and_stops_after_sends_in_flight(uow_factory):
    """A long poll interval, yet a wake() sends at once; stop lets the send in flight finish and record,
    and leaves the rows behind it pending with no lease held."""
    clock = SystemClock()
    adapter = FlakyAdapter({"b1": [DeliveryError("channel_not_found", transient=False)]})
    adapter.gates["a1"] = asyncio.Event()
    metrics = Metrics()
    worker = DeliveryWorker(uow_factory, {"console": adapter}, clock, metrics=metrics, poll_interval=60)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    await asyncio.sleep(0.1)  # idle now, polling once a minute

    await put(uow_factory, clock, "A", "a1")
    await put(uow_factory, clock, "A", "a2")
    await put(uow_factory, clock, "B", "b1")
    worker.wake()
    for _ in range(100):
        if "a1" in adapter.started and "b1" in adapter.started:
            break
        await asyncio.sleep(0.01)
    assert adapter.started == ["a1", "b1"]  # both destinations at once; a2 waits behind a1

    stop.set()
    await asyncio.sleep(0.05)
    assert not running.done()  # a1 is still being sent
    adapter.gates["a1"].set()
    await asyncio.wait_for(running, timeout=5)

    rows = await rows_by_text(uow_factory)
    assert adapter.sent == [("A", "a1")]
    assert rows["a1"].status == "sent" and rows["b1"].status == "failed"
    assert rows["a2"].status == "pending" and rows["a2"].claimed_by is None and rows["a2"].attempts == 0
    assert (
        metrics.registry.get_sample_value("teambeat_delivery_latency_seconds_count", {"platform": "console"})
        == 1
    )
    permanent = {"platform": "console", "kind": "permanent"}
    assert metrics.registry.get_sample_value("teambeat_platform_errors_total", permanent) == 1


async def test_cancelling_run_forever_releases_the_leases_it_holds(uow_factory):
    clock = SystemClock()
    adapter = FlakyAdapter({})
    adapter.gates["a1"] = asyncio.Event()  # never opens: the send hangs until cancelled
    await put(uow_factory, clock, "A", "a1")
    worker = DeliveryWorker(uow_factory, {"console": adapter}, clock, poll_interval=60)
    running = asyncio.create_task(worker.run_forever(asyncio.Event()))
    for _ in range(100):
        if adapter.started:
            break
        await asyncio.sleep(0.01)
    assert (await rows_by_text(uow_factory))["a1"].claimed_by == worker.worker_id
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    row = (await rows_by_text(uow_factory))["a1"]
    assert row.status == "pending" and row.claimed_by is None and row.claimed_until is None


class UnreachableAtFirst:
    """A unit-of-work factory whose database is down for the first `failures` units of work."""

    def __init__(self, inner, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def __call__(self):
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("database unreachable")
        return self.inner()


async def test_run_forever_rides_out_a_database_outage_and_says_so_once(uow_factory, caplog):
    clock = SystemClock()
    await put(uow_factory, clock, "A", "a1")
    adapter = FlakyAdapter({})
    worker = DeliveryWorker(
        UnreachableAtFirst(uow_factory, 3), {"console": adapter}, clock, poll_interval=0.05
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    for _ in range(200):
        if adapter.sent:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert adapter.sent == [("A", "a1")]
    assert [r.getMessage() for r in caplog.records].count(
        "could not claim outbox rows; retrying every 0.05s"
    ) == 1


class CountingAdapter(FlakyAdapter):
    """Counts its own failed calls on the bot's metrics, as the Slack client and DingTalk adapter do (an
    answer or a reply has no worker to count it)."""

    def __init__(self, metrics: Metrics, failures: dict[str, list[DeliveryError]]) -> None:
        super().__init__(failures)
        self.metrics = metrics

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        try:
            return await super().send(to, msg, progress)
        except DeliveryError as error:
            self.metrics.platform_error("console", "transient" if error.transient else "permanent")
            raise


async def test_a_failed_send_is_one_platform_error_not_one_per_layer(uow_factory):
    clock = FixedClock(datetime(2026, 11, 23, 2, tzinfo=UTC))
    metrics = Metrics()
    adapter = CountingAdapter(
        metrics,
        {
            "a1": [DeliveryError("HTTP 500", transient=True)],
            "b1": [DeliveryError("channel_not_found", transient=False)],
        },
    )
    await put(uow_factory, clock, "A", "a1")
    await put(uow_factory, clock, "B", "b1")
    worker = DeliveryWorker(uow_factory, {"console": adapter}, clock, metrics=metrics)
    await worker.drain()

    def errors(kind: str) -> float | None:
        return metrics.registry.get_sample_value(
            "teambeat_platform_errors_total", {"platform": "console", "kind": kind}
        )

    assert errors("transient") == 1 and errors("permanent") == 1
    # outside the worker (an answer), the adapter's own count is the only one
    adapter.failures["c1"] = [DeliveryError("HTTP 502", transient=True)]
    with pytest.raises(DeliveryError):
        await adapter.send(ChannelRef("console", "W", "C", "group"), post("c1"))
    assert errors("transient") == 2

"""A replica killed mid-send: its posts are taken over by another within 15 s (quality.md, issue 20), and a
split post resumes after the parts already sent — at most the part in flight at the kill goes out twice.

Two delivery workers share one database, as two `teambeat run --role worker` replicas do. The kill is the
first worker's task cancelled at a point where its platform call has reached the platform and not yet
returned, with no release of its leases and no write afterwards: what a SIGKILL leaves behind.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select

from bot.clock import SystemClock
from bot.delivery.outbox import enqueue
from bot.delivery.worker import LEASE, DeliveryWorker
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, SentMessage, Text
from bot.ports import ChannelLimits, PartProgress
from bot.storage.orm import OutboxRow

UNLIMITED = ChannelLimits(max_message_bytes=100_000, rate_per_minute=float("inf"))
TAKEOVER_TARGET = 15.0  # seconds (issue 20, "Must work" 2)


class Platform:
    """What the platform accepted, in order: (channel, part)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    def parts(self, channel: str) -> list[str]:
        return [part for to, part in self.received if to == channel]


class SplittingAdapter:
    """Sends each paragraph of a post as its own message, keeping no state (progress is the worker's).

    A part named in `hang_on` reaches the platform, but the call never returns (until `release` is set,
    if given): the sender dies or stalls right after the platform accepted it."""

    name = "console"
    limits = UNLIMITED

    def __init__(
        self, platform: Platform, hang_on: Iterable[str] = (), release: asyncio.Event | None = None
    ) -> None:
        self.platform = platform
        self.hang_on = set(hang_on)
        self.release = release or asyncio.Event()
        self.hanging: set[str] = set()

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        parts = [block.inlines[0].text for block in msg.blocks if isinstance(block, Paragraph)]
        for index in range(progress.done if progress else 0, len(parts)):
            self.platform.received.append((to.id, parts[index]))
            if parts[index] in self.hang_on:
                self.hanging.add(parts[index])
                await self.release.wait()
            if progress is not None and index + 1 < len(parts):
                await progress.sent(index + 1)
        return SentMessage(message_id=f"{to.id}-{len(parts)}", channel=to)


def split_post(channel: str, parts: int) -> OutgoingMessage:
    return OutgoingMessage(
        tuple(Paragraph((Text(f"{channel} part {n}"),)) for n in range(1, parts + 1)), f"{channel} post"
    )


async def queue(uow_factory, channel: str, message: OutgoingMessage, key: str) -> None:
    async with uow_factory() as uow:
        await enqueue(
            uow.session,
            channel=ChannelRef("console", "W", channel, "group"),
            message=message,
            dedupe_key=key,
            now=SystemClock().now(),
        )
        await uow.commit()


async def rows(uow_factory) -> list[OutboxRow]:
    async with uow_factory() as uow:
        found = list(await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        await uow.session.commit()  # ends the read without expiring what it loaded
    return found


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.05)


def kill(worker: DeliveryWorker, task: asyncio.Task[None]) -> None:
    """As SIGKILL would: nothing released, nothing more written."""

    async def no_release() -> None:
        return None

    worker._release = no_release  # type: ignore[method-assign]
    task.cancel()


async def test_a_replica_killed_mid_send_is_taken_over_within_15_s_resending_only_the_part_in_flight(
    uow_factory,
):
    channels = {"c1": 4, "c2": 3, "c3": 5}
    hang_on = {"c1 part 3", "c2 part 1", "c3 part 5"}  # the middle, the start and the end of a post
    for channel, parts in channels.items():
        await queue(uow_factory, channel, split_post(channel, parts), f"{channel}:split")
        await queue(uow_factory, channel, split_post(f"{channel} next", 1), f"{channel}:next")
    platform = Platform()
    doomed = SplittingAdapter(platform, hang_on)
    first = DeliveryWorker(uow_factory, {"console": doomed}, SystemClock(), poll_interval=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(first.run_forever(stop))

    async def all_hanging() -> bool:
        return doomed.hanging == hang_on

    await until(all_hanging, 10, "the first replica to be mid-send on every channel")
    held = await rows(uow_factory)
    assert {r.claimed_by for r in held if "split" in r.dedupe_key} == {first.worker_id}
    assert [r.parts_sent for r in held if "split" in r.dedupe_key] == [2, 0, 4]
    kill(first, running)
    killed_at = time.monotonic()
    await asyncio.gather(running, return_exceptions=True)

    survivor = DeliveryWorker(uow_factory, {"console": SplittingAdapter(platform)}, SystemClock())
    taking_over = asyncio.create_task(survivor.run_forever(stop))

    async def all_sent() -> bool:
        return {r.status for r in await rows(uow_factory)} == {"sent"}

    try:
        await until(all_sent, TAKEOVER_TARGET + 5, "every post to be sent by the survivor")
        took = time.monotonic() - killed_at
    finally:
        stop.set()
        await taking_over
    assert took <= TAKEOVER_TARGET, f"taken over after {took:.1f}s"

    for channel, parts in channels.items():
        expected = [f"{channel} part {n}" for n in range(1, parts + 1)]
        received = platform.parts(channel)
        assert received[-1] == f"{channel} next part 1"  # the next post only after the split one
        twice = [part for part, count in Counter(received).items() if count > 1]
        assert twice == [part for part in expected if part in hang_on]  # only the part in flight
        assert list(dict.fromkeys(received[:-1])) == expected  # every part, in order
    final = await rows(uow_factory)
    assert all(r.attempts == 1 for r in final)  # the dead replica recorded nothing
    print(f"takeover: every post sent {took:.1f}s after the kill (lease {LEASE.total_seconds():g}s)")


async def test_a_slow_send_keeps_its_lease_past_its_length_while_the_sender_lives(uow_factory):
    await queue(uow_factory, "c1", split_post("c1", 3), "c1:split")
    platform = Platform()
    release = asyncio.Event()
    lease = timedelta(seconds=1)
    slow = SplittingAdapter(platform, {"c1 part 2"}, release)
    first = DeliveryWorker(uow_factory, {"console": slow}, SystemClock(), poll_interval=0.1, lease=lease)
    other = DeliveryWorker(
        uow_factory, {"console": SplittingAdapter(platform)}, SystemClock(), poll_interval=0.1, lease=lease
    )
    stop = asyncio.Event()
    running = [asyncio.create_task(first.run_forever(stop))]

    async def hanging() -> bool:
        return bool(slow.hanging)

    try:
        await until(hanging, 5, "the first replica to be mid-send")
        running.append(asyncio.create_task(other.run_forever(stop)))
        await asyncio.sleep(3 * lease.total_seconds())  # three leases long: renewed by the heartbeat
        assert platform.parts("c1") == ["c1 part 1", "c1 part 2"]  # the other replica kept off
        release.set()

        async def sent() -> bool:
            return [r.status for r in await rows(uow_factory)] == ["sent"]

        await until(sent, 5, "the slow post to be sent")
    finally:
        release.set()  # a failed assertion must not leave the send hanging
        stop.set()
        await asyncio.gather(*running)
    assert platform.parts("c1") == ["c1 part 1", "c1 part 2", "c1 part 3"]
    [row] = await rows(uow_factory)
    assert row.attempts == 1 and row.claimed_by is None

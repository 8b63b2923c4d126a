"""`drain()` (what `teambeat post` delivers with) keeps claiming while sends are in flight: one slow
destination holds up no other, and each destination still gets its posts in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.clock import FixedClock
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, SentMessage, Text
from bot.ports import ChannelLimits, PartProgress

UNLIMITED = ChannelLimits(max_message_bytes=100_000, rate_per_minute=float("inf"))


class SlowChannelAdapter:
    """Channel "slow" answers only once channel "fast" has had all three of its posts."""

    name = "console"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fast_done = asyncio.Event()

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return UNLIMITED

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        if to.id == "slow":
            await self.fast_done.wait()
        self.sent.append((to.id, msg.fallback_text))
        if [text for channel, text in self.sent if channel == "fast"] == ["f1", "f2", "f3"]:
            self.fast_done.set()
        return SentMessage(message_id=str(len(self.sent)), channel=to)


async def test_a_slow_destination_does_not_hold_up_the_others_during_drain(uow_factory):
    clock = FixedClock(datetime(2026, 11, 23, 2, tzinfo=UTC))
    async with uow_factory() as uow:
        for channel, text in [("slow", "s1"), ("fast", "f1"), ("fast", "f2"), ("fast", "f3"), ("slow", "s2")]:
            await enqueue(
                uow.session,
                channel=ChannelRef("console", "W", channel, "group"),
                message=OutgoingMessage((Paragraph((Text(text),)),), text),
                dedupe_key=f"{channel}:{text}",
                now=clock.now(),
            )
        await uow.commit()
    adapter = SlowChannelAdapter()
    worker = DeliveryWorker(uow_factory, {"console": adapter}, clock)

    # Sent in rounds (claim, wait for every send, claim again), f2 would wait for s1, which waits for f3.
    assert await asyncio.wait_for(worker.drain(), timeout=20) == 5
    assert adapter.sent == [("fast", "f1"), ("fast", "f2"), ("fast", "f3"), ("slow", "s1"), ("slow", "s2")]

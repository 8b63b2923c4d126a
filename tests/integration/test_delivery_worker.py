"""The outbox and its worker: once, in order per destination, retried when transient, failed when not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import FixedClock
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker, RetryPolicy
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, SentMessage, Text
from bot.ports import DeliveryError
from bot.storage.orm import OutboxRow


class FlakyAdapter:
    name = "console"

    def __init__(self, failures: dict[str, list[DeliveryError]]) -> None:
        self.failures = failures
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: ChannelRef, msg: OutgoingMessage) -> SentMessage:
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

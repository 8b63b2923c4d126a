"""Boards in the outbox (bot.delivery.boards): one message edited in place where the adapter edits, the
newest state only, posted anew when the message is gone; a new post per news where it cannot edit.

The console adapter is the editing platform here (it reprints an edited board, marked `↻ <id>`); a
recording adapter without `Capability.EDIT` stands for DingTalk's and WeCom's group robots.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import select

from adapters.console.adapter import ConsoleAdapter
from bot.clock import FixedClock
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, SentMessage, Text
from bot.ports import ChannelLimits, MessageGone, PartProgress
from bot.storage.orm import OutboxRow

CHANNEL = ChannelRef("console", "W", "east", "group")
NOW = datetime(2026, 11, 23, 2, tzinfo=UTC)


def post(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)),), text)


async def put(uow_factory, text: str, *, board: str | None = "pk:1:2026-11-23", quiet: bool = True) -> None:
    async with uow_factory() as uow:
        assert await enqueue(
            uow.session,
            channel=CHANNEL,
            message=post(text),
            dedupe_key=text,
            now=NOW,
            board=board,
            quiet=quiet,
        )
        await uow.commit()


async def rows(uow_factory) -> list[tuple[str, str, str | None, int | None]]:
    async with uow_factory() as uow:
        found = await uow.session.execute(
            select(
                OutboxRow.dedupe_key, OutboxRow.status, OutboxRow.message_id, OutboxRow.folded_into
            ).order_by(OutboxRow.id)
        )
        return [tuple(row) for row in found]


def console(out: io.StringIO) -> ConsoleAdapter:
    return ConsoleAdapter("W", "east", "boss", FixedClock(NOW), out=out)


async def test_a_board_is_posted_once_then_edited_with_only_its_newest_state(uow_factory) -> None:
    out = io.StringIO()
    worker = DeliveryWorker(uow_factory, {"console": console(out)}, FixedClock(NOW))
    await put(uow_factory, "board 1")
    await worker.drain()
    await put(uow_factory, "board 2")  # three states wait together with a post between them:
    await put(
        uow_factory, "news", board=None, quiet=False
    )  # only the newest state is sent, as an edit, in its own place
    await put(uow_factory, "board 3")
    await put(uow_factory, "board 4", quiet=False)
    await worker.drain()
    assert out.getvalue() == (
        "┌─ [#east]\n│ board 1\n└─\n┌─ [#east]\n│ news\n└─\n┌─ [#east · ↻ 1]\n│ board 4\n└─\n"
    )
    assert await rows(uow_factory) == [
        ("board 1", "sent", "1", None),
        ("board 2", "folded", None, 5),
        ("news", "sent", "2", None),
        ("board 3", "folded", None, 5),
        ("board 4", "sent", "1", None),  # the board's message id stays on its latest row
    ]


async def test_a_new_worker_edits_the_message_an_earlier_one_posted(uow_factory) -> None:
    first, second = io.StringIO(), io.StringIO()
    await put(uow_factory, "board 1")
    await DeliveryWorker(uow_factory, {"console": console(first)}, FixedClock(NOW)).drain()
    await put(uow_factory, "board 2")
    await DeliveryWorker(uow_factory, {"console": console(second)}, FixedClock(NOW)).drain()  # a restart
    assert first.getvalue() == "┌─ [#east]\n│ board 1\n└─\n"
    assert second.getvalue() == "┌─ [#east · ↻ 1]\n│ board 2\n└─\n"


async def test_a_claim_that_settles_a_board_takes_another_destinations_post_once(uow_factory) -> None:
    """The claim folds an old board state and looks again for the new head: a post it already took to
    another destination in that claim is not taken a second time."""
    out = io.StringIO()
    await put(uow_factory, "board 1")
    await put(uow_factory, "board 2")
    async with uow_factory() as uow:
        other = ChannelRef("console", "W", "west", "group")
        await enqueue(uow.session, channel=other, message=post("west"), dedupe_key="west", now=NOW)
        await uow.commit()
    await DeliveryWorker(uow_factory, {"console": console(out)}, FixedClock(NOW)).drain()
    assert out.getvalue().count("│ west") == 1
    assert out.getvalue().count("board 2") == 1 and "board 1" not in out.getvalue()


class Robot:
    """A group robot: posts only, no edits (DingTalk custom robot, WeCom group robot)."""

    name = "console"
    limits = ChannelLimits(max_message_bytes=100_000, rate_per_minute=float("inf"))

    def __init__(self) -> None:
        self.sent: list[str] = []

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        self.sent.append(msg.fallback_text)
        return SentMessage(message_id=f"r{len(self.sent)}", channel=to)


async def test_where_nothing_can_be_edited_only_the_news_is_posted_each_anew(uow_factory) -> None:
    robot = Robot()
    worker = DeliveryWorker(uow_factory, {"console": robot}, FixedClock(NOW))
    await put(uow_factory, "refresh 1")
    await put(uow_factory, "overtake 1", quiet=False)
    await put(uow_factory, "refresh 2")
    await put(uow_factory, "overtake 2", quiet=False)
    await worker.drain()
    assert robot.sent == ["overtake 1", "overtake 2"]
    assert [(key, status) for key, status, _, _ in await rows(uow_factory)] == [
        ("refresh 1", "folded"),
        ("overtake 1", "sent"),
        ("refresh 2", "folded"),
        ("overtake 2", "sent"),
    ]


class Deleting(ConsoleAdapter):
    """A console whose messages someone deletes: every edit finds its message gone."""

    async def edit(self, to: ChannelRef, message_id: str, msg: OutgoingMessage) -> SentMessage:
        raise MessageGone("slack chat.update: message_not_found")


async def test_a_board_whose_message_is_gone_is_posted_anew(uow_factory) -> None:
    out = io.StringIO()
    worker = DeliveryWorker(
        uow_factory, {"console": Deleting("W", "east", "boss", FixedClock(NOW), out=out)}, FixedClock(NOW)
    )
    await put(uow_factory, "board 1")
    await worker.drain()
    await put(uow_factory, "board 2")
    await worker.drain()
    assert out.getvalue() == "┌─ [#east]\n│ board 1\n└─\n┌─ [#east]\n│ board 2\n└─\n"
    assert [(key, status, mid) for key, status, mid, _ in await rows(uow_factory)] == [
        ("board 1", "sent", "1"),
        ("board 2", "sent", "2"),  # the new message is the board's from now on
    ]


async def test_an_edit_waits_for_the_destinations_rate_slot_like_a_post(uow_factory) -> None:
    out, clock = io.StringIO(), FixedClock(NOW)
    worker = DeliveryWorker(uow_factory, {"console": console(out)}, clock, rates={"console": 1})
    await put(uow_factory, "board 1")
    await worker.drain()
    await put(uow_factory, "board 2")
    await worker.drain()
    assert out.getvalue() == "┌─ [#east]\n│ board 1\n└─\n"  # one a minute: the edit waits
    assert worker.next_due is not None and worker.next_due > NOW
    clock.set(worker.next_due)
    await worker.drain()
    assert out.getvalue() == "┌─ [#east]\n│ board 1\n└─\n┌─ [#east · ↻ 1]\n│ board 2\n└─\n"


async def test_refreshes_a_robot_skips_do_not_fold_its_deals_into_a_digest(uow_factory) -> None:
    """Two 喜报, each followed by a leaderboard refresh, to a robot allowed two posts a minute: both go
    out as they are (the refreshes would have made four waiting, and a digest)."""
    robot = Robot()
    robot.limits = ChannelLimits(max_message_bytes=100_000, rate_per_minute=2, burst=2)

    async def digest(session, rows: list[OutboxRow]) -> OutgoingMessage:
        return post(f"digest of {len(rows)}")

    for deal in ("deal 1", "deal 2"):
        async with uow_factory() as uow:
            await enqueue(
                uow.session, channel=CHANNEL, message=post(deal), dedupe_key=deal, now=NOW, fold=("deal", {})
            )
            await uow.commit()
        await put(uow_factory, f"leaderboard after {deal}")
    await DeliveryWorker(uow_factory, {"console": robot}, FixedClock(NOW), folder=digest).drain()
    assert robot.sent == ["deal 1", "deal 2"]


async def test_every_folded_state_names_the_row_that_went_out(uow_factory) -> None:
    def worker() -> DeliveryWorker:  # a new process each time: the rate limit is known from the database
        return DeliveryWorker(
            uow_factory, {"console": console(io.StringIO())}, FixedClock(NOW), rates={"console": 1}
        )

    await put(uow_factory, "board 1")
    await worker().drain()
    await put(uow_factory, "board 2")
    await put(uow_factory, "board 3")
    await worker().drain()  # 2 folds into 3, which waits for the rate slot
    await put(uow_factory, "board 4")
    await worker().drain()  # 3 folds into 4, and so does what was folded into 3
    assert [(key, status, into) for key, status, _, into in await rows(uow_factory)] == [
        ("board 1", "sent", None),
        ("board 2", "folded", 4),
        ("board 3", "folded", 4),
        ("board 4", "pending", None),
    ]

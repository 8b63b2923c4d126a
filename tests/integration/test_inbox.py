"""The inbox: requests kept before they are acknowledged, handled after, forgotten once handled.

A burst taken in one turn of the event loop is one write; a request is handled once, in order of
arrival; what a stopped (or crashed) process left is handled by the next one; a database that cannot
keep a request makes `take` fail, so that nothing unkept is ever acknowledged."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

import adapters.inbox as inbox_module
from adapters.inbox import Inbox
from bot.storage.orm import InboxRow
from tests.support.chat import Chat


class Handled:
    """A handler that records what it was given, and can be held until the test lets it go."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, payload: dict[str, Any], received_at: Any) -> None:
        await self.gate.wait()
        self.seen.append(payload)


async def rows_left(chat: Chat) -> int:
    async with chat.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxRow)) or 0)


async def settled(box: Inbox) -> None:
    async with asyncio.timeout(5):
        await box.wait_idle()
        while box._to_delete or box._inserting:
            await asyncio.sleep(0.01)


async def test_a_burst_is_one_write_and_each_request_is_handled_once_in_order(chat: Chat) -> None:
    handled = Handled()
    box = Inbox("slack", chat.app, handled)
    commits: list[int] = []
    await box.start()
    try:
        handled.gate.clear()
        event.listen(chat.app.engine.sync_engine, "commit", lambda connection: commits.append(1))
        await asyncio.gather(*(box.take({"text": f"/kudos #{i}"}) for i in range(20)))
        assert len(commits) == 1  # twenty senders, one INSERT and one commit
        assert await rows_left(chat) == 20  # kept before anyone was told "received"
        handled.gate.set()
        await settled(box)
    finally:
        await box.stop()
    assert [p["text"] for p in handled.seen] == [f"/kudos #{i}" for i in range(20)]
    assert await rows_left(chat) == 0


async def test_a_steady_stream_is_handled_while_it_lasts_and_a_flood_is_acknowledged_first(
    chat: Chat,
) -> None:
    """Callbacks ~4 ms apart, each ~1 ms at the door (DingTalk's at 200/s): their work keeps pace with
    them. Callbacks that keep the door busy (a flood): their work waits for the flood to end, but for
    `DOOR_WAIT` at most per request."""
    handled = Handled()
    box = Inbox("dingtalk", chat.app, handled)
    foreground = chat.app.foreground

    async def callbacks(label: str, count: int, each: float, gap: float) -> None:
        """Each callback `each` seconds at the door and `gap` seconds to the next, kept in the inbox
        meanwhile. (An adapter keeps it while at the door; here the door's timing is set apart from the
        database's, which differs between backends and a loaded machine stretches.)"""
        taking = []
        for i in range(count):
            foreground.enter_door()
            await asyncio.sleep(each)
            foreground.leave_door()
            taking.append(asyncio.create_task(box.take({"text": f"{label}{i}"})))
            await asyncio.sleep(gap)
        await asyncio.gather(*taking)

    def handled_by(label: str) -> int:
        return sum(1 for p in handled.seen if p["text"].startswith(label))

    await box.start()
    try:
        await callbacks("steady", 60, each=0.001, gap=0.003)
        steady_during = handled_by("steady")
        await settled(box)
        foreground.enter_door()  # a flood: more connections than one, so always a request at the door
        try:
            flood = asyncio.create_task(callbacks("flood", 60, each=0.004, gap=0.0))
            flood_during = 0
            while not flood.done():
                flood_during = handled_by("flood")
                await asyncio.sleep(0.001)
        finally:
            foreground.leave_door()
        await settled(box)
    finally:
        await box.stop()
    assert steady_during >= 50  # of 60, while they were coming (waiting for 5 ms gaps: none or one)
    assert flood_during <= 3  # one every DOOR_WAIT (0.5 s), the flood lasting ~0.3 s (~1 s loaded)
    assert handled_by("steady") == handled_by("flood") == 60


async def test_what_a_stopped_run_left_is_handled_by_the_next_one(chat: Chat) -> None:
    first = Handled()
    first.gate.clear()  # the first run never gets to handle anything
    box = Inbox("dingtalk", chat.app, first)
    await box.start()
    for i in range(3):
        await box.take({"msgId": f"m{i}"})
    await box.stop()
    assert first.seen == [] and await rows_left(chat) == 3

    second = Handled()
    again = Inbox("dingtalk", chat.app, second)
    await again.start()
    try:
        await settled(again)
    finally:
        await again.stop()
    assert [p["msgId"] for p in second.seen] == ["m0", "m1", "m2"]
    assert await rows_left(chat) == 0


async def test_a_live_replicas_rows_are_left_to_it_until_they_are_too_old(chat: Chat) -> None:
    mine, theirs = Handled(), Handled()
    theirs.gate.clear()
    box = Inbox("slack", chat.app, mine)
    await box.start()
    other = Inbox("slack", chat.app, theirs)  # a replica that started later, took one and stalled
    await other.start()
    await other.take({"text": "stalled"})
    try:
        await box.take({"text": "mine"})
        await settled(box)
        assert [p["text"] for p in mine.seen] == ["mine"]
        # A minute later the stalled replica's row is adopted and handled here.
        async with chat.app.sessionmaker() as session:
            old = chat.app.clock.now() - inbox_module.ADOPT_AFTER - timedelta(seconds=1)
            await session.execute(
                update(InboxRow).where(InboxRow.owner == other.owner).values(received_at=old)
            )
            await session.commit()
        assert await box._adopt(older_than=inbox_module.ADOPT_AFTER) == 1
        await settled(box)
        assert [p["text"] for p in mine.seen] == ["mine", "stalled"]
    finally:
        await other.stop()
        await box.stop()


async def test_a_request_the_database_cannot_keep_is_refused_not_acknowledged(chat: Chat) -> None:
    handled = Handled()
    box = Inbox("slack", chat.app, handled)
    await box.start()
    try:
        async with chat.app.engine.begin() as connection:
            await connection.execute(text("DROP TABLE inbox"))
        with pytest.raises(SQLAlchemyError):
            await box.take({"text": "/kudos lost?"})
        assert len(box) == 0
    finally:
        await box.stop()
    assert handled.seen == []


async def test_a_full_backlog_makes_the_next_sender_wait_for_room(chat: Chat) -> None:
    handled = Handled()
    handled.gate.clear()
    box = Inbox("slack", chat.app, handled, max_backlog=2)
    await box.start()
    try:
        await box.take({"n": 1})
        await box.take({"n": 2})
        third = asyncio.create_task(box.take({"n": 3}))
        await asyncio.sleep(0.2)
        assert not third.done()  # waits at the door
        handled.gate.set()
        await asyncio.wait_for(third, 5)
        await settled(box)
    finally:
        await box.stop()
    assert [p["n"] for p in handled.seen] == [1, 2, 3]

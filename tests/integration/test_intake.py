"""The intake: requests committed as command jobs before they are acknowledged, handled after, deleted
once handled.

A request is handled once, in order of arrival when one is handled at a time; what a stopped (or
crashed) process left is handled by the next one; a replica's command in hand is left to it until its
lease lapses; a database that cannot keep a request makes `take` fail, so that nothing unkept is ever
acknowledged. (The inbox's one-write batching, door waiting and bounded backlog went with it.)"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from adapters.intake import Intake
from bot.clock import FixedClock
from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.migrate import upgrade
from bot.storage.orm import JobRow
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


def intake(chat: Chat, name: str, handler: Handled, **kwargs: Any) -> Intake:
    return Intake(name, chat.app.sessionmaker, chat.app.clock, handler, **kwargs)


async def rows_left(chat: Chat) -> int:
    async with chat.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(JobRow)) or 0)


async def settled(box: Intake) -> None:
    async with asyncio.timeout(5):
        await box.wait_idle()


async def test_a_request_is_kept_before_it_is_acknowledged_and_handled_once_in_order(chat: Chat) -> None:
    handled = Handled()
    box = intake(chat, "slack", handled, in_hand=1)
    await box.start()
    try:
        handled.gate.clear()
        await asyncio.gather(*(box.take({"text": f"/kudos #{i}"}) for i in range(20)))
        assert await rows_left(chat) == 20  # kept before anyone was told "received"
        handled.gate.set()
        await settled(box)
    finally:
        await box.stop()
    assert sorted(p["text"] for p in handled.seen) == sorted(f"/kudos #{i}" for i in range(20))
    assert len(handled.seen) == 20
    assert await rows_left(chat) == 0


async def test_what_a_stopped_run_left_is_handled_by_the_next_one(chat: Chat) -> None:
    first = Handled()
    first.gate.clear()  # the first run never gets to handle anything
    box = intake(chat, "dingtalk", first)
    await box.start()
    for i in range(3):
        await box.take({"msgId": f"m{i}"})
    stopping = asyncio.create_task(box.stop())
    await asyncio.sleep(0.2)
    stopping.cancel()  # killed while its commands are in hand: they stay, leased, for the next run
    await asyncio.gather(stopping, return_exceptions=True)
    assert first.seen == [] and await rows_left(chat) == 3

    clock = chat.app.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(seconds=11))  # the dead run's leases lapse
    second = Handled()
    again = intake(chat, "dingtalk", second, in_hand=1)
    await again.start()
    try:
        await settled(again)
    finally:
        await again.stop()
    assert [p["msgId"] for p in second.seen] == ["m0", "m1", "m2"]
    assert await rows_left(chat) == 0


async def test_commands_not_yet_claimed_are_handled_by_the_next_run_at_once(chat: Chat) -> None:
    box = intake(chat, "slack", Handled())  # taking only, never started: no worker claimed them
    for i in range(2):
        await box.take({"n": i})
    handled = Handled()
    next_run = intake(chat, "slack", handled)
    await next_run.start()
    try:
        await settled(next_run)
    finally:
        await next_run.stop()
    assert sorted(p["n"] for p in handled.seen) == [0, 1]


async def no_release() -> None:
    return None


async def test_a_live_replicas_command_is_left_to_it_until_its_lease_lapses(chat: Chat) -> None:
    mine, theirs = Handled(), Handled()
    theirs.gate.clear()
    other = intake(chat, "slack", theirs)  # a replica that took one and stalled
    await other.start()
    await other.take({"text": "stalled"})
    await asyncio.sleep(0.3)  # its worker has claimed it
    box = intake(chat, "slack", mine)
    await box.start()
    try:
        await box.take({"text": "mine"})
        await settled(box)
        assert [p["text"] for p in mine.seen] == ["mine"]
        # The stalled replica dies (killed: it lets go of nothing); once its lease lapses, the command
        # is handled here. (A clean stop would release it at once.)
        other._worker._release = no_release
        other._task.cancel()
        await asyncio.gather(other._task, return_exceptions=True)
        await settled(box)
        assert [p["text"] for p in mine.seen] == ["mine"]  # still leased to the dead replica
        chat.app.clock.advance(timedelta(seconds=11))
        await settled(box)
        assert [p["text"] for p in mine.seen] == ["mine", "stalled"]
    finally:
        await box.stop()
    assert await rows_left(chat) == 0


async def test_a_request_the_database_cannot_keep_is_refused_not_acknowledged(chat: Chat) -> None:
    handled = Handled()
    box = intake(chat, "slack", handled)
    await box.start()
    try:
        async with chat.app.engine.begin() as connection:
            await connection.execute(text("DROP TABLE jobs"))
        with pytest.raises(SQLAlchemyError):
            await box.take({"text": "/kudos lost?"})
    finally:
        await box.stop()
    assert handled.seen == []


async def test_requests_left_in_the_old_inbox_are_handled_after_the_upgrade(database_url) -> None:
    """A database upgraded with acknowledged requests still in the `inbox` table: they become command
    jobs, and the adapter's intake hands them over as they were taken, with when they were received."""
    url, pg_schema = database_url
    await upgrade(url, pg_schema=pg_schema, revision="0013")
    engine = create_engine(url, pg_schema=pg_schema)
    at = datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC)
    inbox = sa.table(
        "inbox",
        *(sa.column(c) for c in ("adapter", "owner", "payload")),
        sa.column("received_at", sa.DateTime()),
    )
    taken = [("slack", {"kind": "command", "body": {"text": "早"}}), ("dingtalk", {"msgId": "m1"})]
    try:
        async with engine.begin() as connection:
            for adapter, payload in taken:
                await connection.execute(
                    inbox.insert().values(
                        adapter=adapter,
                        owner="gone",
                        payload=json.dumps(payload),
                        received_at=at.replace(tzinfo=None),
                    )
                )
        await upgrade(url, pg_schema=pg_schema)
        sessionmaker = create_sessionmaker(engine)
        for adapter, payload in taken:
            seen: list[tuple[dict[str, Any], datetime]] = []

            async def handler(payload: dict[str, Any], received_at: datetime) -> None:
                seen.append((payload, received_at))  # noqa: B023 (awaited within the iteration)

            box = Intake(adapter, sessionmaker, FixedClock(at), handler)
            await box.start()
            try:
                await settled(box)
            finally:
                await box.stop()
            assert seen == [(payload, at)]
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(JobRow)) == 0
    finally:
        await engine.dispose()

"""A SQLite file's writers take turns in the process (bot/storage/sqlite_writers.py).

SQLite's own busy handler is switched off in these tests (`PRAGMA busy_timeout = 0`), so a second writer
that reached SQLite while another held the lock would fail at once with "database is locked": a test
passes only if the second writer waited in the process instead.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import pytest_asyncio
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.orm import OutboxRow
from bot.storage.sqlite_writers import queue_writers
from tests.integration.test_storage import make_outbox

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

EngineFactory = Callable[..., AsyncEngine]


@pytest_asyncio.fixture
async def make_engine(database_url: Any, sqlite_template: Path) -> AsyncIterator[EngineFactory]:
    """Engines on a migrated SQLite file whose connections never wait inside SQLite for its lock."""
    url = database_url[0]
    shutil.copyfile(sqlite_template, url.removeprefix("sqlite:///"))
    made: list[AsyncEngine] = []

    def make(**kwargs: Any) -> AsyncEngine:
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 0")
            cursor.close()

        made.append(engine)
        return engine

    yield make
    for engine in made:
        await engine.dispose()


async def queue_post(engine: AsyncEngine, key: str, *, hold: float = 0.0, fail: bool = False) -> None:
    """One unit of work that writes an outbox row, keeps its transaction open `hold` seconds, then
    commits (or raises, rolling back)."""
    async with create_sessionmaker(engine)() as session:
        session.add(make_outbox(key))
        await session.flush()
        await asyncio.sleep(hold)
        if fail:
            raise RuntimeError("the unit of work failed")
        await session.commit()


async def posts(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return sorted((await connection.scalars(select(OutboxRow.dedupe_key))).all())


async def test_a_second_writer_waits_its_turn_and_both_commit(make_engine: EngineFactory) -> None:
    engine = make_engine()  # the default: writers queue
    first = asyncio.create_task(queue_post(engine, "first", hold=0.2))
    await asyncio.sleep(0.05)  # the first holds the write lock
    await queue_post(engine, "second")
    await first
    assert await posts(engine) == ["first", "second"]


async def test_without_the_queue_the_second_writer_meets_the_lock(make_engine: EngineFactory) -> None:
    """The control for the test above: the same two writers, with the queue turned off."""
    engine = make_engine(sqlite_queue_writers=False)
    first = asyncio.create_task(queue_post(engine, "first", hold=0.2))
    await asyncio.sleep(0.05)
    with pytest.raises(OperationalError, match="database is locked"):
        await queue_post(engine, "second")
    await first
    assert await posts(engine) == ["first"]


async def test_reads_do_not_wait_for_a_writer(make_engine: EngineFactory) -> None:
    engine = make_engine()
    first = asyncio.create_task(queue_post(engine, "first", hold=0.3))
    await asyncio.sleep(0.05)
    async with engine.connect() as connection:
        seen = await connection.scalar(select(func.count()).select_from(OutboxRow))
    assert seen == 0 and not first.done()  # read while the writer still held its turn
    await first


async def test_a_rolled_back_writer_hands_on_its_turn(make_engine: EngineFactory) -> None:
    engine = make_engine()
    failing = asyncio.create_task(queue_post(engine, "failed", hold=0.1, fail=True))
    await asyncio.sleep(0.05)
    await queue_post(engine, "after")
    with pytest.raises(RuntimeError):
        await failing
    await queue_post(engine, "later")  # nothing left holding the turn
    assert await posts(engine) == ["after", "later"]


async def test_no_turn_within_the_timeout_fails_as_a_locked_database(make_engine: EngineFactory) -> None:
    engine = make_engine(sqlite_queue_writers=False)
    queue_writers(engine, timeout_s=0.05)
    first = asyncio.create_task(queue_post(engine, "first", hold=0.3))
    await asyncio.sleep(0.05)
    with pytest.raises(OperationalError, match="database is locked"):
        await queue_post(engine, "second")
    await first
    await queue_post(engine, "third")
    assert await posts(engine) == ["first", "third"]


# ----- a connection going back to the pool -----------------------------------------------------------


async def test_a_committed_unit_of_work_returns_its_connection_without_another_rollback(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's reset would roll back a connection its session has just committed: one more trip to the
    connection's thread per unit of work, for nothing."""
    rollbacks: list[object] = []
    real = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        rollbacks.append(self)
        await real(self)

    engine = make_engine(sqlite_connections=1)
    await queue_post(engine, "first")  # connected: the first connection's setup is done
    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    await queue_post(engine, "second")
    assert rollbacks == []
    with pytest.raises(RuntimeError):
        await queue_post(engine, "failed", fail=True)
    assert len(rollbacks) == 1  # the failed one's own rollback, not two
    assert await posts(engine) == ["first", "second"]


async def test_a_connection_returned_in_a_transaction_is_rolled_back(make_engine: EngineFactory) -> None:
    """A write made on the driver's connection itself, behind SQLAlchemy's back, is not left open for
    the next unit of work to commit."""
    engine = make_engine(sqlite_connections=1)
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.execute(
            "INSERT INTO outbox (dedupe_key, platform, workspace, channel_id, channel_kind, destination,"
            " payload, status, attempts, next_attempt_at, created_at, parts_sent)"
            " VALUES ('abandoned', 'slack', 'T1', 'C1', 'group', 'slack:T1:C1', '{}', 'pending', 0,"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"
        )
        assert driver.in_transaction
    await queue_post(engine, "next")  # the same, only, connection
    assert await posts(engine) == ["next"]

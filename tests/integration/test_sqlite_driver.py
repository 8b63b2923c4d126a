"""The SQLite driver runs statements on the loop's thread, yet never blocks the loop while it waits.

Each test uses a real SQLite file. "Another process" is a plain `sqlite3` connection holding the write lock,
which is exactly what a concurrent `teambeat post` or `deals import` would do to the bot.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage import sqlite_driver
from bot.storage.db import create_engine
from bot.storage.sqlite_driver import SLOW_STATEMENT_S, InlineSQLiteDBAPI, WriteTurn


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'driver.db'}?timeout=1")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield engine
    await engine.dispose()


class Ticker:
    """Counts how long the event loop went without running a task: the loop's longest stall."""

    def __init__(self) -> None:
        self.longest_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest_gap = max(self.longest_gap, now - last)
            last = now


async def insert_note(engine: AsyncEngine, body: str, *, hold_s: float = 0.0) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})
        await asyncio.sleep(hold_s)  # the unit of work does other things while it holds the write lock
        await connection.commit()


async def bodies(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT body FROM notes ORDER BY id"))).scalars())


async def test_writers_of_one_engine_take_turns_without_locking_errors(engine: AsyncEngine) -> None:
    # Twenty units of work write at once, each holding its transaction across an await.
    await asyncio.gather(*(insert_note(engine, f"note {n}", hold_s=0.005) for n in range(20)))

    assert sorted(await bodies(engine)) == sorted(f"note {n}" for n in range(20))


async def test_readers_do_not_wait_for_a_writer(engine: AsyncEngine) -> None:
    await insert_note(engine, "first")
    writer = asyncio.create_task(insert_note(engine, "second", hold_s=0.5))
    await asyncio.sleep(0.05)  # the writer now holds the write lock

    started = time.perf_counter()
    seen = await bodies(engine)

    assert seen == ["first"] and time.perf_counter() - started < 0.2
    await writer
    assert await bodies(engine) == ["first", "second"]


async def test_another_process_holding_the_lock_is_waited_for_on_the_loop(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (body) VALUES ('from the other process')")

    async def release_soon() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    async with Ticker() as ticker:
        await asyncio.gather(release_soon(), insert_note(engine, "from the bot"))
    other.close()

    assert await bodies(engine) == ["from the other process", "from the bot"]
    assert ticker.longest_gap < 0.1  # the loop kept running while the bot waited


async def test_a_lock_held_past_the_budget_is_database_is_locked_and_nothing_is_written(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="database is locked"):
            await insert_note(engine, "never")
        assert 0.9 < time.perf_counter() - started < 3  # the URL's ?timeout=1
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert await bodies(engine) == []
    await insert_note(engine, "after")  # the engine's write turn was handed back
    assert await bodies(engine) == ["after"]


async def test_a_slow_statement_moves_off_the_loop_after_its_first_run(engine: AsyncEngine) -> None:
    slow_query = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :upto) "
        "SELECT count(*) FROM n"
    )
    async with engine.connect() as connection:
        started = time.perf_counter()
        first = (await connection.execute(slow_query, {"upto": 300_000})).scalar_one()
        assert time.perf_counter() - started > SLOW_STATEMENT_S

        async with Ticker() as ticker:
            second = (await connection.execute(slow_query, {"upto": 300_000})).scalar_one()

    assert first == second == 300_000
    assert ticker.longest_gap < 0.02  # ran on a worker thread: the loop kept ticking


async def test_a_long_run_of_statements_lets_other_tasks_in(engine: AsyncEngine) -> None:
    # A background loop that only talks to the database (the announcement queue draining a backlog)
    # never waits on I/O with this driver; it must still let requests in between its statements.
    async def drain() -> None:
        async with engine.connect() as connection:
            for n in range(300):
                await connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": f"{n}"})
                await connection.commit()

    async with Ticker() as ticker:
        await drain()

    assert len(await bodies(engine)) == 300
    assert ticker.longest_gap < 0.03


async def test_a_transaction_holding_the_write_turn_lets_the_loop_run_far_less_often(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every turn of the loop a writer lets run while it holds the write turn is time every other
    writer waits: it lets the loop run before taking the turn, and while holding it only rarely."""
    monkeypatch.setattr(sqlite_driver, "YIELD_EVERY_S", 0.0)  # outside a transaction: after every statement
    monkeypatch.setattr(sqlite_driver, "YIELD_EVERY_HOLDING_TURN_S", 3600.0)  # holding it: never
    others_ran: list[str] = []

    async def other() -> None:
        while True:
            await asyncio.sleep(0)
            others_ran.append("tick")

    ticking = asyncio.create_task(other())
    await asyncio.sleep(0)
    async with engine.connect() as connection:
        for _ in range(3):
            await connection.execute(text("SELECT count(*) FROM notes"))
        reads = len(others_ran)
        for n in range(20):
            await connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": f"{n}"})
        during_writes = len(others_ran) - reads
        await connection.commit()
    ticking.cancel()

    assert reads >= 3  # the loop ran after each read
    assert during_writes == 1  # once, before the turn was taken; never while it was held


async def write_in_turn(turn: WriteTurn, order: list, who: object) -> None:
    """A writer: waits for the turn, notes that it had it, lets the loop run once, gives it back."""
    await turn.take(timeout_s=1)
    order.append(who)
    await asyncio.sleep(0)
    turn.give_back()


async def test_waiters_get_the_turn_in_arrival_order() -> None:
    turn = WriteTurn()
    order: list[int] = []
    assert turn.try_take()

    waiting = [asyncio.create_task(write_in_turn(turn, order, n)) for n in range(3)]
    await asyncio.sleep(0.01)
    turn.give_back()
    await asyncio.gather(*waiting)

    assert order == [0, 1, 2]
    assert turn.try_take()  # free again once everybody is done


async def test_a_freed_turn_goes_to_a_writer_already_running_and_the_woken_waiter_stays_first() -> None:
    """Not reserved for a waiter the loop has not run yet (a lock convoy): a running writer takes it at
    once; the waiter it beat is next, ahead of everyone who came after it."""
    turn = WriteTurn()
    order: list[str] = []
    assert turn.try_take()

    first = asyncio.create_task(write_in_turn(turn, order, "first waiter"))
    await asyncio.sleep(0.01)
    later = asyncio.create_task(write_in_turn(turn, order, "later waiter"))
    await asyncio.sleep(0.01)
    turn.give_back()  # wakes the first waiter, which is not running yet
    assert turn.try_take()  # a writer already running takes the freed turn
    order.append("running writer")
    await asyncio.sleep(0.01)  # the woken waiter runs, finds it taken, waits again at the head
    turn.give_back()
    await asyncio.gather(first, later)

    assert order == ["running writer", "first waiter", "later waiter"]
    assert turn.try_take()


async def test_a_waiter_cancelled_after_being_woken_wakes_the_next() -> None:
    turn = WriteTurn()
    turn.try_take()
    # On Python 3.11 wait_for lets a waiter that was already woken finish taking the turn despite the
    # cancellation (then it writes and frees it); on 3.12 it is cancelled and passes the wake on.
    doomed = asyncio.create_task(write_in_turn(turn, [], "doomed"))
    patient = asyncio.create_task(turn.take(timeout_s=1))
    await asyncio.sleep(0.01)
    turn.give_back()  # wakes `doomed`...
    doomed.cancel()  # ...which is cancelled before it runs
    await asyncio.gather(doomed, return_exceptions=True)
    await asyncio.wait_for(patient, 1)  # the turn reached the next waiter


async def test_a_cancelled_waiter_does_not_keep_the_turn() -> None:
    turn = WriteTurn()
    turn.try_take()
    cancelled = asyncio.create_task(turn.take(timeout_s=1))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)

    turn.give_back()

    assert turn.try_take()


def test_each_engine_has_its_own_driver_state() -> None:
    one, two = InlineSQLiteDBAPI(), InlineSQLiteDBAPI()
    assert one.write_turn is not two.write_turn and one.slow_statements is not two.slow_statements

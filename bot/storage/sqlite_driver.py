"""SQLite for the async engine, run on the event loop's own thread instead of one thread hop per call.

aiosqlite hands every call (cursor, execute, fetch, close, commit) to a worker thread and back: about
0.3 ms a hop on a 2-core machine, four hops a statement, where the statement itself takes 20–50 µs. A
command or a webhook runs a dozen statements, so the hops, not SQLite, set teambeat's throughput on its
embedded default. This DBAPI keeps SQLAlchemy's aiosqlite dialect (SQL, types, pool) and replaces only
the driver underneath it (`create_async_engine(..., module=InlineSQLiteDBAPI())`):

- statements run directly on the loop's thread, which is cheaper than waking another one;
- a statement that once took longer than `SLOW_STATEMENT_S` (an export of a year of deals) runs on a
  worker thread from then on, so the loop keeps serving requests while it runs;
- since no statement ever waits, statements let the loop run every `YIELD_EVERY_S` (a background loop
  of them would otherwise keep every request out until it finished);
- nothing ever blocks on a lock: SQLite's busy timeout is 0, writers of this engine take turns on an
  asyncio queue (`WriteTurn`), and a writer in another process (`teambeat post`, an import) is waited
  for with asyncio sleeps, up to the same budget the busy timeout gave (then "database is locked").
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.util.concurrency import await_, in_greenlet

T = TypeVar("T")
log = logging.getLogger(__name__)

# A statement slower than this on the loop's thread runs on a worker thread from then on. Not lower: a
# hop costs more than it saves on the 5–15 ms queries of a recap or a month's ranking (P5 ran 40 % slower
# and twice as noisy with 4 ms), and stalling the loop for 20 ms keeps every request within its budget.
SLOW_STATEMENT_S = 0.02
# Statements let the event loop run at least this often (a turn of the loop costs ~0.1 ms: not each time).
YIELD_EVERY_S = 0.002
# ... and far less often while their transaction holds the write turn: every turn of the loop taken then
# (other requests' parsing, decryption, reads) lengthens the time every other writer waits. Letting it
# run every 2 ms kept the turn held all the time at 200 WeCom callbacks a second, a /deal holding it for
# 2–4 ms instead of its own 0.6. A long transaction still lets the loop run every 20 ms.
YIELD_EVERY_HOLDING_TURN_S = 0.02
DEFAULT_BUSY_BUDGET_S = 5.0
# Waits between tries while another process holds the write lock: short first, then steady.
BUSY_RETRY_DELAYS_S = (0.001, 0.002, 0.005, 0.01, 0.02)
# Statements that do not wait for a write turn: reads, and PRAGMAs (a new connection's setup must not
# queue behind a writer; the one PRAGMA that writes, switching a new file to WAL, retries while busy).
NO_TURN_FIRST_WORDS = frozenset({"SELECT", "WITH", "EXPLAIN", "VALUES", "PRAGMA"})


class WriteTurn:
    """One writing transaction at a time per engine, waited for on the event loop.

    SQLite allows one writer per database; taking turns here, rather than in SQLite's busy handler, keeps
    the waiting off the loop's thread. A writer that finishes frees the turn and wakes the writer that
    has waited longest (waiters keep their order, and one woken but beaten to the turn waits at the
    head again). Freed rather than handed over: a waiter woken is only a callback queued on the loop,
    and a turn reserved for it stays unused until the loop gets round to it, behind every other request
    in hand. Handed over, the turn was held all the time at 200 WeCom callbacks a second, mostly by
    writers not yet running, and commands queued behind it for seconds (a lock convoy); freed, a command
    already running takes it at once.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def try_take(self) -> bool:
        if self._held:
            return False
        self._held = True
        return True

    async def take(self, timeout_s: float) -> None:
        """Wait for the turn; `sqlite3.OperationalError` ("database is locked") after `timeout_s`."""
        if self.try_take():
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        at_head = False
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            if at_head:
                self._waiters.appendleft(waiter)
            else:
                self._waiters.append(waiter)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), deadline - loop.time())
            except TimeoutError:
                waiter.cancel()
                if self.try_take():
                    return  # freed just as the wait ran out
                raise sqlite3.OperationalError("database is locked") from None
            except BaseException:
                woken = waiter.done() and not waiter.cancelled()
                waiter.cancel()
                if woken:
                    self._wake_next()  # woken for a turn it will not take: the next one may
                raise
            if self.try_take():
                return
            at_head = True  # woken, but a running writer took it first: next in line again

    def give_back(self) -> None:
        """Free the turn and wake the writer that has waited longest."""
        self._held = False
        self._wake_next()

    def _wake_next(self) -> None:
        if self._held:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class InlineSQLiteDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect drives; one instance per engine."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.write_turn = WriteTurn()
        self.slow_statements: set[str] = set()
        self.last_yield = 0.0  # perf_counter() when a statement last let the event loop run

    def connect(self, *args: Any, **kwargs: Any) -> InlineConnection:
        budget_s = float(kwargs.pop("timeout", DEFAULT_BUSY_BUDGET_S))
        kwargs.pop("async_creator_fn", None)
        # Used from the loop's thread and, for slow statements, from a worker thread (never both at once).
        kwargs["check_same_thread"] = False
        raw = sqlite3.connect(*args, timeout=0, **kwargs)
        return InlineConnection(self, raw, budget_s)


class InlineConnection:
    """A DBAPI connection over one `sqlite3.Connection`, safe to use from SQLAlchemy's async engine."""

    def __init__(self, dbapi: InlineSQLiteDBAPI, raw: sqlite3.Connection, busy_budget_s: float) -> None:
        self._dbapi = dbapi
        self._connection = raw  # the name SQLAlchemy's dialect reads the driver connection from
        self._busy_budget_s = busy_budget_s
        self._has_turn = False

    @property
    def driver_connection(self) -> sqlite3.Connection:
        return self._connection

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.isolation_level = value

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.create_function(*args, **kwargs)

    def cursor(self, server_side: bool = False) -> InlineCursor:
        """A buffered cursor (rows are fetched with the statement), whatever `server_side` asks for."""
        return InlineCursor(self)

    def commit(self) -> None:
        if not self._connection.in_transaction:
            return  # a read-only unit of work: nothing to commit, and no turn to wait for
        try:
            self.run("COMMIT", self._connection.commit)
        finally:
            self._end_turn_if_done()

    def rollback(self) -> None:
        try:
            self._connection.rollback()
        finally:
            self._end_turn_if_done()

    def close(self) -> None:
        try:
            self._connection.close()
        finally:
            self._end_turn()

    def terminate(self) -> None:
        self.close()

    def run(self, statement: str, call: Callable[[], T]) -> T:
        """Run `call` (which executes `statement`) after taking this engine's write turn if it may write."""
        if not self._has_turn and not self._connection.in_transaction and _may_write(statement):
            if in_greenlet():
                # The loop's turn is due: take it now, before the write turn, not while holding it.
                await_(self._pause(YIELD_EVERY_S))
            turn = self._dbapi.write_turn
            if not turn.try_take():
                await_(turn.take(self._busy_budget_s))
            self._has_turn = True
        try:
            return self._run_through_busy(statement, call)
        finally:
            self._end_turn_if_done()

    def _run_through_busy(self, statement: str, call: Callable[[], T]) -> T:
        """Retry while another process holds the write lock, sleeping on the loop, within the budget."""
        deadline = time.monotonic() + self._busy_budget_s
        tries = 0
        began_here = not self._connection.in_transaction
        while True:
            try:
                return self._timed(statement, call)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
                if self._connection.in_transaction:
                    if not began_here:
                        raise  # a transaction that has written cannot simply retry
                    self._connection.rollback()  # sqlite3 began it just before the write that failed
                delay = BUSY_RETRY_DELAYS_S[min(tries, len(BUSY_RETRY_DELAYS_S) - 1)]
                tries += 1
                await_(asyncio.sleep(delay))

    def _timed(self, statement: str, call: Callable[[], T]) -> T:
        slow = self._dbapi.slow_statements
        if statement in slow:
            return await_(asyncio.get_running_loop().run_in_executor(None, call))
        started = time.perf_counter()
        result = call()
        took = time.perf_counter() - started
        if took > SLOW_STATEMENT_S and statement != "COMMIT":
            slow.add(statement)
            log.info(  # a note on how the driver adapts, not something to act on
                "sqlite: a statement took %.0f ms; it runs on a worker thread from now on: %s",
                took * 1000,
                " ".join(statement.split())[:200],
            )
        return result

    def pause(self) -> Awaitable[None]:
        """What to await after a statement: usually nothing; a turn of the event loop when this engine's
        statements have run for `YIELD_EVERY_S` without one (`YIELD_EVERY_HOLDING_TURN_S` while this
        transaction holds the write turn; a new one takes the loop's turn before the write turn). Statements
        never wait here, so a background loop of them (a queue being drained) would otherwise keep every
        request out until it was done."""
        return self._pause(YIELD_EVERY_HOLDING_TURN_S if self._has_turn else YIELD_EVERY_S)

    def _pause(self, every: float) -> Awaitable[None]:
        now = time.perf_counter()
        if now - self._dbapi.last_yield < every:
            return _done()
        self._dbapi.last_yield = now
        return asyncio.sleep(0)

    def _end_turn_if_done(self) -> None:
        if self._has_turn and not self._connection.in_transaction:
            self._end_turn()

    def _end_turn(self) -> None:
        if self._has_turn:
            self._has_turn = False
            self._dbapi.write_turn.give_back()


class InlineCursor:
    """A DBAPI cursor whose rows are fetched together with the statement (so a slow one can move threads)."""

    arraysize = 1

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor = connection.driver_connection.cursor()
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self._cursor
        params = () if parameters is None else parameters

        def call() -> list[Any]:
            cursor.execute(operation, params)
            return cursor.fetchall() if cursor.description else []

        self._finish(self._connection.run(operation, call))
        return self

    def executemany(self, operation: str, seq_of_parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        cursor = self._cursor
        rows = list(seq_of_parameters)

        def call() -> list[Any]:
            cursor.executemany(operation, rows)
            return []

        self._finish(self._connection.run(operation, call))
        return self

    def _finish(self, rows: list[Any]) -> None:
        if in_greenlet():
            # SQLAlchemy's AsyncConnection.execute insists that an async driver awaited something.
            await_(self._connection.pause())
        self._rows = collections.deque(rows)
        self.description = self._cursor.description
        self.rowcount = self._cursor.rowcount
        self.lastrowid = self._cursor.lastrowid

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def setinputsizes(self, *sizes: Any) -> None:
        """Part of the DBAPI; SQLite has nothing to set."""

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's AsyncConnection on async drivers' cursors; ours hold no open statement."""

    def close(self) -> None:
        self._rows.clear()
        self._cursor.close()


async def _done() -> None:
    """Nothing to wait for (see InlineConnection.pause)."""


def _may_write(statement: str) -> bool:
    first = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return first not in NO_TURN_FIRST_WORDS


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(error)

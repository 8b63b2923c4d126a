"""One writer at a time per process on a SQLite file, waiting in line on the event loop.

SQLite has one write lock. A second connection of ours that meets it sleeps in SQLite's busy handler
(1, 2, 5, 10 … 100 ms a sleep, then tries again), so it keeps sleeping well after the lock came free, while
the requests behind it wait for its pooled connection. Here a transaction's first write waits for an
`asyncio.Lock` instead, and is woken the moment the writer before it hands its connection back; reads
never wait. Other processes sharing the file still meet SQLite's busy handler. `[database]
sqlite_queue_writers` turns it off; bench/README.md (2026-12-05) has the figures that keep it.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

HOLDS_WRITE_TURN = "teambeat.holds_write_turn"
_WRITES = re.compile(
    r"\s*(INSERT|UPDATE|DELETE|REPLACE|BEGIN\s+IMMEDIATE|CREATE|DROP|ALTER)\b", re.IGNORECASE
)


def queue_writers(engine: AsyncEngine, timeout_s: float) -> None:
    """Make a transaction's first write wait for the process's write turn, held until its connection goes
    back to the pool (after COMMIT or ROLLBACK). A turn not had within `timeout_s` (SQLite's own busy
    timeout) fails as SQLite would: "database is locked"."""
    turn = asyncio.Lock()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _wait_for_turn(
        connection: Connection, _cursor: Any, statement: str, parameters: Any, context: Any, _many: bool
    ) -> None:
        info = connection.connection.info
        if info.get(HOLDS_WRITE_TURN) or not is_write(statement, context):
            return
        try:
            await_(_take(turn, timeout_s))
        except TimeoutError:
            locked = sqlite3.OperationalError(f"database is locked (no write turn within {timeout_s:g} s)")
            raise OperationalError(statement, parameters, locked) from None
        info[HOLDS_WRITE_TURN] = True

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _hand_on_turn(_dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(HOLDS_WRITE_TURN, False):
            turn.release()


async def _take(turn: asyncio.Lock, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        await turn.acquire()


def is_write(statement: str, context: Any) -> bool:
    """Whether the statement takes SQLite's write lock (compiled DML, or a write spelled as text)."""
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return True
    return _WRITES.match(statement) is not None

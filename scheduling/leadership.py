"""Who may schedule: with PostgreSQL, only the replica holding a session-level advisory lock.

The lock lives as long as the database session that took it, so a replica that dies (crash, kill -9,
lost network) releases it with its connection, and a standby polling `pg_try_advisory_lock` takes
over. Leadership only saves duplicate work: the unique ScheduledPost row is what forbids a second post,
so a brief overlap while a dying leader notices it has lost its session does no harm.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.db import is_postgres

log = logging.getLogger(__name__)
LOCK_NAMESPACE = "teambeat.scheduler"


class Leadership(Protocol):
    async def acquire(self) -> bool:
        """Take or confirm leadership; True while this process holds it."""
        ...

    async def release(self) -> None: ...


class SoleLeader:
    """SQLite: one process owns the file, so it always leads."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


def lock_key(schema: str) -> int:
    """A signed 64-bit advisory-lock key per schema: replicas of one deployment share it, while
    deployments (or test runs) in other schemas of the same server never contend."""
    digest = hashlib.sha256(f"{LOCK_NAMESPACE}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """Holds `pg_try_advisory_lock` on one dedicated connection for as long as it leads."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self.key: int | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def acquire(self) -> bool:
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                await self._connection.commit()
                return True
            except Exception:
                log.warning("scheduler lost its database session: leadership dropped", exc_info=True)
                await self._discard()
                return False
        connection = await self._engine.connect()
        try:
            if self.key is None:
                self.key = lock_key(str(await connection.scalar(text("SELECT current_schema()"))))
            got = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))
            await connection.commit()  # a session-level lock outlives the transaction
        except Exception:
            await connection.invalidate()
            await connection.close()
            raise
        if got:
            self._connection = connection
            # names the leader for `teambeat status` (pg_stat_activity of the lock's holder)
            await connection.execute(
                text("SELECT set_config('application_name', :name, false)"), {"name": replica_name()}
            )
            await connection.commit()
            return True
        await connection.close()
        return False

    async def release(self) -> None:
        if self._connection is None:
            return
        try:
            await self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await self._connection.commit()
        except Exception:
            log.debug("advisory unlock failed; the session ends anyway", exc_info=True)
        await self._discard()

    async def _discard(self) -> None:
        """Never hand a connection that held the lock back to the pool: close the session itself."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.invalidate()
        finally:
            await connection.close()


def leadership_for(engine: AsyncEngine) -> Leadership:
    return AdvisoryLock(engine) if is_postgres(engine) else SoleLeader()


def replica_name() -> str:
    """This process as an operator finds it: host and pid."""
    return f"teambeat scheduler {socket.gethostname()} pid {os.getpid()}"


async def current_leader(connection: AsyncConnection) -> str | None:
    """Who holds the scheduler's lock in this schema (PostgreSQL): its name and address, or None."""
    key = lock_key(str(await connection.scalar(text("SELECT current_schema()"))))
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF  # a bigint advisory key is stored as two 32-bit oids
    row = (
        await connection.execute(
            text(
                "SELECT a.application_name, a.client_addr::text, a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"
            ),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF},
        )
    ).first()
    if row is None:
        return None
    name, address, pid = row
    return f"{name or 'backend pid ' + str(pid)} ({address or 'local socket'})"

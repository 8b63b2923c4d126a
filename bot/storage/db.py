"""Engines and sessions: one place that knows how SQLite and PostgreSQL must be set up for teambeat.

SQLite is the embedded default and PostgreSQL the shared production store; everything above this module
sees only an `AsyncEngine` and an `async_sessionmaker`, so the rest of the code never branches on the
backend except where a feature genuinely differs (see `is_postgres`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState

from bot.storage.sqlite_writers import queue_writers

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
ACCEPTED_SCHEMES = ("sqlite", SQLITE_DRIVER, "postgresql", "postgres", POSTGRES_DRIVER)

SQLITE_CONNECTIONS = 5
SQLITE_BUSY_TIMEOUT_S = 5.0  # the sqlite3 module's default, unless the URL says `?timeout=`
POSTGRES_POOL_SIZE = 5
POSTGRES_MAX_OVERFLOW = 10
POSTGRES_POOL_RECYCLE_S = 1800


def normalize_url(url: str) -> str:
    """Turn a configured database URL into one for an async driver.

    Users write `sqlite:///teambeat.db` or `postgresql://…` (the forms every other tool uses); the engine
    needs `sqlite+aiosqlite` / `postgresql+asyncpg`. Only the scheme is rewritten, so relative SQLite paths
    stay relative (to the current directory, as SQLAlchemy resolves them), `sqlite://` and
    `sqlite:///:memory:` stay in-memory, and URLs already naming the async driver come back unchanged.
    The one other rewrite: libpq's `sslmode=` query parameter becomes asyncpg's `ssl=`.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(_scheme_error(url))
    scheme = scheme.lower()
    if scheme in ("sqlite", SQLITE_DRIVER):
        return f"{SQLITE_DRIVER}://{rest}"
    if scheme in ("postgresql", "postgres", POSTGRES_DRIVER):
        async_url = url if scheme == POSTGRES_DRIVER else f"{POSTGRES_DRIVER}://{rest}"
        return _asyncpg_ssl(async_url)
    raise ValueError(_scheme_error(url))


def create_engine(
    url: str,
    *,
    pg_schema: str | None = None,
    sqlite_connections: int = SQLITE_CONNECTIONS,
    sqlite_queue_writers: bool = True,
) -> AsyncEngine:
    """Build the async engine for `url` with the per-connection setup each backend needs.

    `pg_schema` puts every connection's `search_path` on that schema (PostgreSQL only): tests use a fresh
    schema each so that parallel runs on one database never see each other's rows. An in-memory SQLite
    engine is a single shared connection: right for scripts and tests, not for concurrent units of work.
    `sqlite_queue_writers`: a SQLite file's writers take turns in the process (sqlite_writers.py).
    """
    async_url = make_url(normalize_url(url))
    if async_url.get_backend_name() == "sqlite":
        if pg_schema is not None:
            raise ValueError("pg_schema is only meaningful for PostgreSQL")
        return _create_sqlite_engine(async_url, sqlite_connections, sqlite_queue_writers)
    return _create_postgres_engine(async_url, pg_schema)


def create_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit: events and replies are built after the commit.
    `info` is given to every session (a process's shared caches)."""
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def is_postgres(engine: AsyncEngine) -> bool:
    """Whether row locks (`FOR UPDATE SKIP LOCKED`) and advisory locks are available."""
    return engine.dialect.name == "postgresql"


def is_sqlite_memory(url: str) -> bool:
    """Whether `url` names a private in-memory SQLite database (gone once its engine is disposed)."""
    parsed = make_url(normalize_url(url))
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def quote_pg_schema(name: str) -> str:
    """The schema name as a quoted SQL identifier, refusing names that could not be quoted safely."""
    if not name or '"' in name or "\x00" in name:
        raise ValueError(f"invalid PostgreSQL schema name: {name!r}")
    return f'"{name}"'


def _create_sqlite_engine(url: URL, connections: int, queue_writers_in_process: bool) -> AsyncEngine:
    memory = url.database in (None, "", ":memory:")
    # The pool's own reset would roll back every connection returned, even one its session has just
    # committed or rolled back: one more trip to the connection's thread per unit of work. The "reset"
    # listener below rolls back only a connection still in a transaction.
    kwargs: dict[str, Any] = {"pool_reset_on_return": None}
    if not memory:
        # The default StaticPool is right for :memory: (one connection = one database). A file gets five
        # by default, without overflow: with the writers taking turns on the loop (sqlite_writers.py),
        # more connections only let reads run beside the writer (bench/README.md, 2026-12-05: P2's
        # DingTalk replies p99 80 ms with five, 7.4 s with two); without that queue, two were best.
        kwargs.update(pool_size=connections, max_overflow=0, pool_pre_ping=False)
    # aiosqlite as it comes: each connection's statements run on its own thread, so a writer waiting
    # for SQLite's lock (the busy timeout, `?timeout=` in the URL, 5 s by default) never blocks the loop.
    engine = create_async_engine(url, **kwargs)
    _install_sqlite_listeners(engine, wal=not memory)
    if queue_writers_in_process and not memory:
        queue_writers(engine, timeout_s=float(url.query.get("timeout", SQLITE_BUSY_TIMEOUT_S)))
    return engine


def _install_sqlite_listeners(engine: AsyncEngine, *, wal: bool) -> None:
    """Per-connection PRAGMAs, and a fix for savepoints in the sqlite3 module's transaction handling.

    We keep the sqlite3 module's own rule for *when* a transaction begins (just before the first write),
    deliberately: reads then run without holding anything, and the first write waits (up to the busy
    timeout) for the write lock. A transaction begun earlier (BEGIN at the first SELECT) would fail
    at once with "database is locked" whenever another writer committed between its read and its write,
    and one begun with BEGIN IMMEDIATE would make every read-only session queue behind the writers. The
    price is that reads before a unit of work's first write are not a snapshot; unique constraints, not reads,
    guard against duplicates. The one thing that rule gets wrong, a SAVEPOINT opened before any write
    (which would escape the transaction and commit on RELEASE), is fixed by beginning first.
    """

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
        # sqlite3 knows whether a transaction is open; asyncio_safe is False only where nothing may be
        # awaited (a connection collected as garbage), where SQLAlchemy's own reset skips it too
        if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # Switching to WAL needs a moment's exclusive lock: the busy timeout waits for it as for a write.
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "savepoint")
    def _on_savepoint(connection: Connection, _name: str | None) -> None:
        if not sqlite_in_transaction(connection):
            # IMMEDIATE: a savepoint means writes are coming, so wait for the write lock now.
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_in_transaction(connection: Connection) -> bool:
    """Whether SQLite itself (not just SQLAlchemy) has a transaction open on this connection."""
    dbapi_connection: Any = connection.connection.dbapi_connection
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    return bool(driver.in_transaction)


def _create_postgres_engine(url: URL, pg_schema: str | None) -> AsyncEngine:
    connect_args: dict[str, Any] = {}
    if pg_schema is not None:
        connect_args["server_settings"] = {"search_path": quote_pg_schema(pg_schema)}
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_MAX_OVERFLOW,
        pool_recycle=POSTGRES_POOL_RECYCLE_S,
        connect_args=connect_args,
    )


def _asyncpg_ssl(url: str) -> str:
    """asyncpg calls libpq's `sslmode` `ssl`; accept the libpq spelling people copy from elsewhere."""
    parsed = make_url(url)
    if "sslmode" not in parsed.query or "ssl" in parsed.query:
        return url
    fixed = parsed.update_query_dict({"ssl": parsed.query["sslmode"]}).difference_update_query(["sslmode"])
    return fixed.render_as_string(hide_password=False)


def _scheme_error(url: str) -> str:
    scheme = url.partition("://")[0] if "://" in url else url.partition(":")[0]
    return f"unsupported database URL scheme {scheme!r}: use one of {', '.join(ACCEPTED_SCHEMES)}"

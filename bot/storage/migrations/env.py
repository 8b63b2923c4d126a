"""Alembic environment for teambeat.

`bot.storage.migrate` hands in an open connection (`config.attributes["connection"]`, from the async
engine via `run_sync`) and optionally a PostgreSQL schema (`config.attributes["pg_schema"]`). Run by the
plain `alembic` command instead, it builds its own async engine from `sqlalchemy.url`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from bot.storage.db import create_engine, quote_pg_schema, sqlite_in_transaction
from bot.storage.orm import Base, UTCDateTime

# First key of the PostgreSQL advisory lock held while migrating (the second is the schema's hash).
MIGRATION_LOCK_KEY = 0x74626D67  # "tbmg"

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render UTCDateTime as a plain DateTime, so that migrations never import the (changing) models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _configure_options(dialect_name: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "render_item": _render_item,
        "compare_type": True,
        # SQLite can't ALTER most things: batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
        # One transaction for the whole upgrade (SQLite too), so the lock taken at its start covers every
        # migration: replicas upgrading together find the work done instead of repeating it.
        "transactional_ddl": True,
    }
    schema = config.attributes.get("pg_schema")
    if schema and dialect_name == "postgresql":
        options["version_table_schema"] = schema
    return options


def _sqlite_foreign_keys(connection: Connection, enabled: bool) -> None:
    """Switch FK enforcement outside any transaction (SQLite ignores the PRAGMA inside one).

    Batch migrations drop and recreate tables; with enforcement on, dropping a parent would cascade.
    """
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    finally:
        cursor.close()


def do_run_migrations(connection: Connection) -> None:
    dialect_name = connection.dialect.name
    schema = config.attributes.get("pg_schema")
    sqlite = dialect_name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(connection, False)
    try:
        context.configure(connection=connection, **_configure_options(dialect_name))
        with context.begin_transaction():
            if sqlite and not sqlite_in_transaction(connection):
                # The sqlite3 module would run each DDL statement on its own: make the migration atomic.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            if dialect_name == "postgresql":
                if schema:
                    connection.exec_driver_sql(f"SET LOCAL search_path TO {quote_pg_schema(schema)}")
                # Replicas starting together: the first migrates, the others wait and then find it done.
                connection.exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY}, hashtext(current_schema()))"
                )
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows violating foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, True)


async def _run_with_own_engine(url: str) -> None:
    engine = create_engine(url, pg_schema=config.attributes.get("pg_schema"))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options("sqlite" if url.startswith("sqlite") else "postgresql"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(_run_with_own_engine(config.get_main_option("sqlalchemy.url") or ""))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

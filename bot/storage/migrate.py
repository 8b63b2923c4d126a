"""Schema migrations, driven from code: no alembic.ini, nothing located through the current directory.

The migration scripts ship inside the package (`bot/storage/migrations`), so `teambeat db upgrade` and the
console mode work from any folder and from an installed wheel.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine, is_postgres, is_sqlite_memory, normalize_url, quote_pg_schema

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# First key of the PostgreSQL advisory lock held while creating a schema (the second is its name's hash).
SCHEMA_LOCK_KEY = 0x74627363  # "tbsc"


def alembic_config(*, pg_schema: str | None = None, url: str | None = None) -> Config:
    """An Alembic config built in code, pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    config.attributes["pg_schema"] = pg_schema
    return config


def head_revision() -> str:
    """The revision the code expects the database to be at."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


async def upgrade(url: str, *, pg_schema: str | None = None, revision: str = "head") -> None:
    """Migrate the database at `url` (to head by default), creating `pg_schema` first if it is missing.

    Safe to run from several processes at once (a lock makes the later ones find the work done), but not
    from several tasks of one process at once: Alembic keeps its migration context in a module global.
    """
    if is_sqlite_memory(url):
        raise ValueError("an in-memory SQLite database vanishes with its engine: use upgrade_engine(engine)")
    engine = create_engine(url, pg_schema=pg_schema)
    try:
        await upgrade_engine(engine, pg_schema=pg_schema, revision=revision)
    finally:
        await engine.dispose()


async def upgrade_engine(
    engine: AsyncEngine, *, pg_schema: str | None = None, revision: str = "head"
) -> None:
    """Migrate through an existing engine (needed for in-memory SQLite, where the engine is the database)."""
    if pg_schema is not None and is_postgres(engine):
        async with engine.begin() as connection:
            # IF NOT EXISTS alone still races when several processes create the schema at once.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key, hashtext(:schema))"),
                {"key": SCHEMA_LOCK_KEY, "schema": pg_schema},
            )
            await connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_pg_schema(pg_schema)}")
    config = alembic_config(pg_schema=pg_schema)
    async with engine.connect() as connection:
        await connection.run_sync(_run_upgrade, config, revision)


async def current_revision(engine: AsyncEngine, *, pg_schema: str | None = None) -> str | None:
    """The revision recorded in the database, or None for a database never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision, pg_schema if is_postgres(engine) else None)


async def check_schema_current(engine: AsyncEngine, *, pg_schema: str | None = None) -> bool:
    """Whether the database is at the code's head revision (refuse to run against a stale schema)."""
    return await current_revision(engine, pg_schema=pg_schema) == head_revision()


def autogenerate_revision(message: str, *, rev_id: str | None = None) -> None:
    """Write a new migration by comparing orm.py with a scratch SQLite database at head.

    Developer tooling (`python -m bot.storage.migrate revision -m "…"`): always review the result.
    """
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'autogenerate.db'}"
        asyncio.run(upgrade(url))
        asyncio.run(_autogenerate(url, message, rev_id))


async def _autogenerate(url: str, message: str, rev_id: str | None) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_revision, alembic_config(), message, rev_id)
    finally:
        await engine.dispose()


def _run_upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _run_revision(connection: Connection, config: Config, message: str, rev_id: str | None) -> None:
    config.attributes["connection"] = connection
    command.revision(config, message=message, autogenerate=True, rev_id=rev_id)


def _current_revision(connection: Connection, version_table_schema: str | None) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table_schema": version_table_schema})
    return context.get_current_revision()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.storage.migrate")
    sub = parser.add_subparsers(dest="action", required=True)
    revision = sub.add_parser("revision", help="autogenerate a new migration from orm.py")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--rev-id")
    up = sub.add_parser("upgrade", help="migrate a database to head")
    up.add_argument("url")
    args = parser.parse_args(argv)
    if args.action == "revision":
        autogenerate_revision(args.message, rev_id=args.rev_id)
    else:
        asyncio.run(upgrade(args.url))


if __name__ == "__main__":
    main()

"""The packaged migrations build exactly the schema orm.py describes, on both backends, from any folder."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine
from bot.storage.migrate import (
    alembic_config,
    check_schema_current,
    current_revision,
    head_revision,
    upgrade,
)
from bot.storage.orm import Base

REPO_ROOT = Path(__file__).resolve().parents[2]
UPGRADE_SCRIPT = (
    "import asyncio, sys\n"
    "from bot.storage.migrate import upgrade\n"
    "asyncio.run(upgrade(sys.argv[1], pg_schema=sys.argv[2] or None))\n"
)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _migrated_engine(url: str, pg_schema: str | None) -> AsyncEngine:
    await upgrade(url, pg_schema=pg_schema)
    return create_engine(url, pg_schema=pg_schema)


async def test_migrated_schema_matches_the_models(database_url: tuple[str, str | None]) -> None:
    url, pg_schema = database_url
    engine = await _migrated_engine(url, pg_schema)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
            tables = await connection.run_sync(_tables)
    finally:
        await engine.dispose()
    assert diff == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


async def test_the_comparison_does_notice_a_drifted_schema(database_url: tuple[str, str | None]) -> None:
    """Guards the test above: a missing index and a changed column type must show up as differences."""
    url, pg_schema = database_url
    engine = await _migrated_engine(url, pg_schema)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP INDEX ix_members_email")
            await connection.exec_driver_sql("CREATE TABLE extra (id INTEGER PRIMARY KEY)")
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    kinds = {(entry[0], getattr(entry[1], "name", None)) for entry in diff}
    assert kinds == {("add_index", "ix_members_email"), ("remove_table", "extra")}


async def test_revision_tracking(database_url: tuple[str, str | None]) -> None:
    url, pg_schema = database_url
    engine = create_engine(url, pg_schema=pg_schema)
    try:
        assert await current_revision(engine, pg_schema=pg_schema) is None
        assert not await check_schema_current(engine, pg_schema=pg_schema)
        await upgrade(url, pg_schema=pg_schema)
        await upgrade(url, pg_schema=pg_schema)  # a second upgrade is a no-op
        assert await current_revision(engine, pg_schema=pg_schema) == head_revision() == "0017"
        assert await check_schema_current(engine, pg_schema=pg_schema)
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_downgrade_to_base_and_back(database_url: tuple[str, str | None]) -> None:
    url, pg_schema = database_url
    engine = await _migrated_engine(url, pg_schema)

    def downgrade(connection: Connection) -> None:
        config = alembic_config(pg_schema=pg_schema)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    try:
        async with engine.connect() as connection:
            await connection.run_sync(downgrade)
            assert await connection.run_sync(_tables) <= {"alembic_version"}
        await upgrade(url, pg_schema=pg_schema)
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_migrations_do_not_depend_on_the_current_directory(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    await upgrade("sqlite:///relative.db")  # relative to the current directory, like SQLAlchemy
    assert (elsewhere / "relative.db").exists()
    engine = create_engine("sqlite:///relative.db")
    try:
        assert await check_schema_current(engine)
    finally:
        await engine.dispose()


async def test_upgrading_a_private_memory_database_by_url_is_refused() -> None:
    with pytest.raises(ValueError, match="upgrade_engine"):
        await upgrade("sqlite://")


@pytest.mark.slow
async def test_replicas_upgrading_at_once_all_succeed(database_url: tuple[str, str | None]) -> None:
    """Several processes starting together (replicas, or `db upgrade` next to `run`) must not trip up."""
    url, pg_schema = database_url
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            UPGRADE_SCRIPT,
            url,
            pg_schema or "",
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [await asyncio.wait_for(process.communicate(), timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], [err for _, err in results]
    engine = create_engine(url, pg_schema=pg_schema)
    try:
        assert await check_schema_current(engine, pg_schema=pg_schema)
    finally:
        await engine.dispose()

"""Databases another process can open by URL alone (a `teambeat` subprocess has no pg_schema setting)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.storage.db import normalize_url
from tests.conftest import postgres_url


@contextlib.asynccontextmanager
async def database_for_subprocess(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A SQLite file in tmp_path, or a fresh PostgreSQL database (dropped afterwards, even if in use)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'teambeat.db'}"
        return
    server = postgres_url()
    assert server is not None  # the backend fixture skipped otherwise
    name = f"tb_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalize_url(server), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()

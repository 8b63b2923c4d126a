"""Shared fixtures: a migrated database on every backend, and the session/unit-of-work plumbing on top.

Any test that asks for `engine`, `sessionmaker`, `session` or `uow_factory` runs once per backend:
SQLite always, PostgreSQL when TEAMBEAT_TEST_POSTGRES_URL is set (CI sets it). To pin a test to one
backend: `@pytest.mark.parametrize("backend", ["postgres"], indirect=True)`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bot.storage.db import create_engine, create_sessionmaker, normalize_url
from bot.storage.migrate import upgrade
from bot.storage.uow import UnitOfWorkFactory

POSTGRES_URL_ENV = "TEAMBEAT_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgres")
SQLITE_DB_NAME = "teambeat.db"


class DatabaseURL(NamedTuple):
    """Where a test's database lives: unpack as `url, pg_schema = database_url`."""

    url: str
    pg_schema: str | None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whole kinds of test that are slow by nature, marked here so a new one cannot forget: everything under
    tests/reliability/ (real processes, outages), and every run on PostgreSQL (each builds and migrates a
    schema of its own, about a second before the test starts). CI runs them; `-m "not slow"` leaves them."""
    reliability = Path(__file__).parent / "reliability"
    for item in items:
        on_postgres = getattr(getattr(item, "callspec", None), "params", {}).get("backend") == "postgres"
        if on_postgres or item.get_closest_marker("postgres") or reliability in Path(item.path).parents:
            item.add_marker(pytest.mark.slow)


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


BACKEND_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""`params=` for a fixture of any scope that runs once per backend (pass its param to `chosen_backend`)."""


def chosen_backend(name: str) -> str:
    """`name` checked: `sqlite`, or `postgres` (skipped, saying why, when no server is configured)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: use one of {BACKENDS}")
    if name == "postgres" and postgres_url() is None:
        pytest.skip(f"{POSTGRES_URL_ENV} not set")
    return name


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database: `sqlite`, or `postgres` (skipped, saying why, when no server is configured)."""
    return chosen_backend(request.param)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; each test gets a copy (a file copy is ~1 ms)."""
    path = tmp_path_factory.mktemp("sqlite-template") / SQLITE_DB_NAME
    _run_outside_loop(upgrade(f"sqlite:///{path}"))
    return path


@pytest_asyncio.fixture
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[DatabaseURL]:
    """An empty database of its own for this test: a SQLite file in tmp_path, or a fresh PostgreSQL schema.

    The schema (`t_<hex>`) is dropped with CASCADE afterwards, so parallel runs on one server never meet.
    """
    if backend == "sqlite":
        yield DatabaseURL(f"sqlite:///{tmp_path / SQLITE_DB_NAME}", None)
        return
    url = postgres_url()
    assert url is not None  # the backend fixture skipped otherwise
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with admin.begin() as connection:
            await connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield DatabaseURL(url, schema)
        async with admin.begin() as connection:
            # Fail rather than hang if a broken test left a transaction holding locks in the schema.
            await connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            await connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.dispose()


@pytest_asyncio.fixture
async def engine(database_url: DatabaseURL, sqlite_template: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's database, migrated to head; disposed afterwards."""
    url, pg_schema = database_url
    if pg_schema is None:
        shutil.copyfile(sqlite_template, url.removeprefix("sqlite:///"))
    else:
        await upgrade(url, pg_schema=pg_schema)
    engine = create_engine(url, pg_schema=pg_schema)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest_asyncio.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A plain session for arranging and inspecting rows; whatever it did not commit is rolled back."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def uow_factory(sessionmaker: async_sessionmaker[AsyncSession]) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(sessionmaker)


def _run_outside_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion on a private loop in a worker thread, whatever loop pytest runs."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()

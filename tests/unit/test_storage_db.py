"""Database URL handling: what users write in the config becomes a URL for an async driver."""

from __future__ import annotations

import pytest

from bot.storage.db import create_engine, is_postgres, is_sqlite_memory, normalize_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///teambeat.db", "sqlite+aiosqlite:///teambeat.db"),
        ("sqlite:///data/teambeat.db", "sqlite+aiosqlite:///data/teambeat.db"),
        ("sqlite:////var/lib/teambeat.db", "sqlite+aiosqlite:////var/lib/teambeat.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("postgresql://bot:s%40cret@db:5432/teambeat", "postgresql+asyncpg://bot:s%40cret@db:5432/teambeat"),
        ("postgres://bot@db/teambeat", "postgresql+asyncpg://bot@db/teambeat"),
        ("postgresql+asyncpg://bot@db/teambeat", "postgresql+asyncpg://bot@db/teambeat"),
        ("sqlite+aiosqlite:///x.db?timeout=3", "sqlite+aiosqlite:///x.db?timeout=3"),
        ("postgresql://bot@db/teambeat?sslmode=require", "postgresql+asyncpg://bot@db/teambeat?ssl=require"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    "given", ["mysql://u:pw@h/db", "postgresql+psycopg2://h/db", "teambeat.db", "", "sqlite:teambeat.db"]
)
def test_normalize_url_refuses_other_schemes(given: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_url(given)
    message = str(caught.value)
    assert "sqlite" in message and "postgresql" in message
    assert "pw" not in message  # never echo credentials


@pytest.mark.parametrize(
    ("url", "memory"),
    [
        ("sqlite://", True),
        ("sqlite:///:memory:", True),
        ("sqlite:///x.db", False),
        ("postgres://h/db", False),
    ],
)
def test_is_sqlite_memory(url: str, memory: bool) -> None:
    assert is_sqlite_memory(url) is memory


async def test_engines_know_their_backend() -> None:
    sqlite = create_engine("sqlite://")
    postgres = create_engine("postgres://nobody@127.0.0.1:1/none", pg_schema="t_x")  # never connects
    try:
        assert not is_postgres(sqlite)
        assert is_postgres(postgres)
    finally:
        await sqlite.dispose()
        await postgres.dispose()


def test_pg_schema_is_refused_for_sqlite_and_checked_for_postgres() -> None:
    with pytest.raises(ValueError):
        create_engine("sqlite:///x.db", pg_schema="t_x")
    with pytest.raises(ValueError):
        create_engine("postgresql://h/db", pg_schema='bad"name')


@pytest.mark.parametrize(("connections", "expected"), [(None, 5), (1, 1), (3, 3)])
async def test_a_sqlite_file_gets_five_connections_unless_configured(tmp_path, connections, expected) -> None:
    """Reads side by side on a few connections (writers take turns on the loop); no overflow beyond them."""
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    engine = create_engine(url) if connections is None else create_engine(url, sqlite_connections=connections)
    try:
        async with engine.connect():
            pass
        pool = engine.sync_engine.pool
        assert pool.size() == expected and pool._max_overflow == 0
    finally:
        await engine.dispose()

"""Background sessions give way to requests before they write, never while they hold the write lock.

A request in hand that needs SQLite's write lock waits for whoever holds it; if the holder were a polite
background session waiting for that request to finish, both would wait (up to 0.1 s a statement, seconds
over a deal's announcements). This is what made P2's /成交 answers stall for 2 s.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.foreground import Foreground, polite_sessionmaker
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade_engine
from bot.storage.orm import ProcessedEvent

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_once_its_changes_are_flushed_a_polite_session_no_longer_waits_for_requests(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'polite.db'}")
    await upgrade_engine(engine)
    foreground = Foreground()
    background = polite_sessionmaker(engine, foreground)
    loop = asyncio.get_running_loop()
    try:
        async with background() as session:
            with foreground.request():  # a request stays in hand throughout
                began = loop.time()
                await session.scalar(select(func.count()).select_from(ProcessedEvent))
                before_writing = loop.time() - began

                session.add(ProcessedEvent(platform="console", event_id="e1", received_at=NOW))
                began = loop.time()
                for _ in range(5):  # the first autoflushes the new row: the write lock is held now
                    await session.scalar(select(func.count()).select_from(ProcessedEvent))
                after_writing = loop.time() - began
            await session.commit()
    finally:
        await engine.dispose()

    assert before_writing >= 0.09  # gave way to the request (at most 0.1 s)
    assert after_writing < 0.05  # five reads holding the lock, none of them waiting


async def test_an_insert_returning_run_as_a_scalar_counts_as_writing(tmp_path: Path) -> None:
    """deals.record writes with `session.scalar(INSERT … RETURNING)`: no autoflush shows that write."""
    from sqlalchemy import insert

    engine = create_engine(f"sqlite:///{tmp_path / 'polite.db'}")
    await upgrade_engine(engine)
    foreground = Foreground()
    background = polite_sessionmaker(engine, foreground)
    loop = asyncio.get_running_loop()
    events = ProcessedEvent.__table__
    try:
        async with background() as session:
            with foreground.request():
                await session.scalar(
                    insert(events).returning(events.c.event_id),
                    {"platform": "console", "event_id": "e1", "received_at": NOW},
                )
                began = loop.time()
                for _ in range(5):
                    await session.scalar(select(func.count()).select_from(ProcessedEvent))
                after_writing = loop.time() - began
            await session.commit()
    finally:
        await engine.dispose()

    assert after_writing < 0.05

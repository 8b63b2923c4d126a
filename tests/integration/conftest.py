from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest_asyncio

from bot.clock import FixedClock
from tests.support.chat import Chat, open_chat, write_config

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest_asyncio.fixture
async def chat(engine, database_url, tmp_path) -> AsyncIterator[Chat]:
    """The sample team on this test's database (SQLite, or PostgreSQL when configured), Monday 10:00."""
    url, pg_schema = database_url
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    chat = await open_chat(write_config(tmp_path, url), clock, pg_schema)
    try:
        yield chat
    finally:
        await chat.app.close()

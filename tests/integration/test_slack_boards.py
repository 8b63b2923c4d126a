"""The day's 小组PK board on Slack: one message, edited with chat.update as deals arrive.

The fake Slack keeps each channel's messages and checks chat.update as Slack does (the channel id and ts of
a message it has, the bot's own). Team east: Wolves (Alice U0002), Tigers (Bob U0003, Carol U0004); the
leader is Boss (U0001). Monday 2026-11-23 in Shanghai.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest_asyncio
from sqlalchemy import select

from bot.clock import FixedClock
from bot.storage.orm import OutboxRow
from tests.fakes.slack import message_text
from tests.fakes.slack_bot import CHANNEL, MONDAY_10, SlackBot, slack_bot

BOARD = "Group competition “Sprint”"


@pytest_asyncio.fixture
async def slack(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url) as bot:
        yield bot


def at(bot: SlackBot, hour: int, minute: int) -> None:
    clock = bot.app.clock
    assert isinstance(clock, FixedClock)
    clock.set(MONDAY_10.replace(hour=hour, minute=minute))


async def deal(bot: SlackBot, user: str, amount: str, hour: int, minute: int) -> None:
    at(bot, hour, minute)
    await bot.command(user, f"/deal {amount}")


def shown(bot: SlackBot) -> list[str]:
    """What the channel shows now, message by message."""
    return [message_text(m) for m in bot.fake.channel_messages(CHANNEL)]


async def test_explore(slack: SlackBot) -> None:
    print(await slack.command("U0001", "/team pk start Sprint 2026-11-23..2026-11-25 Wolves Tigers"))
    await deal(slack, "U0002", "5000", 10, 1)
    await deal(slack, "U0003", "8000", 10, 2)
    await deal(slack, "U0004", "1000", 10, 15)
    await deal(slack, "U0002", "6000", 10, 16)
    for m in shown(slack):
        print("-----\n", m)
    print([c.method for c in slack.fake.calls])

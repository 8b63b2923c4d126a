"""DingTalk and WeCom callbacks under a burst: every callback is acknowledged once its command is a
committed job (adapters/intake.py), however slow the handling, and every command acknowledged is
handled. (The bounded backlog, and its waiting at the door, went with the old inbox and intake.)"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.storage.orm import Deal, JobRow
from tests.fakes.dingtalk import open_dingtalk
from tests.fakes.wecom import wecom_bot

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def deals_in(app, table=Deal) -> int:
    async with app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.slow  # ~2 s, and once stalled for 30 s on a busy machine
async def test_dingtalk_a_burst_is_acknowledged_while_its_handling_waits_and_none_is_lost(
    engine, database_url, tmp_path
):
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    release = asyncio.Event()
    async with open_dingtalk(tmp_path, database_url, clock) as dt:

        async def gated(message):  # every command takes until the test lets it go
            await release.wait()
            return await dt.app.dispatcher.handle(message)

        await dt.adapter.start(gated)
        senders = ["alice01", "bob01", "dave01", "boss01", "alice01"]
        payloads = [dt.message(who, f" 成交 {1000 + i} 客户{i}") for i, who in enumerate(senders)]
        posted = [
            asyncio.create_task(
                dt.http.post(
                    "/dingtalk/callback",
                    content=json.dumps(p, ensure_ascii=False).encode(),
                    headers=dt.headers(),
                )
            )
            for p in payloads
        ]

        # All taken in and answered 200 while not one is handled yet.
        answers = await asyncio.wait_for(asyncio.gather(*posted), 5)
        assert [a.status_code for a in answers] == [200] * len(senders)
        assert (await deals_in(dt.app), await deals_in(dt.app, JobRow)) == (0, len(senders))

        release.set()
        await dt.adapter.settle()

        assert await deals_in(dt.app) == len(senders)
        for i, payload in enumerate(payloads):
            (reply,) = dt.replies(payload)
            assert f"客户{i}" in reply["markdown"]["text"]


@pytest.mark.slow
async def test_wecom_a_burst_is_acknowledged_while_its_handling_waits_and_every_member_gets_a_reply(
    engine, database_url, tmp_path
):
    release = asyncio.Event()
    async with wecom_bot(tmp_path, database_url, passive_reply_within=0.2) as bot:

        async def gated(message):
            await release.wait()
            return await bot.app.dispatcher.handle(message)

        await bot.adapter.start(gated)
        senders = ["alice", "bob", "dave", "boss"]
        said = [
            asyncio.create_task(bot.say(who, f"/成交 {2000 + i} 客户{i}")) for i, who in enumerate(senders)
        ]

        # Each is answered with an empty 200 once the passive window is over (the replies follow
        # through message/send), while not one is handled yet.
        answers = await asyncio.wait_for(asyncio.gather(*said), 5)
        assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * len(senders)
        assert (await deals_in(bot.app), await deals_in(bot.app, JobRow)) == (0, len(senders))

        release.set()
        await bot.deliver()

        assert await deals_in(bot.app) == len(senders)
        for i, (who, answer) in enumerate(zip(senders, answers, strict=True)):
            passive = bot.passive(answer)
            replies = [passive["Content"]] if passive else [sent.content for sent in bot.fake.dms(who)]
            assert len(replies) == 1 and f"客户{i}" in replies[0], (who, replies)

"""Slack in HTTP mode under a burst: acknowledged requests are never dropped. Beyond the number the
adapter keeps in hand, the next acknowledgement waits until one is done (back-pressure at the door)
instead of piling up work that then times out on the database and is lost."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

import adapters.slack.adapter as slack_adapter
from bot.storage.orm import Kudos
from tests.fakes.slack import command_form, encode_form, message_text
from tests.fakes.slack_bot import CHANNEL, TEAM, slack_bot

FORM = "application/x-www-form-urlencoded"


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_burst_beyond_the_intake_waits_at_the_door_and_none_is_lost(
    engine, database_url, tmp_path, monkeypatch
):
    monkeypatch.setattr(slack_adapter, "IN_HAND", 2)
    release = asyncio.Event()

    def gated(app):
        async def sink(message):
            await release.wait()
            return await app.dispatcher.handle(message)

        return sink

    async with slack_bot(tmp_path, database_url, sink=gated) as bot:
        givers = ["U0001", "U0002", "U0004", "U0005", "U0002"]
        urls = [bot.fake.response_url(bot.fake_url) for _ in givers]
        sent = [
            asyncio.create_task(
                bot.post(
                    encode_form(command_form(TEAM, giver, CHANNEL, "/kudos", "<@U0003|bob> great call", url)),
                    FORM,
                )
            )
            for giver, url in zip(givers, urls, strict=True)
        ]

        # Two are taken in and acknowledged; the other three wait for room, unanswered.
        await until(lambda: sum(task.done() for task in sent) == 2)
        await asyncio.sleep(0.3)
        assert sum(task.done() for task in sent) == 2
        assert all(task.result().status_code == 200 for task in sent if task.done())

        release.set()
        answers = await asyncio.gather(*sent)
        assert [a.status_code for a in answers] == [200] * len(givers)
        await bot.settle()

        async with bot.app.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Kudos)) == len(givers)
        for url in urls:
            (answer,) = bot.fake.answers_at(url)
            assert "Bob" in message_text(answer)

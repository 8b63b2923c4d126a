"""Slack in HTTP mode under a burst and across a restart: what was acknowledged is never lost.

Requests are committed as command jobs before they are acknowledged and handled after, so a burst is
acknowledged at once however slow the handling, and a stop with requests still unhandled leaves them
for the next start. (The inbox's bounded backlog, and its waiting at the door, went with the inbox.)"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

import adapters.slack.adapter as slack_adapter
from bot.storage.orm import JobRow, Kudos
from tests.fakes.slack import FakeSlack, command_form, encode_form, message_text
from tests.fakes.slack_bot import APP_TOKEN, CHANNEL, TEAM, slack_bot, workspace

FORM = "application/x-www-form-urlencoded"


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def count(app, table) -> int:
    async with app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def gated_by(release: asyncio.Event):
    def gated(app):
        async def sink(message):
            await release.wait()
            return await app.dispatcher.handle(message)

        return sink

    return gated


@pytest.mark.slow
async def test_a_burst_is_acknowledged_while_its_handling_waits_and_none_is_lost(
    engine, database_url, tmp_path
):
    release = asyncio.Event()
    async with slack_bot(tmp_path, database_url, sink=gated_by(release)) as bot:
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

        # All kept and acknowledged while not one is handled yet.
        answers = await asyncio.wait_for(asyncio.gather(*sent), 5)
        assert [a.status_code for a in answers] == [200] * len(givers)
        assert await count(bot.app, JobRow) == len(givers)
        assert await count(bot.app, Kudos) == 0

        release.set()
        await bot.settle()

        assert await count(bot.app, Kudos) == len(givers)
        for url in urls:
            (answer,) = bot.fake.answers_at(url)
            assert "Bob" in message_text(answer)
        assert await count(bot.app, JobRow) == 0


async def test_commands_acknowledged_before_a_stop_are_handled_after_the_restart(
    engine, database_url, tmp_path, monkeypatch
):
    monkeypatch.setattr(slack_adapter, "STOP_GRACE_SECONDS", 0.2)
    fake = FakeSlack([workspace()], app_token=APP_TOKEN)
    stuck = asyncio.Event()  # never set: the first run handles nothing
    givers = ["U0001", "U0002", "U0004"]
    async with slack_bot(tmp_path, database_url, fake=fake, sink=gated_by(stuck)) as bot:
        for giver in givers:
            url = fake.response_url(bot.fake_url)
            form = command_form(TEAM, giver, CHANNEL, "/kudos", "<@U0003|bob> great call", url)
            assert (await bot.post(encode_form(form), FORM)).status_code == 200
        assert await count(bot.app, Kudos) == 0
    # The first run stopped with three acknowledged commands unhandled; the next one handles them.
    async with slack_bot(tmp_path, database_url, fake=fake) as bot:
        await bot.settle()
        assert await count(bot.app, Kudos) == len(givers)
        for giver in givers:  # the first run's response_urls are gone with its fake: ephemerals
            (answer,) = fake.ephemerals(giver)
            assert "Bob" in message_text(answer)
        assert await count(bot.app, JobRow) == 0

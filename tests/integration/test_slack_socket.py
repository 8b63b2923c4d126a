"""Slack in Socket Mode: bolt's AsyncSocketModeHandler (aiohttp) connected to the fake Slack's WebSocket
on loopback; frames go in as Slack sends them, acknowledgements come back on the socket."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from adapters.slack.socket_mode import WatchdogSettings
from bot.storage.orm import Deal
from tests.fakes.slack import FakeSlack, command_form, event_callback, message_text, socket_envelope
from tests.fakes.slack_bot import APP_TOKEN, BOT_USER, CHANNEL, TEAM, slack_bot, workspace

FAST = WatchdogSettings(check_every=0.05, hello_timeout=0.5, keepalive_every=0.2, ping_interval=10)


async def until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_silent_socket_is_replaced_and_a_slash_command_frame_is_answered(
    engine, database_url, tmp_path
):
    fake = FakeSlack([workspace()], app_token=APP_TOKEN)
    fake.silent_connections = {1}  # the first connection never gets `hello`: the stall of bolt#1529
    async with slack_bot(tmp_path, database_url, fake=fake, mode="socket", watchdog=FAST) as bot:
        assert bot.adapter.routes() == []  # no public URL needed
        await until(lambda: fake.socket_connections == 2)
        await until(lambda: bot.adapter._socket is not None and bot.adapter._socket.health()["ok"])
        health = (await bot.http.get("/healthz")).json()["adapters"]["slack"]
        assert health == {"ok": True, "mode": "socket", "connected": True, "reconnects": 1}
        assert len(fake.succeeded("apps.connections.open")) == 2

        url = fake.response_url(bot.fake_url)
        frame = socket_envelope(
            "slash_commands", command_form(TEAM, "U0002", CHANNEL, "/deal", "12800 Acme", url)
        )
        await fake.socket_send(frame)
        ack = await fake.socket_ack(frame["envelope_id"])
        assert ack == {"envelope_id": frame["envelope_id"]}  # an empty ack: the answer comes later
        await bot.settle()
        assert "¥12,800" in message_text(fake.answers_at(url)[0])
        assert len(bot.channel_posts()) == 3  # the 喜报, the day's first deal and its leaderboard

        mention = event_callback(
            TEAM,
            {"type": "app_mention", "user": "U0003", "text": f"<@{BOT_USER}> 排行", "channel": CHANNEL},
            bot_user_id=BOT_USER,
        )
        frame = socket_envelope("events_api", mention)
        await fake.socket_send(frame)
        await fake.socket_ack(frame["envelope_id"])
        await bot.settle()
        assert "Alice" in message_text(fake.ephemerals("U0003")[0])
        await until(lambda: len(fake.succeeded("auth.test")) >= 2)  # the keepalive is running
        async with bot.app.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Deal)) == 1

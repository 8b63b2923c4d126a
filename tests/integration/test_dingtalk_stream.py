"""Stream mode: frames through the official SDK client, ACKs, dedupe, and the watchdog that reconnects.

Two ways in: frames fed to the SDK client's own entry point (`route_message`, no socket), and a fake
Stream gateway on loopback — a real websocket through a proxy that can go silent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import requests
from sqlalchemy import func, select

from adapters.dingtalk.stream import StreamClient
from bot.clock import FixedClock
from bot.storage.orm import Deal
from tests.fakes.dingtalk import (
    APP_KEY,
    APP_SECRET,
    EAST,
    DingTalkChat,
    FakeStreamGateway,
    callback_frame,
    open_dingtalk,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def monday() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))


class Socket:
    """What the SDK client writes its ACKs to."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


@pytest.fixture(autouse=True)
def no_blocking_http(monkeypatch):
    """The SDK's own HTTP calls (requests) block the event loop: none may happen."""

    def refuse(*args, **kwargs):
        raise AssertionError("a blocking requests call was made")

    monkeypatch.setattr(requests.sessions.Session, "request", refuse)


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    async with open_dingtalk(tmp_path, database_url, monday()) as chat:
        yield chat


async def deals(dt: DingTalkChat) -> int:
    async with dt.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count(Deal.id))) or 0)


async def test_frames_fed_to_the_sdk_client_are_acked_and_handled_once(dt):
    client = StreamClient(APP_KEY, APP_SECRET, api_base_url="http://127.0.0.1:9", http=dt.http)
    client.subscribe(dt.adapter.accept)
    client.websocket = socket = Socket()

    payload = dt.message("alice01", " 成交 12800 华为")
    await client.route_message(callback_frame(payload, "frame-1"))
    await client.route_message(callback_frame(payload, "frame-2"))  # redelivered: same msgId
    await dt.adapter.settle()

    assert [(a["code"], a["headers"]["messageId"]) for a in socket.sent] == [
        (200, "frame-1"),
        (200, "frame-2"),
    ]
    assert await deals(dt) == 1
    [reply] = dt.replies(payload)
    assert "¥1.28万" in reply["markdown"]["text"]
    await dt.deliver()
    assert any("喜报" in p["title"] for p in dt.fake.group_posts(EAST))


async def test_pings_and_non_text_messages_are_acked_without_work(dt):
    client = StreamClient(APP_KEY, APP_SECRET, api_base_url="http://127.0.0.1:9", http=dt.http)
    client.subscribe(dt.adapter.accept)
    client.websocket = socket = Socket()
    ping = {"type": "SYSTEM", "headers": {"topic": "ping", "messageId": "p1"}, "data": '{"opaque": "x"}'}
    await client.route_message(ping)
    picture = dt.message("alice01", "")
    picture.update(msgtype="picture", content={"downloadCode": "dc"})
    await client.route_message(callback_frame(picture, "frame-3"))
    await dt.adapter.settle()
    assert socket.sent[0]["headers"]["messageId"] == "p1" and json.loads(socket.sent[0]["data"]) == {
        "opaque": "x"
    }
    assert socket.sent[1]["code"] == 200 and socket.sent[1]["headers"]["messageId"] == "frame-3"
    assert dt.fake.calls == []


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[FakeStreamGateway]:
    gateway = FakeStreamGateway()
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()


@pytest.mark.slow
async def test_over_a_real_socket_with_a_watchdog_that_reconnects_a_silent_one(
    engine, database_url, tmp_path, gateway
):
    options = {"heartbeat": 0.1, "silence": 1.0, "max_backoff": 0.2}
    async with open_dingtalk(
        tmp_path, database_url, monday(), mode="stream", stream_endpoint=gateway.endpoint, **options
    ) as dt:
        assert dt.adapter.routes() == []  # no public URL in Stream mode
        await gateway.wait_for(lambda: len(gateway.connections) == 1)
        await dt.adapter.stream.connected.wait()
        assert (await dt.adapter.health())["ok"] is True
        opened = [c for c in dt.fake.calls if c.path == "/v1.0/gateway/connections/open"]
        assert opened[0].body["subscriptions"] == [
            {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"},
            {"type": "CALLBACK", "topic": "/v1.0/card/instances/callback"},  # card clicks
        ]

        first = dt.message("boss01", " 目标 团队 30万 本月")
        await gateway.send(callback_frame(first, "f1"))
        await gateway.wait_for(lambda: gateway.acks("f1"))
        await dt.adapter.settle()
        assert "目标已设定" in dt.replies(first)[0]["markdown"]["text"]

        gateway.go_silent()  # a half-open connection: no frames, no pongs, no close
        await gateway.wait_for(lambda: len(gateway.connections) >= 2)
        assert dt.adapter.stream.watchdog_drops == 1
        await dt.adapter.stream.connected.wait()

        second = dt.message("alice01", " 成交 5000")
        await gateway.send(callback_frame(second, "f2"))
        await gateway.wait_for(lambda: gateway.acks("f2"))
        await dt.adapter.settle()
        assert dt.replies(second) and await deals(dt) == 1
        assert gateway.acks("f2")[0]["code"] == 200

        # DingTalk asks the client to leave (before a server restart): it reconnects
        await gateway.send(
            {"type": "SYSTEM", "headers": {"topic": "disconnect", "messageId": "d1"}, "data": "{}"}
        )
        await gateway.wait_for(lambda: len(gateway.connections) >= 3)
        assert len(set(gateway.tickets)) == 3  # a fresh ticket for each connection
    assert dt.adapter.stream is not None and not dt.adapter.stream.connected.is_set()

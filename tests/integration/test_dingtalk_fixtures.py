"""Recorded-shape DingTalk messages (tests/fixtures/dingtalk/, each file's source noted in it) replayed
through both doors: the HTTP callback, signed as DingTalk signs it, and a Stream CALLBACK frame fed to the
SDK client's `route_message`. Both doors must read them alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select

from adapters.dingtalk.stream import StreamClient
from bot.clock import FixedClock
from bot.storage.orm import Deal, Member
from tests.fakes.dingtalk import APP_KEY, APP_SECRET, EAST, DingTalkChat, callback_frame, open_dingtalk

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIXTURES = Path(__file__).parents[1] / "fixtures" / "dingtalk"
TRANSCRIPT: list[tuple[str, str | None]] = [
    # file, a piece of the reply (None: no reply at all)
    ("group_text_at_users.json", "bob"),  # "@机器人 成交 12800 @bob 华为年度采购", mentions stripped
    ("group_rich_text.json", "腾讯云续费"),  # a deal with its screenshot
    ("group_audio.json", "小米"),  # a voice message in the group
    ("dm_audio.json", "1/3"),  # "打卡" said in the single chat: the check-in starts
    ("dm_picture.json", "文字和语音"),  # a picture alone in the single chat: one hint
    ("group_picture.json", None),  # a picture alone in the group: left alone
]


def load(name: str) -> dict:
    recorded = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert recorded["source"], f"{name} must say where its shape comes from"
    return recorded["payload"]


class Socket:
    """Where the SDK client writes its ACKs."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))  # the fixtures' createAt
    async with open_dingtalk(tmp_path, database_url, clock) as chat:
        yield chat


@pytest.mark.parametrize("door", ["http", "stream"])
async def test_recorded_messages_replayed_through_each_door(dt, door):
    client = StreamClient(APP_KEY, APP_SECRET, api_base_url="http://127.0.0.1:9", http=dt.http)
    client.subscribe(dt.adapter.accept)
    client.websocket = socket = Socket()
    for number, (name, expected) in enumerate(TRANSCRIPT, 1):
        payload = load(name)
        if door == "http":
            response = await dt.post(payload)  # signed with the app secret, as DingTalk signs
            assert response.status_code == 200, (name, response.text)
        else:
            await client.route_message(callback_frame(payload, f"frame-{number}"))
            await dt.adapter.settle()
            assert (
                socket.sent[-1]["code"] == 200
                and socket.sent[-1]["headers"]["messageId"] == f"frame-{number}"
            )
        replies = [r["markdown"]["text"] for r in dt.replies(payload)]
        if expected is None:
            assert replies == [], name
        else:
            assert len(replies) == 1 and expected in replies[0], (name, replies)

    async with dt.app.sessionmaker() as session:
        rows = await session.execute(
            select(Member.user_id, Deal.amount_minor, Deal.customer).join(Deal, Deal.member_id == Member.id)
        )
        deals = sorted(rows.all())
    assert deals == [
        ("alice01", 880_000, "腾讯云续费"),
        ("bob01", 600_000, "小米"),
        ("bob01", 1_280_000, "华为年度采购"),  # bob's, not 王总's who sent it
    ]
    await dt.deliver()
    news = [p["text"] for p in dt.fake.group_posts(EAST) if "喜报" in p["title"]]
    assert any("华为年度采购" in text and "＠bob" in text and "王总" not in text for text in news), news

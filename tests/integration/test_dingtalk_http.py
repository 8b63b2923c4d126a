"""DingTalk in HTTP mode, end to end: signed callbacks in, sessionWebhook replies and outbox posts out.

Everything runs for real on loopback — teambeat's server, the DingTalk adapter, the fake DingTalk — on
SQLite, and on PostgreSQL when TEAMBEAT_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy import func, select, text

from bot.clock import FixedClock
from bot.storage.orm import Deal, Kudos, Member, OutboxRow, ProcessedEvent
from tests.fakes.dingtalk import APP_SECRET, EAST, WEST, DingTalkChat, open_dingtalk

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))  # a Monday, a workday
    async with open_dingtalk(tmp_path, database_url, clock) as chat:
        yield chat


async def count(dt: DingTalkChat, model, *where) -> int:
    async with dt.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_chinese_command_in_a_group_end_to_end(dt):
    reply = await dt.say("boss01", " 目标 团队 30万 本月")  # "@机器人 目标 团队 30万 本月"
    assert "目标已设定" in reply and "30万" in reply
    assert dt.fake.group_posts(EAST) == []  # a reply is not a channel post

    reply = await dt.say("alice01", " 成交 12800 华为年度采购")
    assert "¥1.28万" in reply
    assert dt.fake.group_posts(EAST) == []  # nothing is posted before the worker runs
    await dt.deliver()
    posts = dt.fake.group_posts(EAST)
    assert [p["title"] for p in posts][:1] == ["🎉 喜报 🎉"]
    assert "华为年度采购" in posts[0]["text"] and "**¥1.28万**" in posts[0]["text"]
    assert "＠alice" in posts[0]["text"]  # OpenAPI has no `at`: the name, inert
    assert any("开单" in p["text"] for p in posts[1:])
    calls = dt.fake.ok("/v1.0/robot/groupMessages/send")
    assert {c.body["robotCode"] for c in calls} == {"dingrobot01"}
    assert {c.body["msgKey"] for c in calls} == {"sampleMarkdown"}
    assert dt.fake.token_requests == 1  # one token for every call
    async with dt.app.sessionmaker() as session:
        # every post sent, the day's leaderboard too: the app robot's group card, updated in place
        statuses = set(await session.execute(select(OutboxRow.board_quiet, OutboxRow.status)))
    assert statuses == {(False, "sent"), (True, "sent")}
    [(_, board)] = dt.fake.group_cards(EAST)
    assert board["header"]["title"]["text"] == "📊 今日排行榜"


async def test_english_commands_and_mentions_by_staff_id(dt):
    reply = await dt.say("boss01", " deal 5000 @bob customer X", at=["bob01"])
    assert "5,000" in reply or "5000" in reply
    async with dt.app.sessionmaker() as session:
        deal = await session.scalar(select(Deal))
        assert deal is not None
        member = await session.get(Member, deal.member_id)
    assert member.user_id == "bob01"  # "@bob" was rewritten to bob's staffId from atUsers


async def test_posts_to_a_team_robot_webhook_are_signed_and_mention_for_real(dt):
    await dt.say("zhao01", " 成交 5000", group=WEST)
    await dt.deliver()
    posts = dt.fake.robot_posts()
    assert posts, dt.fake.answers("/robot/send")
    first = posts[0]
    assert first["msgtype"] == "markdown" and "喜报" in first["markdown"]["title"]
    assert "@zhao01" in first["markdown"]["text"]
    assert first["at"] == {"atUserIds": ["zhao01"], "isAtAll": False}
    assert dt.fake.group_posts(WEST) == []  # the webhook, not OpenAPI


async def test_a_kudos_reason_with_at_everyone_notifies_nobody(dt):
    reply = await dt.say("li01", " 点赞 @赵六 签单神速 @所有人 快来看", group=WEST, at=["zhao01"])
    assert reply and "@所有人" not in reply
    await dt.deliver()
    [post] = [p for p in dt.fake.robot_posts() if "点赞" in p["markdown"]["text"]]
    assert post["at"]["isAtAll"] is False
    assert post["at"]["atUserIds"] == ["li01", "zhao01"]  # the giver and the receiver, nobody else
    text = post["markdown"]["text"]
    assert "＠所有人" in text and "@所有人" not in text
    assert text.count("@") == 2
    assert all(r["at"]["isAtAll"] is False for r in dt.fake.robot_posts())
    assert all(
        "@所有人" not in json.dumps(c.body, ensure_ascii=False)
        for c in dt.fake.calls
        if c.path in ("/robot/send", "/robot/sendBySession")
    )
    async with dt.app.sessionmaker() as session:
        kudos = await session.scalar(select(Kudos))
    assert kudos.reason == "签单神速 @所有人 快来看"  # stored as typed, shown inert


async def test_forged_or_stale_callbacks_are_refused_and_nothing_is_recorded(dt):
    now_ms = int(dt.clock.now().timestamp() * 1000)
    payload = dt.message("alice01", " 成交 12800")
    bad = [
        dt.headers(secret="not-the-secret"),
        dt.headers(timestamp_ms=now_ms - 2 * 3_600_000),  # signed correctly, two hours old
        dt.headers(timestamp_ms=now_ms + 2 * 3_600_000),
        {"content-type": "application/json"},
        {**dt.headers(), "sign": "AAAA"},
        {**dt.headers(), "timestamp": str(now_ms + 1)},  # the sign is of another timestamp
    ]
    for headers in bad:
        response = await dt.post(payload, headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "bad_signature"
    assert await count(dt, ProcessedEvent) == 0
    assert await count(dt, Deal) == 0
    assert dt.fake.calls == []
    good = await dt.post(payload, dt.headers(timestamp_ms=now_ms - 3_500_000))  # within the hour
    assert good.status_code == 200
    assert await count(dt, Deal) == 1
    assert APP_SECRET not in good.text


async def test_the_same_msg_id_twice_is_handled_once(dt):
    payload = dt.message("alice01", " 成交 12800")
    first = await dt.post(payload)
    again = await dt.post(payload)  # DingTalk redelivers when the ACK was slow
    assert first.status_code == again.status_code == 200
    assert await count(dt, Deal) == 1
    assert len(dt.replies(payload)) == 1
    await dt.deliver()
    assert len([p for p in dt.fake.group_posts(EAST) if "喜报" in p["title"]]) == 1


async def test_dm_commands_and_check_in_answers_as_plain_text(dt):
    first = await dt.say("bob01", "打卡", group=None)
    assert "1/3" in first
    assert "2/3" in await dt.say("bob01", "拜访了3家客户", group=None)
    assert "3/3" in await dt.say("bob01", "5万", group=None)
    done = await dt.say("bob01", "需要报价支持", group=None)
    assert "拜访了3家客户" in done
    help_reply = await dt.say("bob01", "help", group=None)
    assert "/" in help_reply or "成交" in help_reply


async def test_a_check_in_started_in_the_group_arrives_in_the_dm_as_a_card(dt):
    reply = await dt.say("bob01", " 打卡")
    assert reply
    await dt.deliver()
    # question 1 carries the "fill in / skip today" buttons: a robot card in bob's single chat
    [(_, card)] = dt.fake.cards_to("bob01")
    assert "1/3" in card["header"]["title"]["text"]
    assert [b for b in dt.fake.dm_batches() if "bob01" in b[0]] == []


async def test_an_expired_session_webhook_reply_goes_through_openapi(dt):
    payload = dt.message("boss01", " 目标 团队 30万 本月")
    payload["sessionWebhookExpiredTime"] = int((dt.clock.now() - timedelta(seconds=1)).timestamp() * 1000)
    response = await dt.post(payload)
    assert response.status_code == 200
    assert dt.replies(payload) == []
    [post] = dt.fake.group_posts(EAST)
    assert "目标已设定" in post["text"]


async def test_bad_bodies_get_a_4xx_with_the_reason(dt):
    not_json = await dt.http.post("/dingtalk/callback", content=b"{nope", headers=dt.headers())
    assert not_json.status_code == 400 and not_json.json()["error"] == "not_json"
    array = await dt.http.post("/dingtalk/callback", content=b"[1]", headers=dt.headers())
    assert array.status_code == 400
    payload = dt.message("alice01", " 成交 1")
    del payload["msgId"]
    missing = await dt.post(payload)
    assert missing.status_code == 400 and "msgId" in missing.json()["detail"]
    shared = dt.message("alice01", "")
    shared["msgtype"] = "chatRecord"  # a forwarded chat history: nothing teambeat reads
    shared["content"] = {"chatRecord": "[]"}
    ignored = await dt.post(shared)
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    picture = dt.message("alice01", "")
    picture["msgtype"] = "picture"
    picture["content"] = {"downloadCode": "x"}
    quiet = await dt.post(picture)
    assert quiet.status_code == 200 and dt.replies(picture) == []  # in a group, a picture gets no answer
    assert await count(dt, ProcessedEvent) == 0


async def test_a_message_that_cannot_be_kept_is_refused_so_dingtalk_sends_it_again(dt):
    """The 200 means "kept": when the intake cannot store the message, DingTalk gets a 503 and redelivers."""
    async with dt.app.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE jobs RENAME TO jobs_away"))
    payload = dt.message("alice01", " 成交 12800 客户甲")
    refused = await dt.post(payload)
    assert refused.status_code == 503 and refused.json()["error"] == "unavailable"
    assert "send it again" in refused.json()["detail"]
    async with dt.app.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE jobs_away RENAME TO jobs"))
    again = await dt.post(payload)  # DingTalk's redelivery
    assert again.status_code == 200
    await dt.adapter.settle()
    assert await count(dt, Deal) == 1
    (reply,) = dt.replies(payload)
    assert "客户甲" in reply["markdown"]["text"]

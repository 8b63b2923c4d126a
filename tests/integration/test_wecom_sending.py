"""Posts and DMs through the fake WeCom, by the outbox and the delivery worker, on SQLite and PostgreSQL:
the team's group robot and appchat, message/send with its access token, and WeCom's limits — the robot's
20 a minute and a member's 30 a minute are never exceeded, 45009 waits, an expired token is replaced,
an unreachable member fails for good with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.delivery.outbox import enqueue
from bot.messages import ChannelRef, Image, IncomingMessage, OutgoingMessage, Paragraph, Text, UserRef
from bot.storage.orm import OutboxRow
from tests.fakes.wecom import CORP_ID, EAST_CHANNEL, ROBOT_KEY, WEST_CHAT, Sent, WeComBot, wecom_bot

EAST = ChannelRef("wecom", CORP_ID, EAST_CHANNEL, "group")
WEST = ChannelRef("wecom", CORP_ID, WEST_CHAT, "group")
HALF_WIDTH_EVERYONE = re.compile(r"<@all>|(?<!＠)@all\b|(?<!＠)@所有人", re.IGNORECASE)


@pytest_asyncio.fixture
async def bot(engine, database_url, tmp_path) -> AsyncIterator[WeComBot]:
    async with wecom_bot(tmp_path, database_url) as running:
        yield running


def dm(user: str) -> ChannelRef:
    return ChannelRef("wecom", CORP_ID, user, "dm")


def note(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)),), text)


async def put(bot: WeComBot, channel: ChannelRef, *messages: OutgoingMessage) -> None:
    async with bot.app.uow_factory() as uow:
        for message in messages:
            key = f"test:{channel.id}:{message.fallback_text}"
            await enqueue(uow.session, channel=channel, message=message, dedupe_key=key, now=bot.clock.now())
        await uow.commit()


async def rows(bot: WeComBot) -> list[OutboxRow]:
    async with bot.app.sessionmaker() as session:
        # not the day's leaderboard refreshes, which a robot skips (it cannot edit a board in place)
        posts = select(OutboxRow).where(OutboxRow.board_quiet.is_(False))
        return list(await session.scalars(posts.order_by(OutboxRow.id)))


def busiest_minute(sent: list[Sent]) -> int:
    times = sorted(s.at for s in sent)
    return max((sum(1 for t in times if start <= t < start + 60) for start in times), default=0)


async def test_at_all_in_a_kudos_reason_notifies_nobody_else(bot):
    response = await bot.say("alice", "/kudos @bob 带飞全场 @all <@all> @所有人 **都来学**")
    reply = bot.passive(response)
    assert reply is not None and not HALF_WIDTH_EVERYONE.search(reply["Content"])
    await bot.deliver()
    [post] = [p for p in bot.fake.robot_posts(ROBOT_KEY) if "点赞" in p.content]
    assert post.notified() == {"alice", "bob"}
    assert not HALF_WIDTH_EVERYONE.search(post.content)
    assert "带飞全场" in post.content and "＠所有人" in post.content and "＊＊都来学＊＊" in post.content


async def test_frequency_limit_45009_is_retried_later_and_posted_once(bot):
    bot.fake.script["webhook/send"] = [45009]
    await bot.say("alice", "/deal 100")
    await bot.deliver()
    assert bot.fake.robot_posts(ROBOT_KEY) == []
    head = (await rows(bot))[0]
    assert head.status == "pending" and "45009" in (head.last_error or "")
    assert head.next_attempt_at >= bot.clock.now() + timedelta(seconds=59)  # backed off a minute
    bot.clock.advance(timedelta(seconds=61))
    await bot.deliver()
    posts = bot.fake.robot_posts(ROBOT_KEY)
    assert len(posts) == 2 and "喜报" in posts[0].content and "开单" in posts[1].content
    assert [r.status for r in await rows(bot)] == ["sent", "sent"]


async def test_the_group_robot_never_gets_more_than_20_a_minute(bot):
    await put(bot, EAST, *(note(f"第{i}条喜报") for i in range(25)))
    await bot.deliver()
    assert len(bot.fake.robot_posts(ROBOT_KEY)) == 20
    bot.clock.advance(timedelta(seconds=61))
    await bot.deliver()
    posts = bot.fake.robot_posts(ROBOT_KEY)
    assert [p.content for p in posts] == [f"第{i}条喜报" for i in range(25)]  # all, in order
    assert busiest_minute(posts) == 20
    assert ("webhook/send", 45009) not in bot.fake.refused


async def test_a_member_never_gets_more_than_30_app_messages_a_minute(bot):
    await put(bot, dm("bob"), *(note(f"提醒{i}") for i in range(35)))
    await bot.deliver()
    assert len(bot.fake.dms("bob")) == 30
    bot.clock.advance(timedelta(seconds=61))
    await bot.deliver()
    assert [s.content for s in bot.fake.dms("bob")] == [f"提醒{i}" for i in range(35)]
    assert bot.fake.dropped == []  # WeCom would have dropped the 31st silently: we never sent it


async def test_a_reply_to_a_member_at_quota_waits_in_the_outbox(bot):
    await put(bot, dm("bob"), *(note(f"提醒{i}") for i in range(30)))
    await bot.deliver()
    response = await bot.say("bob", "/rank")
    assert response.content == b""  # no passive reply either: it would be the 31st message
    await bot.deliver()
    assert len(bot.fake.dms("bob")) == 30
    bot.clock.advance(timedelta(seconds=61))
    await bot.deliver()
    assert len(bot.fake.dms("bob")) == 31 and bot.fake.dropped == []
    assert (await rows(bot))[-1].dedupe_key.startswith("wecom:reply:")


async def test_an_expired_token_is_fetched_again_once_and_the_message_still_goes(bot):
    await put(bot, dm("bob"), note("早上好"))
    await bot.deliver()
    assert bot.fake.token_requests == 1
    await put(bot, dm("bob"), note("记得打卡"))
    await bot.deliver()
    assert bot.fake.token_requests == 1  # cached
    bot.fake.expire_tokens()
    await put(bot, dm("bob"), note("加油"))
    await bot.deliver()
    assert bot.fake.token_requests == 2
    assert [s.content for s in bot.fake.dms("bob")] == ["早上好", "记得打卡", "加油"]
    assert bot.fake.refused == [("message/send", 42001)]
    assert {r.status for r in await rows(bot)} == {"sent"}


@pytest.mark.parametrize("answer", [81013, 0], ids=["errcode-81013", "errcode-0-invaliduser"])
async def test_an_unreachable_member_fails_for_good_with_the_reason(bot, answer, caplog):
    bot.fake.all_invalid_errcode = answer
    await put(bot, dm("ghost"), note("打卡提醒"))
    with caplog.at_level(logging.WARNING, logger="adapters.wecom.adapter"):
        await bot.deliver()
    [row] = await rows(bot)
    assert row.status == "failed" and row.attempts == 1
    assert "invaliduser ghost" in (row.last_error or "")
    assert any("ghost" in r.getMessage() and "visible range" in r.getMessage() for r in caplog.records)
    metrics = bot.app.metrics.exposition().decode()
    assert 'teambeat_platform_errors_total{kind="permanent",platform="wecom"} 1.0' in metrics


async def test_a_team_without_a_robot_posts_to_its_appchat(bot):
    await put(bot, WEST, note("晚上好，复盘开始"))
    await bot.deliver()
    [post] = bot.fake.appchat_posts(WEST_CHAT)
    assert post.msgtype == "markdown" and post.content == "晚上好，复盘开始"
    assert post.payload["chatid"] == WEST_CHAT


async def test_a_chart_goes_to_the_robot_as_an_image_with_its_md5(bot):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    chart = "data:image/png;base64," + base64.b64encode(png).decode()
    await put(bot, EAST, OutgoingMessage((Paragraph((Text("本周走势"),)), Image(chart, "走势图")), "chart"))
    await bot.deliver()
    markdown, image = bot.fake.robot_posts(ROBOT_KEY)
    assert markdown.msgtype == "markdown" and "本周走势" in markdown.content
    assert image.msgtype == "image" and image.content == hashlib.md5(png).hexdigest()
    assert bot.fake.refused == []


async def test_a_message_over_4096_bytes_reaches_the_robot_in_parts(bot):
    long = OutgoingMessage(tuple(Paragraph((Text(f"{i}号 " + "业绩" * 100),)) for i in range(20)), "long")
    await put(bot, EAST, long)
    await bot.deliver()
    posts = bot.fake.robot_posts(ROBOT_KEY)
    assert len(posts) >= 3 and all(len(p.content.encode()) <= 4096 for p in posts)
    assert "".join(p.content for p in posts).count("业绩") == 2000
    assert {r.status for r in await rows(bot)} == {"sent"}


async def test_a_long_reply_cut_short_by_the_quota_waits_in_the_outbox_with_only_its_rest(bot):
    await put(bot, dm("bob"), *(note(f"提醒{i}") for i in range(29)))  # one message left this minute
    await bot.deliver()
    reply = OutgoingMessage(tuple(Paragraph((Text(f"第{n}段 " + "排名" * 300),)) for n in range(4)), "排行榜")
    asked = IncomingMessage(
        "ev-long", UserRef("wecom", CORP_ID, "bob"), dm("bob"), "/rank", True, bot.clock.now()
    )
    await bot.adapter._deliver_reply(asked, reply)
    first = bot.fake.dms("bob")[29:]
    assert len(first) == 1  # the reply's first part went; the rest had to wait
    queued = (await rows(bot))[-1]
    assert queued.dedupe_key == "wecom:reply:ev-long" and queued.parts_sent == 1
    bot.clock.advance(timedelta(seconds=61))
    await bot.deliver()
    parts = [s.content for s in bot.fake.dms("bob")[29:]]
    assert len(parts) >= 3 and len(set(parts)) == len(parts)  # the first part was not sent again
    shown = "".join(parts)
    assert all(shown.count(f"第{n}段") == 1 for n in range(4))  # each paragraph once, none lost

"""DingTalk as it really delivers messages: @mentions stripped from the text and listed in `atUsers`, rich
text, voice and pictures — through signed HTTP callbacks, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy import select

from bot.clock import FixedClock
from bot.storage.orm import Deal, Goal, Group, Kudos, Leave, Member, ProcessedEvent
from tests.fakes.dingtalk import BOT_ID, EAST, DingTalkChat, open_dingtalk

SHANGHAI = ZoneInfo("Asia/Shanghai")
MISSING_MEMBER = "还缺少「成员」"


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))  # a Monday, a workday
    async with open_dingtalk(tmp_path, database_url, clock) as chat:
        yield chat


async def member(dt: DingTalkChat, user_id: str) -> Member:
    async with dt.app.sessionmaker() as session:
        found = await session.scalar(select(Member).where(Member.user_id == user_id))
    assert found is not None, user_id
    return found


async def rows(dt: DingTalkChat, model) -> list:
    async with dt.app.sessionmaker() as session:
        return list(await session.scalars(select(model)))


async def test_the_fake_delivers_mentions_as_dingtalk_does(dt):
    payload = dt.message("boss01", " 成交 12800 @bob @dave 华为")
    assert payload["text"]["content"] == " 成交 12800   华为"
    assert payload["isInAtList"] is True
    assert payload["atUsers"] == [
        {"dingtalkId": BOT_ID},
        {"dingtalkId": "$:LWCP_v1:$bob01", "staffId": "bob01"},
        {"dingtalkId": "$:LWCP_v1:$dave01", "staffId": "dave01"},
    ]


async def test_a_deal_for_a_mentioned_teammate_is_theirs_and_the_news_names_them(dt):
    dt.names["shixin01"] = "释心"
    dt.fake.users["shixin01"] = "释心"
    assert await dt.say("shixin01", " 帮助")  # 释心 speaks in the group: a member of the team now
    payload = dt.message("boss01", " 成交 12800 @释心 华为")  # "@机器人 成交 12800 @释心 华为"
    assert "释心" not in payload["text"]["content"]
    assert (await dt.post(payload)).status_code == 200
    [reply] = dt.replies(payload)
    assert "释心" in reply["markdown"]["text"]
    [deal] = await rows(dt, Deal)
    assert deal.member_id == (await member(dt, "shixin01")).id
    assert deal.customer == "华为"
    await dt.deliver()
    [news] = [p for p in dt.fake.group_posts(EAST) if "喜报" in p["title"]]
    assert "释心" in news["text"] and "王总" not in news["text"]


async def test_kudos_to_two_people_mentioned(dt):
    reply = await dt.say("alice01", " 点赞 @bob @dave 签单神速")
    assert "bob" in reply and "dave" in reply
    kudos = await rows(dt, Kudos)
    receivers = {k.receiver_id for k in kudos}
    assert receivers == {(await member(dt, "bob01")).id, (await member(dt, "dave01")).id}
    assert {k.reason for k in kudos} == {"签单神速"}


async def test_goal_leave_and_team_commands_take_their_members_from_at_users(dt):
    bob, dave = await member(dt, "bob01"), await member(dt, "dave01")
    assert "目标已设定" in await dt.say("boss01", " 目标 @bob 5万 本月")
    [goal] = await rows(dt, Goal)
    assert goal.subject == f"member:{bob.id}"

    assert await dt.say("boss01", " 请假 @bob 明天 陪客户")
    [leave] = await rows(dt, Leave)
    assert leave.member_id == bob.id and leave.reason == "陪客户"

    assert await dt.say("boss01", " /team group join 虎队 @dave")
    tigers = next(g for g in await rows(dt, Group) if g.name == "虎队")
    assert (await member(dt, "dave01")).group_id == tigers.id

    assert await dt.say("boss01", " /team role @bob lead")
    assert (await member(dt, "bob01")).role == "lead"

    assert await dt.say("boss01", " /team member remove @dave")
    assert (await member(dt, "dave01")).active is False
    assert dave.active is True  # (the row read before)


async def test_a_command_that_needs_a_member_and_got_none_says_so(dt):
    for text in (" 点赞 签单神速", " /team role lead", " /team member remove", " /team group join 虎队"):
        payload = dt.message("boss01", text)
        assert payload["atUsers"] == [{"dingtalkId": BOT_ID}]  # only the robot was @-ed
        await dt.post(payload)
        [reply] = dt.replies(payload)
        assert MISSING_MEMBER in reply["markdown"]["text"], (text, reply)
        assert "用 ＠ 选择成员" in reply["markdown"]["text"] and "用法" in reply["markdown"]["text"]
    assert await rows(dt, Kudos) == []


async def test_someone_from_outside_the_organisation_is_not_replaced_by_the_next_person(dt):
    payload = dt.message("boss01", " 成交 5000 客户甲")
    payload["atUsers"].append({"dingtalkId": "$:LWCP_v1:$outsider"})  # no staffId: not in the corp
    await dt.post(payload)
    [reply] = dt.replies(payload)
    assert "找不到成员" in reply["markdown"]["text"]
    assert await rows(dt, Deal) == []


def rich_text(dt: DingTalkChat, who: str, items: list[dict], *, group: str | None = EAST) -> dict:
    payload = dt.message(who, "", group=group)
    del payload["text"]
    payload.update(msgtype="richText", content={"richText": items})
    return payload


PICTURE = {"pictureDownloadCode": "pdc01", "downloadCode": "dc01", "type": "picture"}


async def test_a_rich_text_deal_with_its_screenshot_is_read_as_its_text(dt):
    payload = rich_text(dt, "alice01", [{"text": "成交 12800"}, PICTURE, {"text": "华为年度采购"}])
    await dt.post(payload)
    [reply] = dt.replies(payload)
    assert "¥1.28万" in reply["markdown"]["text"]
    [deal] = await rows(dt, Deal)
    assert deal.customer == "华为年度采购"


async def test_the_robots_own_at_item_in_rich_text_is_dropped(dt):
    items = [{"text": "@teambeat"}, {"text": "成交 3000"}, PICTURE, {"text": "京东"}]
    payload = rich_text(dt, "alice01", items)
    await dt.post(payload)
    [reply] = dt.replies(payload)
    assert "3,000" in reply["markdown"]["text"] or "3000" in reply["markdown"]["text"]
    [deal] = await rows(dt, Deal)
    assert deal.customer == "京东"


def voice(dt: DingTalkChat, who: str, recognition: str, *, group: str | None = EAST) -> dict:
    payload = dt.message(who, "", group=group)
    del payload["text"]
    payload.update(
        msgtype="audio", content={"duration": 3000, "downloadCode": "dc", "recognition": recognition}
    )
    return payload


async def test_voice_is_read_from_its_recognition_in_groups_and_dms(dt):
    in_group = voice(dt, "bob01", "成交 6000 小米")
    await dt.post(in_group)
    [reply] = dt.replies(in_group)
    assert "小米" in reply["markdown"]["text"]
    [deal] = await rows(dt, Deal)
    assert deal.member_id == (await member(dt, "bob01")).id and deal.customer == "小米"
    in_dm = voice(dt, "bob01", "打卡", group=None)
    await dt.post(in_dm)
    [reply] = dt.replies(in_dm)
    assert "1/3" in reply["markdown"]["text"]


def picture(dt: DingTalkChat, who: str, *, group: str | None = EAST) -> dict:
    payload = dt.message(who, "", group=group)
    del payload["text"]
    payload.update(msgtype="picture", content={"pictureDownloadCode": "pdc", "downloadCode": "dc"})
    return payload


async def test_a_picture_alone_gets_one_hint_in_a_dm_and_nothing_in_a_group(dt):
    in_dm = picture(dt, "bob01", group=None)
    assert (await dt.post(in_dm)).status_code == 200
    assert (await dt.post(in_dm)).status_code == 200  # redelivered: still one hint
    [hint] = dt.replies(in_dm)
    text = hint["markdown"]["text"]
    assert "文字和语音" in text and "/成交 12800" in text and len(text.splitlines()) == 1
    in_group = picture(dt, "bob01")
    assert (await dt.post(in_group)).status_code == 200
    assert dt.replies(in_group) == []
    only_pictures = rich_text(dt, "bob01", [PICTURE], group=None)
    await dt.post(only_pictures)
    [hint] = dt.replies(only_pictures)
    assert "文字和语音" in hint["markdown"]["text"]
    assert await rows(dt, Deal) == []
    assert len(await rows(dt, ProcessedEvent)) == 2  # the two DM hints, each once

"""The leader's rituals over a few simulated days: the evening check-out, the 夕会's 经验分享 and its pin,
who is named where (`missing_names`), and a 小组PK's stake.

The scheduler's job function runs at each slot's time with a fixed clock, as in test_cadence_week.py;
members answer in their DMs in between.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
import pytest_asyncio

from bot.clock import FixedClock
from bot.services import csv_io, directory
from bot.services.posts import run_post
from bot.services.schedule import parse_clock, team_slots
from scheduling.jobs import run_slot
from tests.integration.conftest import SHANGHAI
from tests.integration.test_competitions import finish_due
from tests.support.chat import Chat, open_chat, write_config

MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)
SATURDAY = date(2026, 11, 28)


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, parse_clock(hhmm), SHANGHAI)


async def rituals_chat(
    database_url,
    tmp_path,
    *,
    missing_names: str | None = None,
    checkout: str | None = "17:30",
    locale="zh-CN",
) -> Chat:
    url, pg_schema = database_url
    path = write_config(tmp_path, url, locale=locale)
    text = path.read_text(encoding="utf-8")
    if missing_names is not None:  # a key of [[teams]]: before its sub-tables
        text = text.replace("kudos_daily_cap", f'missing_names = "{missing_names}"\nkudos_daily_cap', 1)
    if checkout is not None:  # the last [[teams]]' schedule
        text += f'\n[teams.schedule]\ncheckout = "{checkout}"\n'
    path.write_text(text, encoding="utf-8")
    clock = FixedClock(at(MONDAY, "08:00"))
    return await open_chat(path, clock, pg_schema)


@pytest_asyncio.fixture
async def chat(engine, database_url, tmp_path):
    chat = await rituals_chat(database_url, tmp_path)
    try:
        yield chat
    finally:
        await chat.app.close()


async def tick(chat: Chat, day: date, hhmm: str) -> dict[str, str]:
    """Run every slot scheduled at hh:mm on `day`, as the scheduler's trigger would; then deliver."""
    chat.at(at(day, hhmm))
    async with chat.app.sessionmaker() as session:
        team = await directory.team_by_slug(session, "east")
    outcomes = {}
    for slot in team_slots(team.schedule):
        if slot.at == parse_clock(hhmm):
            outcomes[slot.kind] = await run_slot(
                chat.app.uow_factory, chat.app.renderer, team.id, slot, chat.clock.now()
            )
    await chat.settle()
    return outcomes


def new_dms(chat: Chat, mark: int, needle: str) -> dict[str, list[str]]:
    from adapters.console.render import render_console

    out: dict[str, list[str]] = {}
    for to, message in chat.adapter.sent[mark:]:
        text = render_console(message)
        if to.kind == "dm" and needle in text:
            out.setdefault(to.id, []).append(text)
    return out


def section(post: str, title: str) -> list[str]:
    """The bullet lines under a post's `title` heading, up to the next rule."""
    lines = post.splitlines()
    start = lines.index(title) + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("• "):
            break
        out.append(line[2:])
    return out


async def export(chat: Chat, first: date, last: date) -> list[dict[str, str]]:
    async with chat.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        text = await csv_io.export_checkins(uow, team, first, last)
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.slow
async def test_checkout_asked_answered_shared_pinned_and_exported(chat):
    await chat.say("erin", "/leave 2026-11-23")
    await chat.say("bob", "/checkin 电话跟进; 1万; 无", dm=True)  # the morning check-in, in one line
    chat.at(at(MONDAY, "11:00"))
    await chat.say("carol", "/deal 3000")
    await chat.say("alice", "/deal 12800")

    # 17:30 — the check-out's first question goes to every active member not on leave, once.
    mark = len(chat.adapter.sent)
    assert (await tick(chat, MONDAY, "17:30"))["checkout"] == "posted"
    asked = new_dms(chat, mark, "签退 1/3")
    assert set(asked) == {"boss", "alice", "bob", "carol", "dave"}  # erin is on leave
    assert "辛苦了，alice" in asked["alice"][0] and "今天什么做法最管用" in asked["alice"][0]
    async with chat.app.uow_factory() as uow:  # a second run the same day asks nobody again
        team = await directory.team_by_slug(uow.session, "east")
        assert await run_post(uow, chat.app.renderer, team, "checkout", chat.clock.now()) == (
            "skipped: already posted"
        )

    # Question by question in the DM, as the check-in's conversation.
    chat.at(at(MONDAY, "17:40"))
    reply = await chat.say("alice", "先问预算再报价", dm=True)
    assert "签退 2/3" in reply and "今天卡在哪里" in reply
    assert "签退 3/3" in await chat.say("alice", "客户嫌贵", dm=True)
    done = await chat.say("alice", "张总", dm=True)
    assert "签退完成" in done and "先问预算再报价" in done and "张总" in done
    for line in ("无", "没什么", "王经理"):  # bob's "what worked" says nothing: never shared
        await chat.say("bob", line, dm=True)
    for line in ("用同行的案例开场，比讲产品功能管用得多", "报价审批慢", "李总"):
        await chat.say("carol", line, dm=True)
    assert "跳过" in await chat.say("dave", "跳过", dm=True)
    # bob's check-in is done; a plain line after the check-out is done is not taken as anything.
    assert await chat.say("bob", "还有一件事", dm=True) != ""

    # 18:00 — the recap's 经验分享: those who closed deals first (most sold first), no empty answers.
    assert (await tick(chat, MONDAY, "18:00"))["recap"] == "posted"
    recap = chat.channel_posts()[-1]
    shared = section(recap, "💡 经验分享")
    assert shared == ["1. alice：先问预算再报价", "2. carol：用同行的案例开场，比讲产品功能管用得多"]
    assert "/recap pin" in recap

    # Only a leader pins; a number from the list or a member.
    refused = await chat.say("bob", "/recap pin 1")
    assert "/recap pin 只有团队长可以使用" in refused and "已置顶" not in refused
    pinned = await chat.say("boss", "/recap pin 2")
    assert "已置顶 carol 的经验分享" in pinned
    again = await chat.say("boss", "/复盘")
    assert section(again, "💡 经验分享") == [
        "1. 📌 carol：用同行的案例开场，比讲产品功能管用得多",
        "2. alice：先问预算再报价",
    ]
    assert "/recap pin" not in again  # the hint is for when nothing is pinned
    assert "已置顶 alice" in await chat.say("boss", "/recap pin @alice")  # one pin a day: it moves
    assert section(await chat.say("boss", "/recap"), "💡 经验分享")[0] == "1. 📌 alice：先问预算再报价"
    wrong = await chat.say("boss", "/recap pin @bob")  # bob's answer was empty: not among them
    assert "不在今天的经验分享里" in wrong and "/复盘 pin 1" in wrong

    # The check-out answers are in the check-ins export, beside the check-in's.
    rows = {r["member"]: r for r in await export(chat, MONDAY, MONDAY)}
    assert rows["alice"]["checkout_status"] == "done"
    assert rows["alice"]["checkout_worked"] == "先问预算再报价"
    assert rows["alice"]["checkout_first_call"] == "张总"
    assert rows["alice"]["status"] == ""  # no check-in that day, a check-out all the same
    assert rows["bob"]["status"] == "done" and rows["bob"]["checkout_worked"] == "无"
    assert rows["dave"]["checkout_status"] == "skipped"
    assert rows["boss"]["checkout_status"] == "open"
    assert "erin" not in rows

    # Tuesday's check-out is a new one; no check-out on a Saturday.
    mark = len(chat.adapter.sent)
    assert (await tick(chat, TUESDAY, "17:30"))["checkout"] == "posted"
    assert set(new_dms(chat, mark, "签退 1/3")) == {"boss", "alice", "bob", "carol", "dave", "erin"}
    assert (await tick(chat, SATURDAY, "17:30"))["checkout"] == "skipped: not a workday"
    # Monday's pin stays on Monday.
    chat.at(at(TUESDAY, "17:45"))
    await chat.say("carol", "/deal 1000")
    for line in ("先发资料再约面谈", "无", "赵总"):
        await chat.say("carol", line, dm=True)
    assert section(await chat.say("boss", "/recap"), "💡 经验分享") == ["1. carol：先发资料再约面谈"]


async def test_pin_refused_to_members_and_without_answers(chat):
    chat.at(at(MONDAY, "18:10"))
    nothing = await chat.say("boss", "/recap pin 1")
    assert "今天还没有可以置顶的经验分享" in nothing
    refused = await chat.say("bob", "/recap pin 1")
    assert "/recap pin 只有团队长可以使用" in refused  # refused before anything is looked at


async def test_no_checkout_until_it_is_set(engine, database_url, tmp_path):
    chat = await rituals_chat(database_url, tmp_path, checkout=None)
    try:
        mark = len(chat.adapter.sent)
        outcomes = await tick(chat, MONDAY, "17:30")
        assert "checkout" not in outcomes and new_dms(chat, mark, "签退") == {}
        # A leader turns it on in chat; the next day it is asked.
        assert "17:30" in await chat.say("boss", "/team schedule checkout 17:30")
        assert (await tick(chat, TUESDAY, "17:30"))["checkout"] == "posted"
        assert "alice" in new_dms(chat, mark, "签退 1/3")
    finally:
        await chat.app.close()


async def test_names_go_to_leaders_only_by_default(chat):
    chat.at(at(MONDAY, "09:10"))
    await chat.say("alice", "/checkin 拜访客户; 2万; 无", dm=True)
    await chat.say("bob", "/checkin 电话跟进; 1万; 无", dm=True)
    mark = len(chat.adapter.sent)
    assert (await tick(chat, MONDAY, "09:30"))["morning"] == "posted"
    morning = chat.channel_posts()[-1]
    assert "📝 已打卡 2/6 人" in morning
    for name in ("carol", "dave", "erin", "Boss"):
        assert name not in morning
    told = new_dms(chat, mark, "仅你可见")
    assert set(told) == {"boss"}  # the leader only, not the group lead (alice)
    assert "已打卡 2/6，还没打卡的是 Boss、carol、dave、erin" in told["boss"][0]

    mark = len(chat.adapter.sent)
    assert (await tick(chat, MONDAY, "18:00"))["recap"] == "posted"
    recap = chat.channel_posts()[-1]
    assert "📝 打卡参与：2/6（33%）" in recap and "未打卡" not in recap
    for name in ("carol", "dave", "erin", "Boss"):
        assert name not in recap
    told = new_dms(chat, mark, "仅你可见")
    assert (
        set(told) == {"boss"} and "夕会：已打卡 2/6，还没打卡的是 Boss、carol、dave、erin" in told["boss"][0]
    )
    # On demand: the channel sees the count; the leader's own DM shows the names.
    assert "未打卡" not in await chat.say("boss", "/recap")
    assert "未打卡：Boss、carol、dave、erin" in await chat.say("boss", "/recap", dm=True)
    assert "未打卡" not in await chat.say("bob", "/recap", dm=True)


async def test_names_in_the_channel_when_configured(engine, database_url, tmp_path):
    chat = await rituals_chat(database_url, tmp_path, missing_names="channel")
    try:
        chat.at(at(MONDAY, "09:10"))
        await chat.say("alice", "/checkin 拜访客户; 2万; 无", dm=True)
        mark = len(chat.adapter.sent)
        await tick(chat, MONDAY, "09:30")
        morning = chat.channel_posts()[-1]
        assert "⏰ 还没打卡：@Boss、@bob、@carol、@dave、@erin" in morning
        assert "📝 已打卡" not in morning
        await tick(chat, MONDAY, "18:00")
        assert "未打卡：Boss、bob、carol、dave、erin" in chat.channel_posts()[-1]
        assert new_dms(chat, mark, "仅你可见") == {}
    finally:
        await chat.app.close()


async def test_a_contest_stake_is_named_at_the_start_and_in_the_result(chat):
    chat.at(at(MONDAY, "10:00"))
    started = await chat.say(
        "boss", '/team pk start 周冲刺 2026-11-23..2026-11-24 狼队 虎队 stake "输的组请奶茶"'
    )
    assert "小组PK「周冲刺」已发起" in started and "🎁 赌注：输的组请奶茶" in started
    missing = await chat.say("boss", "/team pk start 又一场 2026-11-23 狼队 虎队 stake")
    assert "赌注" in missing and "已发起" not in missing
    await chat.say("alice", "/deal 5000")
    chat.at(at(TUESDAY, "23:59"))
    assert await finish_due(chat) == 0
    chat.at(at(date(2026, 11, 25), "00:05"))
    assert await finish_due(chat) == 1
    result = next(p for p in chat.channel_posts() if "结果揭晓" in p)
    assert "🥇 冠军：狼队" in result and "🎁 赌注：输的组请奶茶。愿赌服输，说到做到！" in result


async def test_checkout_in_english(engine, database_url, tmp_path):
    chat = await rituals_chat(database_url, tmp_path, locale="en")
    try:
        chat.at(at(MONDAY, "11:00"))
        await chat.say("alice", "/deal 1000")
        mark = len(chat.adapter.sent)
        await tick(chat, MONDAY, "17:30")
        assert "What worked today?" in new_dms(chat, mark, "Check-out 1/3")["alice"][0]
        for line in ("Asked about budget before pricing", "Slow approvals", "Mr Zhang"):
            reply = await chat.say("alice", line, dm=True)
        assert "Checked out!" in reply
        await tick(chat, MONDAY, "18:00")
        recap = chat.channel_posts()[-1]
        assert section(recap, "💡 What worked today") == ["1. alice: Asked about budget before pricing"]
        assert "Pinned alice's answer" in await chat.say("boss", "/recap pin 1")
    finally:
        await chat.app.close()


async def test_checkout_typed_in_the_channel_is_asked_in_the_dm_where_no_form_can_open(chat):
    chat.at(at(MONDAY, "17:00"))
    mark = len(chat.adapter.sent)
    posts_before = len(chat.channel_posts())
    answer = await chat.say("alice", "/签退")
    assert answer == "📬 alice，已私信你今天的签退问题，请在私聊里回答"
    asked = new_dms(chat, mark, "签退 1/3")
    assert list(asked) == ["alice"] and "今天什么做法最管用" in asked["alice"][0]
    assert len(chat.channel_posts()) == posts_before  # nothing of hers in the channel
    assert "签退 2/3" in await chat.say("alice", "先问预算再报价", dm=True)  # answered in the DM

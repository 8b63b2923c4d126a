"""Transcripts of what a newcomer hit (issue 19, item 8): check-in edits, recaps, goals and /me."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.services import directory
from bot.services.posts import fire_time, post_once
from bot.storage.orm import Goal
from tests.integration.conftest import SHANGHAI
from tests.support.chat import Chat, open_chat, write_config


@pytest_asyncio.fixture
async def en_chat(engine, database_url, tmp_path) -> AsyncIterator[Chat]:
    """The sample team in English, Monday 2026-11-23 10:00 Shanghai time."""
    url, pg_schema = database_url
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    chat = await open_chat(write_config(tmp_path, url, locale="en"), clock, pg_schema)
    try:
        yield chat
    finally:
        await chat.app.close()


async def count(chat: Chat, model, *where) -> int:
    async with chat.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def lines(text: str) -> list[str]:
    return text.splitlines()


async def test_checkin_edit_keeps_the_old_answers_until_new_ones_replace_them(chat):
    await chat.say("dave", "/checkin 打了50个电话; 3万; 无", dm=True)
    first = await chat.say("dave", "/checkin edit", dm=True)
    assert lines(first) == [
        "✏️ 修改今天的打卡：逐题回答，原回答在新回答之前一直有效。",
        "【📝 打卡 1/3】",
        "昨天完成了什么？",
        "直接回复文字即可。",
        "当前回答：打了50个电话。发送新的回答，或发送“不变”保留。",
    ]
    # Mid-edit the check-in is still done and its plan still counts.
    recap = lines(await chat.say("boss", "/recap", dm=True))  # the leader's DM names who has not
    assert "早会承诺: ¥3万（完成 0%）" in recap
    assert "• dave：¥0（0 单，计划 ¥3万）" in recap
    assert "📝 打卡参与：1/6（17%），未打卡：Boss、alice、bob、carol、erin" in recap

    second = await chat.say("dave", "拜访了2家客户", dm=True)
    assert lines(second) == [
        "【📝 打卡 2/3】",
        "今天的目标成交额是多少？",
        "请回复金额，如 12800、1.28万、1.2w。例如：5万",
        "当前回答：3万。发送新的回答，或发送“不变”保留。",
    ]
    recap = lines(await chat.say("boss", "/recap"))
    assert "• dave：¥0（0 单，计划 ¥3万）" in recap  # the amount is not asked again yet: still the old one
    await chat.say("dave", "5万", dm=True)
    done = await chat.say("dave", "不变", dm=True)  # keeps "无"
    assert lines(done) == [
        "【✅ 打卡已更新！】",
        "昨天完成了什么？: 拜访了2家客户",
        "今天的目标成交额是多少？: 5万",
        "遇到什么困难，需要什么支持？: 无",
        "🌱 坚持打卡的第一天，明天继续！",
        "想修改回答？发送 /打卡 edit。祝今天开单大吉！🧧",
    ]
    recap = lines(await chat.say("boss", "/recap", dm=True))
    assert "早会承诺: ¥5万（完成 0%）" in recap
    assert "• dave：¥0（0 单，计划 ¥5万）" in recap
    assert "📝 打卡参与：1/6（17%），未打卡：Boss、alice、bob、carol、erin" in recap


async def test_checkin_edit_in_one_line_replaces_every_answer(chat):
    await chat.say("dave", "/checkin 打了50个电话; 3万; 无")
    reply = await chat.say("dave", "/checkin edit 拜访3家; 4万; 需要报价")
    assert lines(reply) == [
        "【✅ 打卡已更新！】",
        "昨天完成了什么？: 拜访3家",
        "今天的目标成交额是多少？: 4万",
        "遇到什么困难，需要什么支持？: 需要报价",
        "🌱 坚持打卡的第一天，明天继续！",
        "想修改回答？发送 /打卡 edit。祝今天开单大吉！🧧",
    ]
    assert "• dave：¥0（0 单，计划 ¥4万）" in lines(await chat.say("boss", "/recap"))


async def test_changing_a_goal_says_what_it_replaced_and_zero_or_clear_removes_it(chat):
    await chat.say("boss", "/goal team 300000 month")
    changed = await chat.say("boss", "/goal team 350000 month")
    assert lines(changed) == [
        "🎯 本月团队目标已从 ¥30万 改为 ¥35万",
        "░░░░░░░░░░ 0% 本月团队目标 ¥0/¥35万",
        "⏱ 还需每天 ¥5.83万（剩余 6 个工作日），冲！💪",
        "[/1] 📣 发到群里",  # a leader may post the team's goal
    ]
    assert await chat.say("boss", "/goal team 0 month") == "🗑 已清除本月团队目标（原为 ¥35万）"
    assert await count(chat, Goal) == 0
    nothing = await chat.say("boss", "/目标 团队 清除 月")
    assert nothing == "还没有本月团队目标，无需清除。发送 /目标 查看现有目标。"
    await chat.say("boss", "/目标 团队 10单 本周")
    await chat.say("boss", "/目标 团队 30万 本周")
    cleared = await chat.say("boss", "/目标 团队 清除 本周")  # no metric named: both of the week's go
    assert lines(cleared) == [
        "🗑 已清除本周团队目标（单数）（原为 10）",
        "🗑 已清除本周团队目标（原为 ¥30万）",
    ]
    assert await count(chat, Goal) == 0
    refused = await chat.say("bob", "/goal team clear month")
    assert "团队长" in refused  # clearing needs the same role as setting


async def test_goal_change_and_removal_in_english(en_chat):
    await en_chat.say("boss", "/goal team 300000 month")
    changed = await en_chat.say("boss", "/goal team 350000 month")
    assert lines(changed)[0] == "🎯 Team goal this month changed from ¥300,000 to ¥350,000"
    removed = await en_chat.say("boss", "/goal team clear month")
    assert removed == "🗑 Goal removed: Team goal this month (was ¥350,000)"
    nothing = await en_chat.say("boss", "/goal team 0 month")
    assert nothing == "Nothing to remove: Team goal this month is not set. /goal shows the goals set now."


async def post(chat: Chat, kind: str, day: date) -> str:
    """What `teambeat post KIND --date DAY` does now: the post as of that day's scheduled time."""
    async with chat.app.sessionmaker() as session:
        team = await directory.team_by_slug(session, "east")
    before = len(chat.channel_posts())
    outcome = await post_once(
        chat.app.uow_factory,
        chat.app.renderer,
        team.id,
        kind,
        fire_time(team, kind, day),
        now=chat.clock.now(),
        force=True,
    )
    assert outcome == "posted"
    await chat.settle()
    posts = chat.channel_posts()[before:]
    assert len(posts) == 1
    return posts[0]


@pytest.mark.slow
async def test_posts_for_a_past_date_stop_at_its_end_and_a_new_team_is_not_held_to_days_before_it(chat):
    await chat.say("alice", "/deal 12800")
    await chat.say("dave", "/checkin 打了50个电话; 3万; 无")
    chat.at(datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI))  # Wednesday: a deal after Monday
    await chat.say("bob", "/deal 6000")
    recap = await post(chat, "recap", date(2026, 11, 23))  # teambeat post recap --date 2026-11-23
    assert lines(recap) == [
        "【📊 业绩复盘 · 今日 11月23日】",
        "总业绩: ¥1.28万",
        "成交单数: 1 单",
        "早会承诺: ¥3万（完成 43%）",
        "────────────",
        "👤 个人战绩",
        "• alice：¥1.28万（1 单）",
        "• dave：¥0（0 单，计划 ¥3万）",
        "────────────",
        "⚔️ 小组PK",
        "• 🥇 狼队 ¥1.28万（人均 ¥6,400）「狼性出击」",
        "• – 虎队 ¥0（人均 ¥0）「虎虎生威」",
        "• – 鹰队 ¥0（人均 ¥0）",
        "📝 打卡参与：1/6（17%）",  # missing_names = "leaders": the names go to the leader's DM
        "────────────",
        "📈 阶段进度",
        "• 本周累计 ¥1.28万（1 单）",
        "• 本月累计 ¥1.28万（1 单）",
        "辛苦了！复盘得失，明天再战！🔥",
    ]
    morning = lines(await post(chat, "morning", date(2026, 11, 23)))
    assert morning[6:10] == [
        "⚔️ 小组PK",
        "• 🥇 狼队 ¥1.28万「狼性出击」",
        "• – 虎队 ¥0「虎虎生威」",
        "• – 鹰队 ¥0",
    ]
    # The team was set up on 2026-11-23: the week before has no check-ins to miss.
    weekly = await post(chat, "weekly", date(2026, 11, 23))
    assert lines(weekly) == [
        "【📅 周会总结 · 11月16日–11月22日】",
        "本期业绩: ¥0",
        "成交单数: 0 单",
        "新的一周，继续冲刺！🚀",
    ]
    chat.at(datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI))
    monthly = await post(chat, "monthly", date(2026, 12, 1))
    assert lines(monthly) == [
        "【📅 月会总结 · 2026年11月】",
        "本期业绩: ¥1.88万",
        "成交单数: 2 单",
        "────────────",
        "🏆 冠军榜",
        "• 个人冠军：@alice ¥1.28万 👑",
        "• 冠军小组：狼队 ¥1.28万 🚩",
        "📝 打卡参与：1/36（3%）",  # 6 members × the 6 workdays from 11-23 to 11-30
        "新的一个月，再创佳绩！🚀",
    ]


async def test_group_board_and_recap_agree_with_the_team_total(chat):
    recap = lines(await chat.say("boss", "/recap"))
    assert recap[recap.index("⚔️ 小组PK") + 1 :][:3] == [  # nobody sold: no medals, no places
        "• – 狼队 ¥0（人均 ¥0）「狼性出击」",
        "• – 虎队 ¥0（人均 ¥0）「虎虎生威」",
        "• – 鹰队 ¥0（人均 ¥0）",
    ]
    await chat.say("boss", "/deal 5000")  # Boss is in no group
    board = await chat.say("boss", "/rank week groups")
    assert lines(board) == [
        "【🏆 本周小组排行（金额）】",
        "本周的成交都来自未分组的成员，小组还没有业绩。"
        "团队长可以用 /团队 group join 组名 @成员 把他们分进小组。",
        "💰 团队本周总业绩：¥5,000（未分组成员的 1 单 ¥5,000 不计入排行）",
    ]
    await chat.say("bob", "/deal 3000")
    board = await chat.say("boss", "/rank week groups")
    assert lines(board) == [
        "【🏆 本周小组排行（金额）】",
        "• 🥇 虎队 ¥3,000 · 1单",
        "💰 团队本周总业绩：¥8,000（未分组成员的 1 单 ¥5,000 不计入排行）",
    ]


async def test_group_board_in_english_says_where_the_total_comes_from(en_chat):
    await en_chat.say("boss", "/deal 5000")
    board = await en_chat.say("boss", "/rank week groups")
    assert lines(board) == [
        "【🏆 Leaderboard this week · groups (amount)】",
        "The deals this week all come from members in no group, so no group has any yet. A team leader can "
        "put them in one with /team group join GROUP @member.",
        "💰 Team total this week: ¥5,000 (¥5,000 of it, 1 deal, from members in no group, not on the board)",
    ]


async def week_of_alice(chat: Chat) -> None:
    """Monday: a deal and a check-in; Tuesday: nothing; Wednesday: a deal and a check-in; Thursday: one."""
    await chat.say("alice", "/deal 12800")
    await chat.say("alice", "/checkin 打了50个电话; 3万; 无")
    chat.at(datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI))
    await chat.say("alice", "/deal 3000")
    await chat.say("alice", "/checkin a; 3000; b")
    chat.at(datetime(2026, 11, 26, 15, 0, tzinfo=SHANGHAI))
    await chat.say("alice", "/checkin a; 3000; b")


async def test_me_shows_my_deals_checkins_and_streak_this_week_and_month(chat):
    assert lines(await chat.say("alice", "/me")) == [
        "【👤 alice 的战绩】",
        "• 本周：成交 0 单，¥0 · 打卡 0/1 个工作日",
        "• 本月：成交 0 单，¥0 · 打卡 0/1 个工作日",
        "🌱 还没有连续打卡，今天就开始吧：/打卡",
    ]
    await week_of_alice(chat)
    assert lines(await chat.say("alice", "/我的")) == [
        "【👤 alice 的战绩】",
        "• 本周：成交 2 单，¥1.58万 · 打卡 3/4 个工作日",
        "• 本月：成交 2 单，¥1.58万 · 打卡 3/4 个工作日",
        "🔥 已连续打卡 2 个工作日",
    ]
    shown = lines(await chat.say("alice", "/help"))
    mine = shown.index("• /我的 — 我的战绩：本周、本月的成交、打卡和连续打卡")
    assert shown[mine + 1] == "例：/我的"


async def test_me_in_english(en_chat):
    await week_of_alice(en_chat)
    assert lines(await en_chat.say("alice", "/me")) == [
        "【👤 alice's numbers】",
        "• This week: 2 deals, ¥15,800 · checked in 3 of 4 workdays",
        "• This month: 2 deals, ¥15,800 · checked in 3 of 4 workdays",
        "🔥 Check-in streak: 2 workdays in a row",
    ]

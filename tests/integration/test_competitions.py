"""Transcripts of a named group competition (小组PK): started by a leader, raced by deals, won at the end.

The sample team: 狼队 (alice, dave), 虎队 (bob, erin), 鹰队 (carol); boss is the leader. The chat starts
on Monday 2026-11-23 at 10:00 in Shanghai; standings posts are coalesced per 10-minute window.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import func, select

from bot.services import competitions, directory
from bot.storage.orm import Competition, OutboxRow, Team
from tests.integration.conftest import SHANGHAI
from tests.support.chat import Chat

STANDINGS = "战况更新"
RESULT = "结果揭晓"


def at(hour: int, minute: int, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def pk_chat(chat: Chat) -> Chat:
    """The chat fixture: the announcer posts competition standings after each deal."""
    return chat


def pk_posts(chat: Chat, kind: str) -> list[str]:
    return [post for post in chat.channel_posts() if kind in post]


async def finish_due(chat: Chat) -> int:
    """What the scheduler does every few minutes, then the delivery worker's round."""
    async with chat.app.uow_factory() as uow:
        finished = await competitions.finish_due(uow, chat.app.renderer, chat.clock.now())
        await uow.commit()
    await chat.settle()
    return finished


async def count_competitions(chat: Chat) -> int:
    async with chat.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Competition)) or 0)


async def deal_at(chat: Chat, when: datetime, who: str, amount: str) -> None:
    chat.at(when)
    await chat.say(who, f"/deal {amount}")


@pytest.mark.slow
async def test_a_competition_from_start_to_result(pk_chat: Chat) -> None:
    chat = pk_chat
    reply = await chat.say("boss", "/team pk start 双11冲刺 2026-11-23..2026-11-25 狼队 虎队")
    assert "小组PK「双11冲刺」已发起" in reply
    assert "11月23日–11月25日" in reply and "还剩 3 天" in reply
    assert "狼队" in reply and "「狼性出击」" in reply and "虎队" in reply and "鹰队" not in reply

    await deal_at(chat, at(10, 1), "alice", "5000")  # 狼队 leads, but passing nobody is no news
    assert pk_posts(chat, STANDINGS) == []
    await deal_at(chat, at(10, 2), "bob", "8000")  # 虎队 passes 狼队
    posts = pk_posts(chat, STANDINGS)
    assert len(posts) == 1
    assert "虎队 反超 狼队，夺得领先" in posts[0]
    assert "🥇 虎队 ¥8,000 · 1单 · 人均 ¥4,000" in posts[0]
    assert "🥈 狼队 ¥5,000 · 1单 · 人均 ¥2,500 · 距第一 ¥3,000 · 「狼性出击」" in posts[0]

    await deal_at(chat, at(10, 15), "erin", "1000")  # 虎队 only extends its lead: no post
    assert len(pk_posts(chat, STANDINGS)) == 1
    await deal_at(chat, at(10, 16), "dave", "6000")  # 狼队 11,000 > 虎队 9,000: the lead changes
    posts = pk_posts(chat, STANDINGS)
    assert len(posts) == 2 and "狼队 反超 虎队" in posts[1]
    await deal_at(chat, at(10, 17), "bob", "5000")  # 虎队 back in front, same 10-minute window
    assert len(pk_posts(chat, STANDINGS)) == 2
    await deal_at(chat, at(10, 31), "carol", "50000")  # 鹰队 is not in this competition
    assert len(pk_posts(chat, STANDINGS)) == 2

    board = await chat.say("carol", "/rank pk")
    assert "小组PK「双11冲刺」战况" in board and "还剩 3 天（含今天）" in board
    assert board.index("🥇 虎队 ¥1.4万 · 3单") < board.index(
        "🥈 狼队 ¥1.1万 · 2单 · 人均 ¥5,500 · 距第一 ¥3,000"
    )
    assert "鹰队" not in board and "你的小组" not in board
    mine = await chat.say("alice", "/排行 pk 双11冲刺")
    assert "你的小组 狼队 排第2名，距第一还差 ¥3,000" in mine

    chat.at(at(23, 50, day=25))  # the last day is not over yet
    assert await finish_due(chat) == 0
    assert pk_posts(chat, RESULT) == []
    chat.at(at(0, 5, day=26))
    assert await finish_due(chat) == 1
    results = pk_posts(chat, RESULT)
    assert len(results) == 1
    assert "🥇 冠军：虎队！「虎虎生威」恭喜" in results[0]
    assert "参赛小组合计 ¥2.5万 · 5单" in results[0]
    assert results[0].index("🥇 虎队 ¥1.4万") < results[0].index("🥈 狼队 ¥1.1万")
    assert await finish_due(chat) == 0  # posted once, however often the scheduler asks
    assert len(pk_posts(chat, RESULT)) == 1

    listing = await chat.say("bob", "/team pk list")
    assert "没有进行中的小组PK" in listing and "最近结束" in listing and "双11冲刺" in listing
    final = await chat.say("bob", "/rank pk 双11冲刺")
    assert "已结束" in final and "🥇 虎队 ¥1.4万" in final and "你的小组" not in final


async def test_a_tie_is_a_shared_first_place_and_deals_outside_the_days_do_not_count(pk_chat: Chat) -> None:
    chat = pk_chat
    await chat.say("boss", "/team pk start 周二冲刺 2026-11-24 狼队 虎队")
    await deal_at(chat, at(11, 0), "alice", "9000")  # Monday: before the competition
    upcoming = await chat.say("bob", "/rank pk")
    assert "1 天后开赛" in upcoming and "¥9,000" not in upcoming
    await deal_at(chat, at(9, 0, day=24), "alice", "3000")
    await deal_at(chat, at(9, 30, day=24), "bob", "3000")
    await deal_at(chat, at(9, 0, day=25), "bob", "7000")  # Wednesday: after it
    assert await finish_due(chat) == 1
    [result] = pk_posts(chat, RESULT)
    assert "并列冠军：狼队、虎队！" in result
    assert "参赛小组合计 ¥6,000 · 2单" in result


async def test_per_capita_competition_over_all_groups(pk_chat: Chat) -> None:
    chat = pk_chat
    reply = await chat.say("boss", "/团队 PK 开始 人均赛 今天..明天 人均")
    assert "比人均业绩" in reply and "狼队" in reply and "虎队" in reply and "鹰队" in reply
    await deal_at(chat, at(10, 5), "alice", "10000")  # 狼队: 5,000 a head
    await deal_at(chat, at(10, 6), "carol", "6000")  # 鹰队 (one member): 6,000 a head, takes the lead
    [post] = pk_posts(chat, STANDINGS)
    assert "鹰队 反超 狼队，夺得领先" in post
    assert "🥇 鹰队 人均 ¥6,000 · 合计 ¥6,000 · 1单" in post
    assert "🥈 狼队 人均 ¥5,000 · 合计 ¥1万 · 1单 · 距第一 ¥1,000" in post
    chat.at(at(0, 0, day=25))
    assert await finish_due(chat) == 1
    assert "冠军：鹰队！" in pk_posts(chat, RESULT)[0]


async def test_a_stopped_competition_posts_no_result(pk_chat: Chat) -> None:
    chat = pk_chat
    await chat.say("boss", "/team pk start 周冲刺 2026-11-23..2026-11-27")
    refused = await chat.say("bob", "/team pk stop 周冲刺")
    assert "团队长" in refused
    reply = await chat.say("boss", "/团队 比赛 结束 周冲刺")
    assert "已取消" in reply
    await deal_at(chat, at(10, 5), "alice", "5000")
    await deal_at(chat, at(10, 6), "bob", "8000")
    chat.at(at(9, 0, day=28))
    assert await finish_due(chat) == 0
    assert pk_posts(chat, STANDINGS) == [] and pk_posts(chat, RESULT) == []
    # The name is free again once the competition is over.
    again = await chat.say("boss", "/team pk start 周冲刺 2026-11-30..2026-12-04")
    assert "已发起" in again and await count_competitions(chat) == 2


async def test_only_a_leader_starts_one_and_bad_input_is_explained_with_usage(pk_chat: Chat) -> None:
    chat = pk_chat
    usage = "用法：/团队 setup"
    refused = await chat.say("alice", "/team pk start 双11冲刺 2026-11-23..2026-11-25")
    assert "只有团队长可以使用" in refused and "/team pk start" in refused
    cases = {
        "/team pk start": "还缺少「比赛名称」",
        "/team pk start 双11冲刺": "还缺少「日期」",
        "/team pk start 双11冲刺 2026-11-25..2026-11-23": "开始晚于结束",
        "/team pk start 双11冲刺 下周": "格式不对",
        "/team pk start 双11冲刺 2026-02-30..2026-03-02": "不存在",
        "/team pk start 双11冲刺 2026-11-01..2026-11-11": "已经过去了",
        "/team pk start 双11冲刺 2026-11-23..2026-11-25 狼队": "至少要有两个小组（现在只有「狼队」）",
        "/team pk start 双11冲刺 2026-11-23..2026-11-25 狼队 狼队": "至少要有两个小组",
        "/team pk start 双11冲刺 2026-11-23..2026-11-25 狼队 豹队": "没有叫「豹队」的小组",
        "/team pk stop 不存在": "没有叫「不存在」的小组PK",
        "/team pk rename 双11冲刺": "不认识操作「rename」",
    }
    # The usage line is the one of the form typed; a word no form knows gets the whole command's.
    start_usage = '用法：/团队 pk start 比赛名称 开始..结束 [小组…] [人均|单数] [stake "奖惩"]'
    for text, expected in cases.items():
        reply = await chat.say("boss", text)
        assert expected in reply, (text, reply)
        shown = [line for line in reply.splitlines() if line.startswith("用法：")]
        if " start" in text:
            assert shown == [start_usage], (text, reply)
        elif " stop" in text:
            assert shown == ["用法：/团队 pk stop 比赛名称"], (text, reply)
        else:
            assert (
                len(shown) == 1
                and shown[0].startswith(usage)
                and start_usage[len("用法：/团队 ") :] in shown[0]
            ), (
                text,
                reply,
            )
    assert await count_competitions(chat) == 0

    nothing = await chat.say("bob", "/rank pk")
    assert "现在没有进行中的小组PK" in nothing
    unknown = await chat.say("bob", "/rank pk 不存在")
    assert "没有叫「不存在」的小组PK" in unknown and "/排行 pk [比赛名称]" in unknown

    await chat.say("boss", "/team pk start 双11冲刺 2026-11-23..2026-11-25")
    taken = await chat.say("boss", "/team pk start 双11冲刺 2026-11-26..2026-11-30")
    assert "已经有一场进行中的小组PK叫「双11冲刺」" in taken
    assert await count_competitions(chat) == 1


async def test_one_group_team_cannot_start_one(pk_chat: Chat) -> None:
    """A competition over 'all groups' still needs two of them."""
    chat = pk_chat
    async with chat.app.sessionmaker() as session:
        team = await session.scalar(select(Team))
        groups = await directory.groups_of(session, team)
        for group in groups[1:]:
            await session.delete(group)
        await session.commit()
    reply = await chat.say("boss", "/team pk start 双11冲刺 2026-11-23..2026-11-25")
    assert "至少要有两个小组" in reply
    assert await count_competitions(chat) == 0


async def test_standings_posts_are_one_per_competition_per_window(pk_chat: Chat) -> None:
    chat = pk_chat
    await chat.say("boss", "/team pk start 甲 2026-11-23..2026-11-25 狼队 虎队")
    await chat.say("boss", "/team pk start 乙 2026-11-23..2026-11-25 狼队 虎队 金额")
    await deal_at(chat, at(10, 1), "alice", "5000")
    await deal_at(chat, at(10, 2), "bob", "8000")
    posts = pk_posts(chat, STANDINGS)
    assert sorted(p.split("」")[0][-1] for p in posts) == ["乙", "甲"]  # one each
    async with chat.app.sessionmaker() as session:
        rows = list(
            await session.execute(select(OutboxRow.dedupe_key, OutboxRow.board_quiet, OutboxRow.status))
        )
    news = [key for key, quiet, _ in rows if key.startswith("pk:") and not quiet]
    assert len(news) == 2 and len(set(news)) == 2
    # alice's deal only refreshed each board: a console that cannot edit skips it (folded, never sent)
    refreshes = sorted((key, status) for key, quiet, status in rows if quiet and key.startswith("pk:"))
    assert refreshes == [("pk:1:2026-11-23:deal:1", "folded"), ("pk:2:2026-11-23:deal:1", "folded")]


async def test_the_running_scheduler_posts_a_finished_competition_result(pk_chat: Chat) -> None:
    from scheduling import Scheduler

    chat = pk_chat
    await chat.say("boss", "/team pk start 周一冲刺 2026-11-23 狼队 虎队")
    await chat.say("alice", "/deal 3000")
    chat.at(at(0, 5, day=24))
    notified: list[int] = []
    scheduler = Scheduler(chat.app, lambda: notified.append(1), poll_seconds=0.05, lease_seconds=0.05)
    await scheduler.start()
    try:
        for _ in range(100):
            if notified:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    await chat.settle()
    results = pk_posts(chat, RESULT)
    assert len(results) == 1 and "狼队" in results[0]

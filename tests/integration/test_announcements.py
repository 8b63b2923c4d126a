"""Announcements as the channel sees them: goal progress for every kind of goal, daily records,
the week board, the team's own switches and thresholds, milestones once under concurrent deals, and the
announcement queue (undo before announcing, a failed announcement, giving way to requests)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.announcer import Announcer
from bot.delivery.status import outbox_status, render_status
from bot.messages import ChannelRef, IncomingMessage, UserRef
from tests.integration.conftest import SHANGHAI
from tests.support.chat import Chat
from tests.support.statements import statements_starting

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def posts_with(chat: Chat, words: str) -> list[str]:
    return [post for post in chat.channel_posts() if words in post]


def said(chat: Chat, who: str, text: str, n: int) -> IncomingMessage:
    """What `who` types in the channel, for tests that hand it to the dispatcher without `chat.settle()`
    (so the announcement queue runs only when the test says)."""
    return IncomingMessage(
        event_id=f"queued-{n}",
        user=UserRef("console", "W1", who),
        channel=ChannelRef("console", "W1", "C-east", "group"),
        text=text,
        addressed_to_bot=True,
        received_at=chat.clock.now(),
        display_name=who,
    )


async def test_group_and_personal_goals_announce_their_half_way_and_finish_once(chat: Chat) -> None:
    await chat.say("alice", "/goal group 狼队 10000 week")
    await chat.say("bob", "/goal me 4000 today")
    await chat.say("dave", "/deal 6000")  # 狼队 60 %
    await chat.say("bob", "/deal 2000")  # bob 50 %
    await chat.say("bob", "/deal 2500")  # bob 112 %
    await chat.say("alice", "/deal 1000")  # 狼队 70 %: no threshold crossed
    await chat.say("alice", "/deal 5000")  # 狼队 120 %
    halfway, reached = posts_with(chat, "目标过半"), posts_with(chat, "目标达成")
    assert len(halfway) == 2 and len(reached) == 2
    assert any("狼队" in post and "@dave" in post for post in halfway)
    assert any("@bob" in post for post in halfway)
    assert any("狼队" in post and "@alice" in post for post in reached)
    assert any("@bob" in post for post in reached)


async def test_a_deals_posts_are_queued_in_one_statement(chat: Chat) -> None:
    """喜报, the boards and the goal's half way: several posts, one INSERT (an executemany)."""
    await chat.say("boss", "/goal team 10000 today")
    posts_before = len(chat.channel_posts())
    with statements_starting(chat.app.engine, "INSERT INTO OUTBOX") as inserts:
        await chat.say("bob", "/deal 6000")
    assert len(chat.channel_posts()) - posts_before >= 3
    assert posts_with(chat, "目标过半")
    assert len(inserts) == 1


async def test_a_leader_chooses_the_thresholds_and_switches_kinds_off(chat: Chat) -> None:
    shown = await chat.say("boss", "/team announce thresholds 25 75 100")
    assert "25%、75%、100%" in shown
    assert "团队长" in await chat.say("alice", "/team announce deals off")
    await chat.say("boss", "/goal team 10000 today")
    await chat.say("bob", "/deal 3000")
    assert [p for p in posts_with(chat, "目标进度 25%")]
    assert not posts_with(chat, "目标过半")  # 50 % is no longer a threshold
    assert "⛔ 关" in await chat.say("boss", "/team announce 喜报 off")
    await chat.say("erin", "/deal 1000")
    deal_posts = posts_with(chat, "喜报")
    assert len(deal_posts) == 1  # bob's, before the switch; erin's deal still counts:
    assert "¥4,000" in await chat.say("boss", "/rank")


async def test_bad_announce_settings_get_a_reason_and_change_nothing(chat: Chat) -> None:
    assert "1 到 1000" in await chat.say("boss", "/team announce thresholds 0 abc")
    assert "on（开）或 off（关）" in await chat.say("boss", "/team announce deals maybe")
    assert "不认识播报类型" in await chat.say("boss", "/team announce weather on")
    assert "1 到 1440" in await chat.say("boss", "/team announce window 0")
    shown = await chat.say("boss", "/team announce")
    assert "50%、100%" in shown and "每 10 分钟" in shown


async def test_a_new_daily_record_is_announced_once_for_the_team_and_the_person(chat: Chat) -> None:
    chat.at(MONDAY - timedelta(days=3))  # the Friday before
    await chat.say("bob", "/deal 8000")
    await chat.say("alice", "/deal 2000")
    chat.at(MONDAY)
    await chat.say("alice", "/deal 3000")  # alice beats her 2,000
    await chat.say("bob", "/deal 6000")  # the team: 9,000 < 10,000
    assert len(posts_with(chat, "刷新个人纪录")) == 1
    assert not posts_with(chat, "团队新纪录")
    await chat.say("carol", "/deal 1500")  # the team: 10,500 > 10,000
    await chat.say("carol", "/deal 500")  # higher still, same day: no second post
    team_records = posts_with(chat, "团队新纪录")
    assert len(team_records) == 1
    assert "¥1.05万" in team_records[0] and "原纪录：¥1万" in team_records[0]
    personal = posts_with(chat, "刷新个人纪录")
    assert len(personal) == 1 and "@alice" in personal[0]  # carol had no earlier day to beat


async def test_the_week_board_announces_an_overtake_that_today_board_does_not_show(chat: Chat) -> None:
    await chat.say("bob", "/deal 10000")
    chat.at(MONDAY + timedelta(days=1))
    await chat.say("alice", "/deal 5000")
    before = len(posts_with(chat, "本周个人榜"))
    await chat.say("alice", "/deal 6000")  # today alice was already #1; this week she passes bob
    week_posts = posts_with(chat, "本周个人榜")
    assert len(week_posts) == before + 1
    assert "@alice 超越 @bob，登顶第 1 名！👑（领先 ¥1,000）" in week_posts[-1]


async def test_concurrent_deals_announce_each_milestone_exactly_once(chat: Chat) -> None:
    await chat.say("boss", "/goal team 5000 today")
    people = ["alice", "bob", "carol", "dave", "erin"] * 2

    # Three announcers work the queue while the deals arrive, as three replicas would.
    deals = [chat.app.dispatcher.handle(said(chat, who, "/deal 1000", i)) for i, who in enumerate(people)]
    announcers = [chat.app.jobs.drain() for _ in range(3)]
    replies = (await asyncio.gather(*deals, *announcers))[: len(people)]
    assert all(reply is not None and "已登记成交" in reply.fallback_text for reply in replies)
    await chat.settle()
    assert len(posts_with(chat, "喜报")) == 10
    assert len(posts_with(chat, "开单啦")) == 1
    assert len(posts_with(chat, "目标过半")) == 1
    assert len(posts_with(chat, "目标达成")) == 1


async def test_a_deal_undone_before_its_announcement_is_neither_announced_nor_corrected(chat: Chat) -> None:
    # The bot answers at once; the announcements follow from the queue, so an undo can come between.
    reply = await chat.app.dispatcher.handle(said(chat, "bob", "/deal 3000", 1))
    assert reply is not None and "已登记成交" in reply.fallback_text
    await chat.app.dispatcher.handle(said(chat, "bob", "/deal undo", 2))
    await chat.settle()
    assert chat.channel_posts() == []
    await chat.say("bob", "/deal 2000")
    await chat.say("bob", "/deal undo")
    assert len(posts_with(chat, "喜报")) == 1
    assert len(posts_with(chat, "已撤销")) == 1  # announced, then corrected


async def test_a_failed_announcement_does_not_hold_up_the_deals_behind_it(chat: Chat, monkeypatch) -> None:
    real = Announcer.announce_deal
    broken: list[int] = []

    async def first_one_breaks(self, uow, deal):  # every time: a failure once is tried again and announced
        if not broken:
            broken.append(deal.id)
        if deal.id == broken[0]:
            raise RuntimeError("a template bug")
        await real(self, uow, deal)

    monkeypatch.setattr(Announcer, "announce_deal", first_one_breaks)
    await chat.app.dispatcher.handle(said(chat, "alice", "/deal 1000", 1))
    await chat.app.dispatcher.handle(said(chat, "bob", "/deal 2000", 2))
    await chat.settle()
    announced = posts_with(chat, "喜报")
    assert len(announced) == 1 and "@bob" in announced[0]
    assert "¥3,000" in await chat.say("boss", "/rank")  # the unannounced deal still counts


async def test_teambeat_status_shows_deals_still_waiting_for_their_announcements(chat: Chat) -> None:
    async def status() -> str:
        async with chat.app.sessionmaker() as session:
            return render_status(await outbox_status(session), chat.clock.now())

    await chat.app.dispatcher.handle(said(chat, "erin", "/deal 800", 1))
    await chat.app.dispatcher.handle(said(chat, "dave", "/deal 900", 2))
    assert "deals waiting for their announcements: 2" in await status()
    await chat.settle()
    assert "waiting" not in await status()

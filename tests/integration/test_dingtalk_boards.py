"""The day's boards in a DingTalk group: where the app robot posts (team east, its openConversationId),
the 小组PK standings and the day's leaderboard are each one StandardCard, sent to the group and updated
in place as deals arrive; where the team posts through a custom robot webhook (team west), a board is a
new post as before. The fake DingTalk keeps each group card and every update put to it, and refuses an
update of a card it does not know (as for a recalled card): the board is then sent anew as a card.
Team east: 狼队 (alice01, dave01), 虎队 (bob01); the leader is 王总 (boss01). Monday 2026-11-23.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest_asyncio

from bot.clock import FixedClock
from bot.messages import ChannelRef
from tests.fakes.dingtalk import CARD_SEND, CARD_UPDATE, CORP, EAST, WEST, DingTalkChat, open_dingtalk

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
PK = "小组PK「冲刺」"


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    async with open_dingtalk(tmp_path, database_url, FixedClock(MONDAY_10)) as chat:
        yield chat


async def deal(dt: DingTalkChat, who: str, amount: str, minute: int, group: str = EAST) -> None:
    dt.clock.set(MONDAY_10.replace(minute=minute))
    await dt.say(who, f"/成交 {amount}", group=group)
    await dt.deliver()


def text_of(card: dict) -> str:
    return "\n".join(b["text"] for b in card["contents"] if b["type"] == "markdown")


FINAL_PK = """### ⚔️ 小组PK「冲刺」战况更新

- **狼队** 反超 虎队，夺得领先！👑

**当前战况**（比总业绩）

- 🥇 **狼队** ¥1.2万 · 3单 · 人均 ¥6,000
- 🥈 **虎队** ¥8,000 · 1单 · 人均 ¥8,000 · 距第一 ¥4,000

⏳ 还剩 3 天（含今天），冲！🚀"""

FINAL_LEADERBOARD = """### 📊 今日排行榜

- 🥇 alice ¥1.1万 · 2单
- 🥈 bob ¥8,000 · 1单
- 🥉 dave ¥1,000 · 1单

**小组**

- 🥇 狼队 ¥1.2万 · 3单
- 🥈 虎队 ¥8,000 · 1单

💰 团队今日：¥2万 · 4单"""

RANK_NEWS = [
    "📈 排名变动 · 今日个人榜",  # bob passes alice
    "📈 排名变动 · 今日小组榜",
    "📈 排名变动 · 今日个人榜",  # alice back in front
    "📈 排名变动 · 今日小组榜",
]


def cards_by_title(dt: DingTalkChat, conversation: str = EAST) -> dict[str, list[tuple[str, dict]]]:
    found: dict[str, list[tuple[str, dict]]] = {}
    for card_id, card in dt.fake.group_cards(conversation):
        found.setdefault(card["header"]["title"]["text"], []).append((card_id, card))
    return found


def titles(dt: DingTalkChat, conversation: str = EAST) -> list[str]:
    return [p["title"] for p in dt.fake.group_posts(conversation)]


def pk_cards(dt: DingTalkChat) -> list[str]:
    return [card_id for card_id, card in dt.fake.group_cards(EAST) if PK in card["header"]["title"]["text"]]


async def start_sprint(dt: DingTalkChat) -> None:
    started = await dt.say("boss01", "/团队 pk start 冲刺 2026-11-23..2026-11-25 狼队 虎队")
    assert PK in started


async def four_deals(dt: DingTalkChat) -> None:
    await deal(dt, "alice01", "5000", 1)  # the boards are sent with the day's first deal
    await deal(dt, "bob01", "8000", 2)  # 虎队 and bob take the lead
    await deal(dt, "dave01", "1000", 15)
    await deal(dt, "alice01", "6000", 16)  # 狼队 and alice back in front


async def test_a_pk_day_and_the_days_leaderboard_are_each_one_card_updated_as_deals_arrive(
    dt: DingTalkChat,
) -> None:
    await start_sprint(dt)
    await four_deals(dt)
    cards = cards_by_title(dt)
    assert sorted(cards) == ["⚔️ 小组PK「冲刺」战况更新", "📊 今日排行榜"]  # one card each, nothing else
    [(pk_id, pk)] = cards["⚔️ 小组PK「冲刺」战况更新"]
    [(rank_id, rank)] = cards["📊 今日排行榜"]
    assert text_of(pk) == FINAL_PK and text_of(rank) == FINAL_LEADERBOARD
    # sent once to the group (openConversationId, no single chat), then updated with each deal
    sends = [c.body for c in dt.fake.ok(CARD_SEND)]
    assert sorted(
        (b["cardBizId"], b["openConversationId"], "singleChatReceiver" in b) for b in sends
    ) == sorted([(pk_id, EAST, False), (rank_id, EAST, False)])
    updated = [c.body["cardBizId"] for c in dt.fake.ok(CARD_UPDATE)]
    assert sorted(updated) == sorted([pk_id] * 3 + [rank_id] * 3)
    first_pk = text_of(dt.fake.card_history(pk_id)[0])
    assert "🥇 **狼队** ¥5,000 · 1单" in first_pk  # as first sent
    assert all(not any(b["type"] == "action" for b in c["contents"]) for c in dt.fake.card_history(pk_id))
    # the news is still posted: every 喜报 and each overtake, as markdown in the group
    assert [t for t in titles(dt) if t.startswith("📈")] == RANK_NEWS
    assert titles(dt).count("🎉 喜报 🎉") == 4
    assert not any("今日排行榜" in t or "小组PK" in t for t in titles(dt))  # the boards are the cards


async def test_a_card_dingtalk_no_longer_knows_is_sent_anew_and_updated_from_then_on(
    dt: DingTalkChat,
) -> None:
    await start_sprint(dt)
    await deal(dt, "alice01", "5000", 1)
    [old_pk] = pk_cards(dt)
    dt.fake.recall_card(old_pk)  # recalled: DingTalk refuses its updates
    await deal(dt, "bob01", "8000", 2)
    await deal(dt, "dave01", "1000", 15)
    await deal(dt, "alice01", "6000", 16)
    refused = [c for c in dt.fake.calls if c.path == CARD_UPDATE and c.status != 200]
    assert [(c.body["cardBizId"], c.answer["code"]) for c in refused] == [
        (old_pk, "invalidParameter.cardBizId")
    ]
    [new_pk] = pk_cards(dt)  # the fake forgot the recalled one
    assert new_pk != old_pk and text_of(dt.fake.card_history(new_pk)[-1]) == FINAL_PK
    assert len(dt.fake.card_history(new_pk)) == 3  # sent anew with bob's deal, then updated twice
    assert [t for t in titles(dt) if t.startswith("📈")] == RANK_NEWS


async def test_a_custom_robot_team_keeps_new_posts(dt: DingTalkChat) -> None:
    west = ChannelRef("dingtalk", CORP, WEST, "group")
    east = ChannelRef("dingtalk", CORP, EAST, "group")
    assert dt.adapter.can_edit(east) and not dt.adapter.can_edit(west)
    assert not dt.adapter.can_edit(ChannelRef("dingtalk", CORP, "alice01", "dm"))
    await deal(dt, "zhao01", "5000", 1, group=WEST)
    await deal(dt, "li01", "8000", 2, group=WEST)
    await deal(dt, "zhao01", "1000", 15, group=WEST)
    # through the webhook as before boards: the news, and no leaderboard (a quiet refresh is skipped)
    assert [p["markdown"]["title"] for p in dt.fake.robot_posts()] == [
        "🎉 喜报 🎉",
        "🚀 开单啦！",
        "🎉 喜报 🎉",
        "📈 排名变动 · 今日个人榜",
        "🎉 喜报 🎉",
    ]
    assert dt.fake.cards == {} and dt.fake.ok(CARD_SEND) == []


async def test_a_transient_update_failure_is_retried_on_the_same_card(dt: DingTalkChat) -> None:
    await start_sprint(dt)
    await deal(dt, "alice01", "5000", 1)
    [pk_id] = pk_cards(dt)
    dt.fake.fail(CARD_UPDATE, 500, {"code": "ServiceUnavailable", "message": "系统繁忙"})
    await deal(dt, "bob01", "8000", 2)  # the first board's update fails: it (and what follows) waits
    assert [c.status for c in dt.fake.calls if c.path == CARD_UPDATE] == [500]
    dt.clock.set(MONDAY_10.replace(minute=3))
    await dt.deliver()  # tried again, on the same card
    assert [c.status for c in dt.fake.calls if c.path == CARD_UPDATE] == [500, 200, 200]
    assert pk_cards(dt) == [pk_id] and len(dt.fake.ok(CARD_SEND)) == 2  # no card sent anew
    assert "🥇 **虎队** ¥8,000 · 1单" in text_of(dt.fake.card_history(pk_id)[-1])


async def test_an_undone_deal_leaves_the_cards(dt: DingTalkChat) -> None:
    await start_sprint(dt)
    await deal(dt, "alice01", "5000", 1)
    await deal(dt, "bob01", "8000", 2)
    dt.clock.set(MONDAY_10.replace(minute=5))
    assert "8,000" in await dt.say("bob01", "/成交 undo")
    await dt.deliver()
    [pk_id] = pk_cards(dt)
    assert len(dt.fake.ok(CARD_SEND)) == 2 and len(dt.fake.card_history(pk_id)) == 3  # sent, 2 updates
    assert text_of(dt.fake.card_history(pk_id)[-1]) == (
        "### ⚔️ 小组PK「冲刺」战况更新\n\n**当前战况**（比总业绩）\n\n"
        "- 🥇 **狼队** ¥5,000 · 1单 · 人均 ¥2,500\n- 🥈 **虎队** ¥0 · 0单 · 人均 ¥0 · 距第一 ¥5,000\n\n"
        "⏳ 还剩 3 天（含今天），冲！🚀"
    )
    [(_, rank)] = cards_by_title(dt)["📊 今日排行榜"]
    assert (
        text_of(rank) == "### 📊 今日排行榜\n\n- 🥇 alice ¥5,000 · 1单\n\n**小组**\n\n"
        "- 🥇 狼队 ¥5,000 · 1单\n\n💰 团队今日：¥5,000 · 1单"
    )

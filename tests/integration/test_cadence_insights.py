"""Five weeks of a team, on the fixed clock: the leader's private insights and the week's 标杆.

Everyone checks in every workday with their planned calls and amount, and closes a deal every other
day. In the fifth week alice's planned calls fall to 15 a day, and erin is on leave all week (no
check-ins, no deals: she would be named twice over if leave counted). The insights slot runs every
workday at 18:15: nothing at all on the quiet days; once alice's week has fallen, one DM to the leader
that names her, and her name nowhere else. Every number asserted is computed here from the script.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest
import pytest_asyncio

from adapters.console.render import render_console
from bot.clock import FixedClock
from bot.domain.calendar import WorkCalendar
from bot.domain.money import Money, format_money
from bot.rendering.format import percent
from bot.services import directory
from bot.services.schedule import parse_clock, team_slots
from scheduling.jobs import run_slot
from tests.integration.conftest import SHANGHAI
from tests.support.chat import Chat, open_chat, write_config

DAYS = WorkCalendar("cn").workdays(date(2026, 10, 26), date(2026, 11, 27))
LAST_WEEK = DAYS[-5:]
PEOPLE = ("alice", "bob", "carol", "dave", "erin")
EXTRA = """
[teams.schedule]
insights = "18:15"

[[teams.questions]]
key = "calls"
kind = "number"
prompt = { "zh-CN" = "今天计划打多少通电话？" }

[[teams.questions]]
key = "target"
kind = "amount"
prompt = { "zh-CN" = "今天的目标成交额是多少？" }
"""


def calls(who: str, i: int) -> int:
    return 15 if who == "alice" and DAYS[i] in LAST_WEEK else 40


def away(who: str, i: int) -> bool:
    return who == "erin" and DAYS[i] in LAST_WEEK


def deal(who: str, i: int) -> int | None:
    """Yuan of the deal `who` closes on day i: every other day; dave's are bigger in the last week."""
    if away(who, i) or (i + PEOPLE.index(who)) % 2:
        return None
    return 20000 if who == "dave" and DAYS[i] in LAST_WEEK else 5000


def money(yuan: int) -> str:
    return format_money(Money(yuan * 100, "CNY"), "zh-CN")


@pytest_asyncio.fixture
async def chat(engine, database_url, tmp_path) -> AsyncIterator[Chat]:
    url, pg_schema = database_url
    clock = FixedClock(datetime.combine(DAYS[0], parse_clock("08:00"), SHANGHAI))
    chat = await open_chat(write_config(tmp_path, url, extra_teams=EXTRA), clock, pg_schema)
    try:
        yield chat
    finally:
        await chat.app.close()


async def tick(chat: Chat, day: date, hhmm: str) -> dict[str, str]:
    chat.at(datetime.combine(day, parse_clock(hhmm), SHANGHAI))
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


@pytest.mark.slow
async def test_five_weeks_of_insights_and_the_weeks_role_models(chat):
    insights: dict[date, list[tuple[str, str, str]]] = {}
    for i, day in enumerate(DAYS):
        chat.at(datetime.combine(day, parse_clock("09:10"), SHANGHAI))
        if day == LAST_WEEK[0]:
            await chat.say("erin", f"/leave {LAST_WEEK[0]}..{LAST_WEEK[-1]}", dm=True)
        for who in PEOPLE:
            if not away(who, i):
                assert "打卡完成" in await chat.say(who, f"/checkin {calls(who, i)}; 3万", dm=True)
        for n, who in enumerate(PEOPLE):
            if (yuan := deal(who, i)) is not None:
                chat.at(datetime.combine(day, parse_clock(f"{14 + n}:00"), SHANGHAI))
                await chat.say(who, f"/deal {yuan}")
        mark = len(chat.adapter.sent)
        assert (await tick(chat, day, "18:15")) == {"insights": "posted"}
        insights[day] = [(to.kind, to.id, render_console(m)) for to, m in chat.adapter.sent[mark:]]
        if day == LAST_WEEK[-1]:
            assert (await tick(chat, day, "18:30"))["weekly"] == "posted"

    # Quiet days, all of the first four weeks and the Monday (40,40,40,40,15: not yet fallen): nothing.
    quiet = [day for day in DAYS if day <= LAST_WEEK[0]]
    assert all(insights[day] == [] for day in quiet), [d for d in quiet if insights[d]]
    # From Tuesday: one DM, to the leader only, naming alice with her own numbers; erin, away, never.
    for day in LAST_WEEK[1:]:
        sent = insights[day]
        assert [(kind, who) for kind, who, _ in sent] == [("dm", "boss")], day
        text = sent[0][2]
        first = DAYS[DAYS.index(day) - 4]
        avg = round(
            sum(calls("alice", DAYS.index(d)) for d in DAYS[DAYS.index(first) : DAYS.index(day) + 1]) / 5
        )
        assert f"alice：{first} 起计划通话降到每天 {avg} 通（5 次打卡），此前四周为每天 40 通" in text
        assert "一起复盘几通电话" in text
        assert "erin" not in text and "bob" not in text, text
    # Named nowhere else: not in the channel, not in any other DM.
    everything = [(to, render_console(m)) for to, m in chat.adapter.sent]
    assert not [t for to, t in everything if "计划通话降到" in t and (to.kind, to.id) != ("dm", "boss")]

    # The Friday 周会 holds up the week's 标杆, with the numbers that chose them.
    weekly = chat.channel_posts()[-1]
    assert "🌟 本周标杆" in weekly
    idx = [DAYS.index(d) for d in LAST_WEEK]
    deals = {w: sum(1 for i in idx if deal(w, i)) for w in PEOPLE}
    week_calls = {w: sum(calls(w, i) for i in idx if not away(w, i)) for w in PEOPLE}
    best = max(
        (w for w in PEOPLE if deals[w] and week_calls[w] >= 20), key=lambda w: deals[w] / week_calls[w]
    )
    assert best == "alice"  # fewer calls, as many deals: the best conversion of the week
    ratio = percent(deals[best] / week_calls[best])
    assert f"转化标杆：@alice，计划 {week_calls['alice']} 通电话成交 {deals['alice']} 单（{ratio}）" in weekly
    week_amount = sum(deal("dave", i) or 0 for i in idx)
    before = [i for i, d in enumerate(DAYS) if d < LAST_WEEK[0]]
    level = sum(deal("dave", i) or 0 for i in before) // 4
    change = percent(week_amount / level - 1, signed=True)
    assert (
        f"进步标杆：@dave，本周 {money(week_amount)}，此前四周平均每周 {money(level)}（{change}）" in weekly
    )
    # Everyone but erin checked in every workday: the tie goes to the first by name, as in the streak list.
    assert f"坚持标杆：@alice，连续打卡 {len(DAYS)} 个工作日，全队最长" in weekly
    assert f"已连续打卡 {len(DAYS)} 个工作日" in await chat.say("alice", "/me", dm=True)


@pytest.mark.slow
async def test_insights_on_demand_for_leaders_and_group_leads_only(chat):
    chat.at(datetime.combine(DAYS[19], parse_clock("17:00"), SHANGHAI))  # the Friday before
    started = await chat.say(
        "boss", f"/team pk start 十一月冲刺 {LAST_WEEK[0]}..{LAST_WEEK[-1]} 狼队 虎队 鹰队"
    )
    assert "十一月冲刺" in started, started
    for i, day in enumerate(DAYS[:-1]):  # up to Thursday: alice's calls have fallen, dave's are steady
        chat.at(datetime.combine(day, parse_clock("09:10"), SHANGHAI))
        for who in ("alice", "dave", "bob"):
            await chat.say(who, f"/checkin {calls(who, i)}; 3万", dm=True)
            if i % 2 == 0:
                await chat.say(who, "/deal 5000")
    chat.at(datetime.combine(DAYS[-2], parse_clock("17:00"), SHANGHAI))
    boss = await chat.say("boss", "/insights", dm=True)
    assert "alice" in boss and "计划通话降到每天 20 通" in boss  # 40, 15, 15, 15, 15
    assert "carol：已连续" in boss  # never checked in since joining: a word with her too
    # The PK so far (Monday and Wednesday's deals): 狼队 alice and dave 4 × 5000, 虎队 bob 2 × 5000.
    assert f"虎队 在小组PK「十一月冲刺」中为 {money(10000)}，只有领先的狼队（{money(20000)}）的 50%" in boss
    assert f"鹰队 在小组PK「十一月冲刺」中为 {money(0)}" in boss
    assert "和组长一起排一排" in boss
    lead = await chat.say("alice", "/洞察", dm=True)  # alice leads 狼队: alice and dave
    assert "狼队" in lead and "alice" in lead and "carol" not in lead and "erin" not in lead
    assert "虎队" not in lead  # another group's PK standing is not theirs to read
    refused = await chat.say("bob", "/洞察", dm=True)
    assert (
        refused
        == "🔒 /insights 只有组长或团队长可以使用。需要的话，请找你的组长帮忙。\n用法：/洞察\n例如：/洞察"
    )
    in_channel = await chat.say("boss", "/insights")
    assert "alice" not in in_channel and "私聊" in in_channel, in_channel
    # Nothing of it reached the channel.
    assert not any("计划通话" in post for post in chat.channel_posts())

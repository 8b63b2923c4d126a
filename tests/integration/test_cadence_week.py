"""A week in the life of a team: prompts, reminders, morning posts, recaps and the weekly summary.

The scheduler's job function runs at each slot's time with a fixed clock, exactly as APScheduler would
call it; members answer and log deals in chat in between. Every number the posts show is computed
here, independently, from the week's script below.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain.money import Money, format_money
from bot.rendering.format import percent
from bot.services import directory
from bot.services.posts import run_post
from bot.services.schedule import parse_clock, team_slots
from bot.storage.orm import OutboxRow, Team
from scheduling.jobs import run_slot
from tests.integration.conftest import SHANGHAI

MONDAY = date(2026, 11, 23)
WEEK = [MONDAY + timedelta(days=i) for i in range(5)]
LEAVE = "leave"
PARTIAL = "partial"
# Each member's planned amount (yuan) per weekday; None: no check-in; PARTIAL: the first answer only.
PLANS: dict[str, list[object]] = {
    "alice": [20000, 20000, 30000, 20000, 25000],
    "bob": [10000, None, 15000, 10000, 10000],
    "carol": [8000, 8000, 8000, 8000, 8000],
    "dave": [PARTIAL, None, None, 5000, None],
    "erin": [12000, 12000, LEAVE, 12000, 12000],
    "boss": [None] * 5,
}
NAMES = {"alice": "alice", "bob": "bob", "carol": "carol", "dave": "dave", "erin": "erin", "boss": "Boss"}
# Deals logged during each day: (member, yuan).
DEALS: list[list[tuple[str, int]]] = [
    [("alice", 12800), ("bob", 6000), ("alice", 9000)],
    [("carol", 15000)],
    [("alice", 30000), ("dave", 4000)],
    [],
    [("bob", 22000), ("erin", 5000)],
]
LAST_WEEK_DEAL = ("alice", 50000)  # Friday 2026-11-20: the previous week's whole total
WEEK_GOAL = 100000
# Who answers fully only after the first reminder (day index -> member): not reminded a second time.
LATE = {1: "dave"}


def money(yuan: int) -> str:
    return format_money(Money(yuan * 100, "CNY"), "zh-CN")


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, parse_clock(hhmm), SHANGHAI)


async def tick(chat, day: date, hhmm: str) -> dict[str, str]:
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


def sent_since(chat, mark: int, needle: str) -> dict[str, list[str]]:
    """DMs containing `needle` sent after the first `mark` sends, by recipient."""
    from adapters.console.render import render_console

    out: dict[str, list[str]] = {}
    for to, message in chat.adapter.sent[mark:]:
        text = render_console(message)
        if to.kind == "dm" and needle in text:
            out.setdefault(to.id, []).append(text)
    return out


def expected_today(i: int) -> set[str]:
    return {m for m, plans in PLANS.items() if plans[i] != LEAVE}


def done_by_morning(i: int) -> set[str]:
    return {m for m, plans in PLANS.items() if isinstance(plans[i], int) and LATE.get(i) != m}


def done_by_evening(i: int) -> set[str]:
    return {m for m, plans in PLANS.items() if isinstance(plans[i], int)}


async def answer(chat, who: str, plan: object) -> None:
    if plan == PARTIAL:
        await chat.say(who, "整理客户名单", dm=True)  # the prompt opened the check-in: this answers Q1
    elif who == "alice":  # question by question, as the prompt invites
        await chat.say(who, "拜访3家客户", dm=True)
        await chat.say(who, "很多", dm=True)  # words for an amount: asked again
        await chat.say(who, str(plan), dm=True)
        await chat.say(who, "无", dm=True)
    else:
        await chat.say(who, f"/checkin 电话跟进; {plan}; 无", dm=True)


@pytest.mark.slow
async def test_a_week_in_the_life(chat):
    chat.at(datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI))
    await chat.say(LAST_WEEK_DEAL[0], f"/deal {LAST_WEEK_DEAL[1]}")
    chat.at(at(MONDAY, "08:00"))
    assert "14:00" in await chat.say("boss", "/team schedule reminders 10:30 14:00")
    await chat.say("boss", f"/goal team {WEEK_GOAL} week")
    await chat.say("erin", "/leave 2026-11-25")
    week_total = 0
    week_done = week_expected = 0

    for i, day in enumerate(WEEK):
        # 09:00 — the check-in prompt goes to every active member not on leave, once.
        mark = len(chat.adapter.sent)
        assert (await tick(chat, day, "09:00"))["checkin"] == "posted"
        prompted = sent_since(chat, mark, "打卡 1/3")
        assert set(prompted) == expected_today(i), day
        assert all(len(dms) == 1 for dms in prompted.values())
        assert "早上好，alice" in prompted["alice"][0]

        chat.at(at(day, "09:10"))
        for who, plans in PLANS.items():
            if plans[i] not in (None, LEAVE) and LATE.get(i) != who:
                await answer(chat, who, plans[i])

        # 09:30 — the morning post: commitments, who has not checked in, who is on leave, yesterday.
        mark = len(chat.adapter.sent)
        assert (await tick(chat, day, "09:30"))["morning"] == "posted"
        morning = chat.channel_posts()[-1]
        committed = sum(PLANS[m][i] for m in done_by_morning(i))
        assert f"今日承诺（合计 {money(committed)}）" in morning
        # missing_names = "leaders" (the default): the channel sees the count, the leader the names.
        not_yet = expected_today(i) - done_by_morning(i)
        assert "还没打卡：" not in morning
        assert f"📝 已打卡 {len(expected_today(i)) - len(not_yet)}/{len(expected_today(i))} 人" in morning
        told = sent_since(chat, mark, "仅你可见")
        assert set(told) == {"boss"}, day
        missing_line = told["boss"][0].splitlines()[0]
        for who in PLANS:
            shown = NAMES[who] in missing_line.split("还没打卡的是", 1)[1]
            assert shown == (who in not_yet), (day, who, missing_line)
        assert ("🌴 今日请假：erin" in morning) == (PLANS["erin"][i] == LEAVE)
        yesterday = DEALS[i - 1] if i > 0 else [LAST_WEEK_DEAL]  # the previous workday: last Friday
        assert ("昨日战报" in morning) == bool(yesterday)
        if yesterday:
            assert f"团队业绩：{money(sum(a for _, a in yesterday))}" in morning
            by_member: dict[str, int] = {}
            for who, amount in yesterday:
                by_member[who] = by_member.get(who, 0) + amount
            champion = max(by_member, key=by_member.__getitem__)
            assert f"个人冠军：@{champion} {money(by_member[champion])}" in morning

        # 10:30 — the first reminder, only to those who have not answered.
        mark = len(chat.adapter.sent)
        assert (await tick(chat, day, "10:30"))["reminder"] == "posted"
        reminded = sent_since(chat, mark, "⏰")
        assert set(reminded) == expected_today(i) - done_by_morning(i), day
        if PLANS["dave"][i] == PARTIAL:
            assert "还差 2 个问题" in reminded["dave"][0]

        if i in LATE:
            chat.at(at(day, "11:00"))
            await answer(chat, LATE[i], PLANS[LATE[i]][i])

        # 14:00 — the second and last reminder: not to whoever answered since.
        mark = len(chat.adapter.sent)
        await tick(chat, day, "14:00")
        second = sent_since(chat, mark, "⏰")
        assert set(second) == expected_today(i) - done_by_evening(i), day
        assert all("第 2 次提醒" in dms[0] for dms in second.values())
        async with chat.app.uow_factory() as uow:  # forcing a third one finds nobody under the cap
            team = await directory.team_by_slug(uow.session, "east")
            await run_post(uow, chat.app.renderer, team, "reminder", chat.clock.now(), force=True, number=2)
            await uow.commit()
        await chat.settle()
        assert sent_since(chat, mark, "⏰") == second

        for n, (who, amount) in enumerate(DEALS[i]):
            chat.at(at(day, f"{15 + n}:00"))
            await chat.say(who, f"/deal {amount}")

        # 18:00 — the evening recap against the day's plans.
        assert (await tick(chat, day, "18:00"))["recap"] == "posted"
        recap = chat.channel_posts()[-1]
        total = sum(a for _, a in DEALS[i])
        week_total += total
        assert f"总业绩: {money(total)}" in recap
        assert f"成交单数: {len(DEALS[i])} 单" in recap
        planned = sum(PLANS[m][i] for m in done_by_evening(i))
        assert f"早会承诺: {money(planned)}（完成 {percent(total / planned)}）" in recap
        done, expected = len(done_by_evening(i)), len(expected_today(i))
        week_done, week_expected = week_done + done, week_expected + expected
        assert f"📝 打卡参与：{done}/{expected}（{percent(done / expected)}）" in recap
        week_deals = sum(len(d) for d in DEALS[: i + 1])
        assert (
            f"本周累计 {money(week_total)}（{week_deals} 单），目标 {money(WEEK_GOAL)} "
            f"完成 {percent(week_total / WEEK_GOAL)}"
        ) in recap
        for who, _amount in DEALS[i]:
            if isinstance(PLANS[who][i], int):
                assert f"计划 {money(PLANS[who][i])}" in recap

        # 18:30 — the weekly summary is due on Fridays only.
        outcome = (await tick(chat, day, "18:30"))["weekly"]
        assert outcome == ("posted" if day.weekday() == 4 else "skipped: not due")

    weekly = chat.channel_posts()[-1]
    assert "周会总结 · 11月23日–11月29日" in weekly
    assert f"本期业绩: {money(week_total)}" in weekly
    change = (week_total - LAST_WEEK_DEAL[1]) / LAST_WEEK_DEAL[1]
    assert f"上期业绩: {money(LAST_WEEK_DEAL[1])}（{percent(change, signed=True)}" in weekly
    totals: dict[str, int] = {}
    for day_deals in DEALS:
        for who, amount in day_deals:
            totals[who] = totals.get(who, 0) + amount
    champion = max(totals, key=totals.__getitem__)
    assert f"个人冠军：@{champion} {money(totals[champion])}" in weekly
    assert f"打卡参与：{week_done}/{week_expected}（{percent(week_done / week_expected)}）" in weekly
    # alice and carol every day; erin every workday but her leave, which neither counts nor breaks.
    assert "alice：连续 5 天" in weekly and "carol：连续 5 天" in weekly
    assert "erin：连续 4 天" in weekly and "bob：连续 3 天" in weekly
    assert f"▓ {percent(week_total / WEEK_GOAL)} 本周团队目标：{money(week_total)} / {money(WEEK_GOAL)}" in (
        weekly.replace("░", "▓")
    )

    # Nothing was posted twice: one prompt per member per day, each post once per period.
    async with chat.app.sessionmaker() as session:
        keys = list(await session.scalars(select(OutboxRow.dedupe_key)))
    prompts = [k for k in keys if k.startswith("checkin-prompt:")]
    assert len(prompts) == sum(len(expected_today(i)) for i in range(5))
    assert len([k for k in keys if k.startswith("weekly:")]) == 1
    assert (await tick(chat, WEEK[-1], "18:30"))["weekly"] == "skipped: already posted"

    # The next Monday is the last workday of November: the monthly summary covers all of it.
    assert (await tick(chat, date(2026, 11, 30), "18:30"))["monthly"] == "posted"
    monthly = chat.channel_posts()[-1]
    assert "月会总结 · 2026年11月" in monthly
    assert f"本期业绩: {money(week_total + LAST_WEEK_DEAL[1])}" in monthly


async def test_answers_before_midnight_count_for_that_day(chat):
    async with chat.app.sessionmaker() as session:
        team = await session.scalar(select(Team).where(Team.slug == "east"))
    chat.at(datetime(2026, 11, 24, 23, 59, tzinfo=SHANGHAI))
    await chat.say("bob", "/checkin 加班; 1万; 无", dm=True)
    chat.at(datetime(2026, 11, 25, 0, 1, tzinfo=SHANGHAI))
    await chat.say("carol", "/checkin 早起; 2万; 无", dm=True)
    mark = len(chat.adapter.sent)
    chat.at(datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))
    async with chat.app.uow_factory() as uow:
        await run_post(uow, chat.app.renderer, team, "checkin", chat.clock.now())
        await uow.commit()
    await chat.settle()
    prompted = sent_since(chat, mark, "打卡 1/3")
    assert "carol" not in prompted  # her 00:01 answers are Wednesday's
    assert "bob" in prompted  # his 23:59 answers were Tuesday's
    chat.at(datetime(2026, 11, 25, 18, 0, tzinfo=SHANGHAI))
    recap = await chat.say("boss", "/recap")
    assert "早会承诺: ¥2万" in recap  # carol's plan, not bob's


async def test_a_completed_check_in_is_posted_to_the_channel_when_the_team_wants_it(chat):
    chat.at(at(MONDAY, "09:00"))
    async with chat.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        await run_post(uow, chat.app.renderer, team, "checkin", chat.clock.now())
        await uow.commit()
    await chat.say("carol", "拜访客户", dm=True)
    await chat.say("carol", "3万", dm=True)
    done = await chat.say("carol", "无", dm=True)
    assert "打卡完成" in done
    assert not any("carol的今日打卡" in post for post in chat.channel_posts())  # off by default
    async with chat.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        team.settings = {**(team.settings or {}), "post_checkins": True}
        await uow.commit()
    await chat.say("bob", "/checkin 电话跟进; 2万; 无", dm=True)
    posted = [post for post in chat.channel_posts() if "bob的今日打卡" in post]
    assert len(posted) == 1 and "电话跟进" in posted[0]

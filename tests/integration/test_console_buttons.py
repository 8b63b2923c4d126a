"""The new buttons in the console, as numbered choices (issue 22 item 2): `/1` under a /deal answer undoes
the deal, the check-in reminder's `/1` and `/2` continue the check-in or book today off, a leader's `/1`
under a goal posts it to the channel — each clicked as the person who types it."""

from __future__ import annotations

import io
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy import select

from adapters.console.adapter import ConsoleAdapter
from adapters.console.session import ConsoleSession
from bot.app import App, build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.services import directory
from bot.services.posts import run_post
from bot.storage.orm import Deal, Leave, Member
from tests.support.chat import Chat, open_chat, write_config

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass
class Console:
    app: App
    adapter: ConsoleAdapter
    session: ConsoleSession
    out: io.StringIO

    async def type(self, who: str, line: str) -> list[str]:
        """`who` types `line`; everything printed for it (the answer, then any posts and DMs)."""
        self.adapter.speaker = who
        self.out.seek(0)
        self.out.truncate(0)
        await self.session.line(line)
        return [line.strip() for line in self.out.getvalue().splitlines()]

    async def post(self, kind: str) -> list[str]:
        self.out.seek(0)
        self.out.truncate(0)
        async with self.app.uow_factory() as uow:
            team = await directory.team_by_slug(uow.session, "east")
            await run_post(uow, self.app.renderer, team, kind, self.app.clock.now())
            await uow.commit()
        await self.session.worker.drain()
        return [line.strip() for line in self.out.getvalue().splitlines()]


@pytest_asyncio.fixture
async def console(engine, database_url, tmp_path) -> AsyncIterator[Console]:
    url, pg_schema = database_url
    clock = FixedClock(MONDAY_10)
    app = await build_app(
        load_config(write_config(tmp_path, url, locale="en"), environ={}),
        clock,
        migrate=False,
        pg_schema=pg_schema,
    )
    out = io.StringIO()
    adapter = ConsoleAdapter("W1", "C-east", "boss", clock, out=out)
    try:
        yield Console(app, adapter, ConsoleSession(app, adapter, "east", echo=False), out)
    finally:
        await app.close()


async def test_undo_under_the_deal_answer(console):
    shown = await console.type("bob", "/deal 12800")
    assert shown[:3] == [
        "✅ Deal #1 ¥12,800 logged, and announced in the team channel 🎉",
        "Made a mistake? Send /deal undo 1 (within 24 hours)",
        "[/1] ↩️ Undo",
    ]
    # Carol's `/1` picks nothing of hers (she was shown no choice): it is not Bob's button.
    await console.type("carol", "/1")
    assert await voided(console) == [False]
    shown = await console.type("bob", "/1")
    assert shown == [
        "↩️ Deal #1 ¥12,800 (bob) has been undone; rankings and goals are corrected",
        "┌─ [#C-east]",
        "│ ↩️ Deal #1 ¥12,800 (bob) has been undone; rankings and goals are corrected",
        "└─",
        "┌─ [#C-east · ↻ 4]",  # the day's leaderboard, edited in place: the deal is gone from it
        "│ 【📊 Today's leaderboard】",
        "│ 💰 Team today: ¥0 · 0 deals",
        "└─",
    ]
    assert await voided(console) == [True]
    # The same choice again: a clear line, nothing more in the channel.
    assert await console.type("bob", "/1") == [
        "ℹ️ That deal has already been undone; nothing more to do.",
        "Usage: /deal undo [ID]",
        "Example: /deal undo 12",
    ]


async def test_the_reminder_choices_continue_the_check_in_or_book_today_off(console):
    await console.post("checkin")
    printed = await console.post("reminder")
    assert "│ [/1] 📝 Check in now" in printed and "│ [/2] 🏖 On leave today" in printed

    shown = await console.type("bob", "/2")
    assert shown[0] == "🏖 Leave booked: Nov 23 (1 workday)"
    async with console.app.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Member.user_id, Leave.start_day).join(Member, Member.id == Leave.member_id)
            )
        ).all()
    assert rows == [("bob", MONDAY_10.date())]

    # Carol's "check in now": her check-in's first question (as /checkin answers it in the console)
    assert await console.type("carol", "/1") == [
        "Good morning, carol! ☀️ Time for today's check-in: 3 questions, one minute.",
        "【📝 Check-in 1/3】",
        "What did you get done yesterday?",
        "Just reply in your own words.",
        "Not today? Send /checkin skip followed by a reason.",
        "[/1] 📝 Fill in the form",
        "[/2] ⏭ Skip today",
        "[/3] 🏖 On leave today",
    ]


async def test_post_to_channel_under_a_leaders_goal(console):
    shown = await console.type("boss", "/goal team 300000 month")
    assert shown[-1] == "[/1] 📣 Post to channel"
    shown = await console.type("boss", "/1")
    assert shown == [
        "📣 Posted to the team channel: Team goal this month (¥0/¥300,000)",
        "┌─ [#C-east]",
        "│ 【🎯 Team goal this month: ¥300,000】",
        "│ ░░░░░░░░░░ 0% ¥0/¥300,000",
        "│ ⏱ ¥50,000 a day gets us there (6 workdays left). Let's go, team! 💪",
        "│ Shared by Boss · /goal shows every goal",
        "└─",
    ]
    # A member typing the button's command is refused; nothing is posted.
    shown = await console.type("bob", "/goal post 1")
    assert (
        shown[0]
        == "🔒 Only group leads and team leaders can use /goal post. Ask your group lead if you need it done."
    )
    assert not any(line.startswith("┌─") for line in shown)
    # A member's /goal shows no choice to post.
    assert not any("📣" in line for line in await console.type("bob", "/goal"))


async def voided(console: Console) -> list[bool]:
    async with console.app.sessionmaker() as session:
        return [v is not None for v in await session.scalars(select(Deal.voided_at).order_by(Deal.id))]


async def test_a_group_lead_is_offered_her_groups_goals_only(console):
    await console.type("boss", "/goal team 300000 month")
    await console.type("boss", "/goal group 虎队 100000 week")
    await console.type("boss", "/goal group 狼队 100000 week")
    await console.type("boss", "/goal @dave 20000 week")  # dave is in alice's group
    await console.type("boss", "/goal @bob 20000 week")
    offered = [line for line in await console.type("alice", "/goal") if line.startswith("[/")]
    assert offered == ["[/1] 📣 Post: 狼队 goal this week", "[/2] 📣 Post: dave's goal this week"]
    shown = await console.type("alice", "/2")
    assert shown[0] == "📣 Posted to the team channel: dave's goal this week (¥0/¥20,000)"
    assert "│ 【🎯 dave's goal this week: ¥20,000】" in shown
    # The leader is offered every goal.
    offered = [line for line in await console.type("boss", "/goal") if line.startswith("[/")]
    assert len(offered) == 5


WEST = """
[[teams]]
id = "west"
name = "West Sales"
platform = "console"
workspace = "W2"
channel = "C-west"
locale = "en"
calendar = "cn"
leaders = ["wboss"]

[[teams.members]]
id = "wboss"
name = "West Boss"
"""


async def test_another_teams_goal_is_not_found_and_not_posted(engine, database_url, tmp_path):
    url, pg_schema = database_url
    east = await open_chat(
        write_config(tmp_path, url, locale="en", extra_teams=WEST), FixedClock(MONDAY_10), pg_schema
    )
    west = Chat(east.app, east.adapter, east.clock, workspace="W2")
    west._ids = itertools.count(1000)  # event ids are unique across the database, not per chat
    try:
        await west.say("wboss", "/goal team 100000 month", channel="C-west")
        [button] = west.last_reply.buttons
        # East's leader sends the west button's command (a forwarded payload): no such goal in his team.
        refused = await east.say("boss", button.command)
        assert (
            refused.splitlines()[0]
            == "🔍 That goal is not set any more: it was removed. Send /goal to see the goals set now."
        )
        assert east.channel_posts() == [] and west.channel_posts("C-west") == []
        posted = await west.say("wboss", button.command, channel="C-west")
        assert posted == "📣 Posted to the team channel: Team goal this month (¥0/¥100,000)"
        assert len(west.channel_posts("C-west")) == 1 and east.channel_posts() == []
    finally:
        await east.app.close()


async def test_a_goal_whose_period_is_over_is_not_posted(console):
    await console.type("boss", "/goal team 50000 today")
    console.app.clock.set(MONDAY_10.replace(day=24))
    shown = await console.type("boss", "/1")  # yesterday's button
    assert shown[0] == (
        "⌛ That goal's period is over, so it is not posted. Send /goal to see the goals set now."
    )
    assert not any(line.startswith("┌─") for line in shown)

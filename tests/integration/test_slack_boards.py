"""The day's 小组PK board on Slack: one message, edited with chat.update as deals arrive.

The fake Slack keeps each channel's messages and checks chat.update as Slack does (the channel id and ts of
a message it has, the bot's own). Team east: Wolves (Alice U0002), Tigers (Bob U0003, Carol U0004); the
leader is Boss (U0001). Monday 2026-11-23 in Shanghai.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import select

from bot.clock import FixedClock
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text
from bot.ports import MessageGone
from bot.storage.orm import OutboxRow
from tests.fakes.slack import FakeSlack, command_form, encode_form, message_text
from tests.fakes.slack_bot import APP_TOKEN, CHANNEL, MONDAY_10, TEAM, SlackBot, slack_bot, workspace

BOARD = "Group competition “Sprint”"


@pytest_asyncio.fixture
async def slack(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url) as bot:
        yield bot


def at(bot: SlackBot, hour: int, minute: int) -> None:
    clock = bot.app.clock
    assert isinstance(clock, FixedClock)
    clock.set(MONDAY_10.replace(hour=hour, minute=minute))


async def deal(
    bot: SlackBot, user: str, amount: str, hour: int, minute: int, *, deliver: bool = True
) -> None:
    """`user` types /deal; with `deliver` off, the deal is recorded and announced into the outbox, and
    nothing is sent yet."""
    at(bot, hour, minute)
    if deliver:
        await bot.command(user, f"/deal {amount}")
        return
    form = command_form(TEAM, user, CHANNEL, "/deal", amount, bot.fake.response_url(bot.fake_url))
    response = await bot.post(encode_form(form), "application/x-www-form-urlencoded")
    assert response.status_code == 200, response.text
    await bot.adapter.wait_idle()
    await bot.app.jobs.drain()


def shown(bot: SlackBot) -> list[str]:
    """What the channel shows now, message by message."""
    return [message_text(m) for m in bot.fake.channel_messages(CHANNEL)]


FINAL_BOARD = """⚔️ Group competition “Sprint”: the order changed
⚔️ Group competition “Sprint”: the order changed
• *Wolves* passed Tigers and took the lead! 👑
*Standings* (by total amount)
• 🥇 *Wolves* ¥11,000 · 2 deals · ¥5,500 per person
• 🥈 *Tigers* ¥9,000 · 2 deals · ¥4,500 per person · ¥2,000 behind the leader
⏳ 3 days left, today included. Go! 🚀"""


def boards_shown(bot: SlackBot) -> list[str]:
    return [text for text in shown(bot) if BOARD in text]


POSTED = ("chat.postMessage", None)


def board_ts(bot: SlackBot) -> str:
    """The ts of the one board message the channel shows."""
    [ts] = [
        ts
        for (channel, ts), m in bot.fake.messages.items()
        if channel == CHANNEL and BOARD in message_text(m)
    ]
    return ts


def board_calls(bot: SlackBot) -> list[tuple[str, str | None]]:
    """Each accepted post or edit of the board: (method, the ts it edited)."""
    return [
        (c.method, c.args.get("ts"))
        for c in bot.fake.calls
        if c.ok and c.method in ("chat.postMessage", "chat.update") and BOARD in message_text(c.args)
    ]


async def start_sprint(bot: SlackBot) -> None:
    [started] = await bot.command("U0001", "/team pk start Sprint 2026-11-23..2026-11-25 Wolves Tigers")
    assert "Sprint" in started


async def test_a_pk_day_is_one_board_message_edited_as_deals_arrive(slack: SlackBot) -> None:
    await start_sprint(slack)
    await deal(slack, "U0002", "5000", 10, 1)  # the board is posted with the day's first PK deal
    await deal(slack, "U0003", "8000", 10, 2)  # Tigers take the lead
    await deal(slack, "U0004", "1000", 10, 15)
    await deal(slack, "U0002", "6000", 10, 16)  # Wolves back in front
    [posted] = [p for p in slack.channel_posts() if BOARD in message_text(p)]
    ts = board_ts(slack)
    assert board_calls(slack) == [POSTED] + [("chat.update", ts)] * 3
    assert boards_shown(slack) == [FINAL_BOARD]
    assert "Wolves* ¥5,000 · 1 deal" in message_text(posted)  # as first posted
    # the moments that matter are still posts of their own: each overtake on today's boards
    rank_posts = [t.splitlines()[0] for t in shown(slack) if "Leaderboard update" in t]
    assert rank_posts == [
        "📈 Leaderboard update · Today · people",
        "📈 Leaderboard update · Today · groups",
        "📈 Leaderboard update · Today · people",
        "📈 Leaderboard update · Today · groups",
    ]
    assert len([t for t in shown(slack) if t.startswith("🎉 New deal")]) == 4


async def test_a_restart_between_deals_still_edits_the_same_message(engine, database_url, tmp_path) -> None:
    fake = FakeSlack([workspace()], app_token=APP_TOKEN)
    async with slack_bot(tmp_path, database_url, fake=fake) as bot:
        await start_sprint(bot)
        await deal(bot, "U0002", "5000", 10, 1)
        await deal(bot, "U0003", "8000", 10, 2)
    async with slack_bot(tmp_path, database_url, fake=fake) as bot:  # a new process, same database
        await deal(bot, "U0004", "1000", 10, 15)
        await deal(bot, "U0002", "6000", 10, 16)
        assert board_calls(bot) == [POSTED] + [("chat.update", board_ts(bot))] * 3
        assert boards_shown(bot) == [FINAL_BOARD]


async def test_a_deleted_board_is_posted_anew_and_edited_from_then_on(slack: SlackBot) -> None:
    await start_sprint(slack)
    await deal(slack, "U0002", "5000", 10, 1)
    ts = board_ts(slack)
    slack.fake.delete_message(CHANNEL, ts)  # someone tidies the channel
    await deal(slack, "U0003", "8000", 10, 2)
    await deal(slack, "U0004", "1000", 10, 15)
    await deal(slack, "U0002", "6000", 10, 16)
    [refused] = [c for c in slack.fake.attempts("chat.update") if not c.ok]
    assert refused.error == "message_not_found" and refused.args["ts"] == ts
    assert board_calls(slack) == [POSTED, POSTED] + [("chat.update", board_ts(slack))] * 2
    assert boards_shown(slack) == [FINAL_BOARD]


async def test_only_the_bots_own_message_in_its_channel_can_be_edited(slack: SlackBot) -> None:
    """The fake answers as Slack: another person's message, or a ts the channel never had."""
    to = ChannelRef("slack", TEAM, CHANNEL, "group")
    theirs = slack.fake.post_as(TEAM, "U0002", CHANNEL, "my own note")
    board = FINAL_BOARD  # any text
    for ts, error in ((theirs, "cant_update_message"), ("1699999999.000100", "message_not_found")):
        try:
            await slack.adapter.edit(to, ts, _message(board))
        except MessageGone as gone:
            assert gone.reason == f"slack chat.update: {error}"
        else:
            raise AssertionError(f"{ts} was edited")
    assert shown(slack) == ["my own note"]


async def test_deals_queued_together_send_the_board_once_with_the_newest_state(slack: SlackBot) -> None:
    await start_sprint(slack)
    await deal(slack, "U0002", "5000", 10, 1)
    for user, amount, minute in (("U0003", "8000", 2), ("U0004", "1000", 15), ("U0002", "6000", 16)):
        await deal(slack, user, amount, 10, minute, deliver=False)  # Slack was slow: all three wait
    await slack.settle()
    ts = board_ts(slack)
    assert board_calls(slack) == [POSTED, ("chat.update", ts)]
    assert boards_shown(slack) == [FINAL_BOARD]
    async with slack.app.sessionmaker() as session:
        states = list(
            await session.execute(
                select(OutboxRow.status, OutboxRow.message_id)
                .where(OutboxRow.board_key.like("pk:%"))
                .order_by(OutboxRow.id)
            )
        )
    assert [tuple(s) for s in states] == [("sent", ts), ("folded", None), ("folded", None), ("sent", ts)]


def _message(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)),), text)


async def test_an_undone_deal_leaves_the_board(slack: SlackBot) -> None:
    await start_sprint(slack)
    await deal(slack, "U0002", "5000", 10, 1)
    await deal(slack, "U0003", "8000", 10, 2)
    at(slack, 10, 5)
    [undone] = await slack.command("U0003", "/deal undo")
    assert "8,000" in undone
    assert board_calls(slack) == [POSTED] + [("chat.update", board_ts(slack))] * 2
    assert boards_shown(slack) == [
        """⚔️ Group competition “Sprint”: standings
⚔️ Group competition “Sprint”: standings
*Standings* (by total amount)
• 🥇 *Wolves* ¥5,000 · 1 deal · ¥2,500 per person
• 🥈 *Tigers* ¥0 · 0 deals · ¥0 per person · ¥5,000 behind the leader
⏳ 3 days left, today included. Go! 🚀"""
    ]


LEADERBOARD = "Today's leaderboard"


def leaderboard_calls(bot: SlackBot) -> list[tuple[str, str | None]]:
    return [
        (c.method, c.args.get("ts"))
        for c in bot.fake.calls
        if c.ok and c.method in ("chat.postMessage", "chat.update") and LEADERBOARD in message_text(c.args)
    ]


async def test_the_days_leaderboard_is_one_message_edited_as_deals_arrive(slack: SlackBot) -> None:
    await deal(slack, "U0002", "5000", 10, 1)
    await deal(slack, "U0003", "8000", 10, 2)
    await deal(slack, "U0004", "1000", 10, 15)
    [(channel, ts)] = [k for k, m in slack.fake.messages.items() if LEADERBOARD in message_text(m)]
    assert leaderboard_calls(slack) == [POSTED, ("chat.update", ts), ("chat.update", ts)]
    assert [t for t in shown(slack) if LEADERBOARD in t] == [
        """📊 Today's leaderboard · team ¥14,000
📊 Today's leaderboard
• 🥇 Bob ¥8,000 · 1 deal
• 🥈 Alice ¥5,000 · 1 deal
• 🥉 Carol ¥1,000 · 1 deal
*Groups*
• 🥇 Tigers ¥9,000 · 2 deals
• 🥈 Wolves ¥5,000 · 1 deal
💰 Team today: ¥14,000 · 3 deals"""
    ]
    # Bob passing Alice is still a post of its own, with its mention
    assert [t.splitlines()[0] for t in shown(slack) if "Leaderboard update" in t] == [
        "📈 Leaderboard update · Today · people",
        "📈 Leaderboard update · Today · groups",
    ]
    at(slack, 10, 20)
    await slack.command("U0003", "/deal undo")  # the board no longer counts Bob's deal
    assert leaderboard_calls(slack)[-1] == ("chat.update", ts)
    assert "• 🥇 Alice ¥5,000 · 1 deal\n• 🥈 Carol ¥1,000 · 1 deal" in message_text(
        slack.fake.messages[(channel, ts)]
    )

"""Buttons where a command would do, on Slack (issue 22 item 2): the /deal answer's Undo, the check-in
reminder's "Check in now" and "On leave today", a leader's "Post to channel" under a goal.

Each click is a `block_actions` payload as Slack sends it — signed, from the person who clicked, in the
conversation the button was in (an ephemeral answer in the team channel carries `is_ephemeral` and its own
response_url) — into the bot's HTTP server, with the real bolt and slack_sdk and a fake Slack on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select

from bot.services import directory
from bot.services.posts import run_post
from bot.storage.orm import Checkin, Deal, Leave, Member, ProcessedEvent
from tests.fakes.slack import block_actions, interactive_body, message_text, signed_headers
from tests.fakes.slack_bot import CHANNEL, MONDAY_10, SECRET, TEAM, SlackBot, slack_bot

FORM = "application/x-www-form-urlencoded"


@pytest_asyncio.fixture
async def slack(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url) as bot:
        yield bot


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    blocks = message.get("blocks") or []
    return [(e["text"]["text"], e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]]


def shown(message: dict[str, Any]) -> str:
    """What a message's blocks show (its `text` is only the notification's), as Slack got it."""
    return message_text({**message, "text": ""})[1:]


def last_answer(bot: SlackBot) -> dict[str, Any]:
    """The last answer posted to a response_url, as Slack got it (blocks and text)."""
    return bot.fake.responses[-1]["body"]


def click_on_answer(bot: SlackBot, user: str, answer: dict[str, Any], button: int = 0) -> dict[str, Any]:
    """The block_actions Slack sends when `user` clicks a button of an ephemeral answer in the team
    channel: the container says ephemeral, and the payload has a response_url of its own."""
    trigger = bot.fake.issue_trigger(TEAM, user)
    payload = block_actions(TEAM, user, CHANNEL, {**answer, "channel": CHANNEL}, button, trigger)
    payload["container"]["is_ephemeral"] = True
    payload["response_url"] = bot.fake.response_url(bot.fake_url)
    return payload


async def send(bot: SlackBot, payload: dict[str, Any]) -> list[str]:
    """Slack delivers the click (signed); what the clicker was answered at the payload's response_url."""
    response = await bot.post(interactive_body(payload), FORM)
    assert response.status_code == 200 and response.content == b""
    await bot.settle()
    return [shown(a) for a in bot.fake.answers_at(payload["response_url"])]


def channel_texts(bot: SlackBot) -> list[str]:
    return [shown(p) for p in bot.channel_posts()]


async def deals(bot: SlackBot) -> list[tuple[int, bool]]:
    async with bot.app.sessionmaker() as session:
        rows = await session.execute(select(Deal.id, Deal.voided_at).order_by(Deal.id))
        return [(deal_id, voided is not None) for deal_id, voided in rows]


# ----- /deal → Undo ----------------------------------------------------------------------------------


async def test_the_deal_answer_carries_undo_and_a_click_undoes_it_once(slack):
    await slack.command("U0002", "/deal 12800 Acme")
    answer = last_answer(slack)
    [(deal_id, _)] = await deals(slack)
    assert buttons(answer) == [("↩️ Undo", f"/deal undo {deal_id}")]
    assert shown(answer) == (
        f"✅ Deal *#{deal_id} ¥12,800* logged (Acme), and announced in the team channel 🎉\n"
        f"Made a mistake? Send /deal undo {deal_id} (within 24 hours)\n↩️ Undo"
    )
    # The 喜报 itself carries no button: everyone sees a channel post, only the author may undo.
    announced = [p for p in slack.channel_posts() if "New deal" in message_text(p)]
    assert len(announced) == 1 and buttons(announced[0]) == []
    posts = len(slack.channel_posts())

    click = click_on_answer(slack, "U0002", answer)
    told = await send(slack, click)
    assert told == [f"↩️ Deal #{deal_id} ¥12,800 (Alice) has been undone; rankings and goals are corrected"]
    assert await deals(slack) == [(deal_id, True)]
    assert channel_texts(slack)[posts:] == told  # the correction in the channel

    # The same payload again (a double click delivered twice, a retry) acts once and says nothing more —
    # also in a process that has not seen it (the event id is kept in the database).
    assert await send(slack, click) == told
    slack.adapter._taken.pop(click["trigger_id"])
    assert await send(slack, click) == told
    assert len(slack.channel_posts()) == posts + 1
    async with slack.app.sessionmaker() as session:
        seen = await session.scalar(
            select(func.count()).select_from(ProcessedEvent).where(ProcessedEvent.event_id.like("act:%"))
        )
    assert seen == 1
    # A second, separate click on the same button: a clear line, nothing changed.
    again = await send(slack, click_on_answer(slack, "U0002", answer))
    assert again == [
        "ℹ️ That deal has already been undone; nothing more to do.\n"
        "Usage: /deal undo [ID]\nExample: /deal undo 12"
    ]
    assert len(slack.channel_posts()) == posts + 1


async def test_someone_elses_undo_click_is_refused_and_the_authors_after_24_hours_too(slack):
    await slack.command("U0002", "/deal 12800")
    answer = last_answer(slack)
    [(deal_id, _)] = await deals(slack)
    posts = len(slack.channel_posts())

    # Bob (a member) clicks Alice's button (a forwarded payload, a shared screen): refused as Bob.
    refused = await send(slack, click_on_answer(slack, "U0003", answer))
    assert refused == [
        "🔒 Only team leaders can use /deal undo. Ask your team leader if you need it done.\n"
        "Usage: /deal undo [ID]\nExample: /deal undo 12"
    ]
    assert await deals(slack) == [(deal_id, False)]
    assert len(slack.channel_posts()) == posts

    # Alice herself, 25 hours later: too late to undo her own deal.
    slack.app.clock.set(MONDAY_10 + timedelta(hours=25))
    late = await send(slack, click_on_answer(slack, "U0002", answer))
    assert late == [
        "⌛ That deal is more than 24 hours old, so you can't undo it yourself. Please ask a team leader.\n"
        "Usage: /deal undo [ID]\nExample: /deal undo 12"
    ]
    assert await deals(slack) == [(deal_id, False)] and len(slack.channel_posts()) == posts
    # The leader may still undo it, with the same button.
    done = await send(slack, click_on_answer(slack, "U0001", answer))
    assert "has been undone" in done[0]
    assert await deals(slack) == [(deal_id, True)]


# ----- the check-in reminder → Check in now, On leave today -----------------------------------------


async def send_post(bot: SlackBot, kind: str) -> None:
    async with bot.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        await run_post(uow, bot.app.renderer, team, kind, bot.app.clock.now())
        await uow.commit()
    await bot.settle()


async def test_the_reminder_buttons_open_the_check_in_and_book_today_off(slack):
    await send_post(slack, "checkin")
    await send_post(slack, "reminder")
    reminder = slack.fake.posts(slack.dm_channel("U0003"))[-1]
    assert "your check-in still has" in message_text(reminder)
    assert buttons(reminder) == [("📝 Check in now", "/checkin"), ("🏖 On leave today", "/leave 2026-11-23")]

    # Alice: "Check in now" opens the check-in form with the click's trigger_id.
    alice = slack.fake.posts(slack.dm_channel("U0002"))[-1]
    await slack.click("U0002", alice, 0)
    [opened] = slack.fake.succeeded("views.open")
    assert opened.args["trigger_id"] and list(slack.fake.views.values())[-1]["user"] == "U0002"

    # Bob: "On leave today" books today off, answered in his DM; no more reminders for him today.
    dms = len(slack.fake.posts(slack.dm_channel("U0003")))
    await slack.click("U0003", reminder, 1)
    told = [shown(p) for p in slack.fake.posts(slack.dm_channel("U0003"))[dms:]]
    assert told == [
        "🏖 Leave booked: *Nov 23* (1 workday)\n"
        "While on leave there are no check-in prompts, it doesn't count as missing, and the streak is kept. "
        "Back early? Send /leave cancel."
    ]
    async with slack.app.sessionmaker() as session:
        leave = (
            await session.execute(
                select(Member.user_id, Leave.start_day, Leave.end_day).join(
                    Member, Member.id == Leave.member_id
                )
            )
        ).all()
    assert leave == [("U0003", MONDAY_10.date(), MONDAY_10.date())]
    # A second click (its own payload): the same answer, still one leave.
    await slack.click("U0003", reminder, 1)
    assert [shown(p) for p in slack.fake.posts(slack.dm_channel("U0003"))[dms + 1 :]] == told
    async with slack.app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Leave)) == 1
    dms += 1
    async with slack.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        await run_post(uow, slack.app.renderer, team, "reminder", slack.app.clock.now(), number=2, force=True)
        await uow.commit()
    await slack.settle()
    assert len(slack.fake.posts(slack.dm_channel("U0003"))) == dms + 1  # nothing after the leave
    async with slack.app.sessionmaker() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Member.user_id, Checkin.status).join(Member, Member.id == Checkin.member_id)
                )
            ).all()
        )
    assert statuses["U0002"] == "open"  # the form is open, not yet sent

    # Carol clicks Monday's "On leave today" on Tuesday: the button books Monday, which is over — a clear
    # line, and no leave for Tuesday she did not ask for.
    carol = slack.fake.posts(slack.dm_channel("U0004"))[-1]
    slack.app.clock.set(MONDAY_10 + timedelta(days=1))
    before = len(slack.fake.posts(slack.dm_channel("U0004")))
    await slack.click("U0004", carol, 1)
    assert [shown(p) for p in slack.fake.posts(slack.dm_channel("U0004"))[before:]] == [
        "📆 The date “2026-11-23” is already over. "
        "Leave can only be booked from today on, e.g. /leave today.\n"
        "Usage: /leave [@member] [today|START..END] [reason] | /leave cancel [@member]\n"
        "Example: /leave 2026-11-23..2026-11-25 vacation"
    ]
    async with slack.app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Leave)) == 1  # Bob's only


# ----- a leader's goal → Post to channel ---------------------------------------------------------------


async def test_a_leaders_goal_is_posted_to_the_channel_once_and_a_member_is_refused(slack):
    await slack.command("U0001", "/goal team 300000 month")
    answer = last_answer(slack)
    [(label, command)] = buttons(answer)
    assert label == "📣 Post to channel" and command.startswith("/goal post ")
    posts = len(slack.channel_posts())

    # Bob (a member) clicks the leader's button: refused, nothing posted.
    refused = await send(slack, click_on_answer(slack, "U0003", answer))
    assert refused == [
        "🔒 Only group leads and team leaders can use /goal post. Ask your group lead if you need it done.\n"
        "Usage: /goal [team|group NAME|@member|me] AMOUNT|clear [deals] today|week|month|quarter"
        " | /goal post ID\nExample: /goal team 300000 month"
    ]
    # Alice leads a group, not the team: the team's goal is not hers to post either.
    refused = await send(slack, click_on_answer(slack, "U0002", answer))
    assert refused[0].startswith("🔒 Only team leaders can use /goal post.")
    # A click as the leader signed with another secret, or Bob's click turned into the leader's after
    # Slack signed it: 401.
    forged = interactive_body(click_on_answer(slack, "U0001", answer))
    bobs = interactive_body(click_on_answer(slack, "U0003", answer))
    for body, headers in (
        (forged, signed_headers("not-the-secret", forged)),
        (bobs.replace(b"U0003", b"U0001"), signed_headers(SECRET, bobs)),
    ):
        response = await slack.http.post(
            "/slack/events", content=body, headers={"Content-Type": FORM, **headers}
        )
        assert response.status_code == 401
    await slack.settle()
    assert len(slack.channel_posts()) == posts

    click = click_on_answer(slack, "U0001", answer)
    told = await send(slack, click)
    assert told == ["📣 Posted to the team channel: *Team goal this month* (¥0/¥300,000)"]
    [post] = slack.channel_posts()[posts:]
    assert buttons(post) == []
    assert shown(post) == (
        "🎯 Team goal this month: ¥300,000\n"
        "`░░░░░░░░░░` *0%*  ¥0/¥300,000\n"
        "⏱ *¥50,000* a day gets us there (6 workdays left). Let's go, team! 💪\n"
        "Shared by Boss · /goal shows every goal"
    )
    # The same payload twice acts once; a second click while nothing moved posts nothing either.
    assert await send(slack, click) == told
    again = await send(slack, click_on_answer(slack, "U0001", answer))
    assert again == [
        "📣 *Team goal this month* (¥0/¥300,000) is already in the team channel, and nothing has changed "
        "since. It can be posted again once it moves."
    ]
    assert len(slack.channel_posts()) == posts + 1

    # A deal moves it: the same button posts the new progress.
    await slack.command("U0003", "/deal 50000")
    posts = len(slack.channel_posts())
    moved = await send(slack, click_on_answer(slack, "U0001", answer))
    assert "(¥50,000/¥300,000)" in moved[0]
    [post] = slack.channel_posts()[posts:]
    assert "¥50,000/¥300,000" in message_text(post) and "*¥41,666.67* a day" in message_text(post)


async def test_a_group_lead_may_post_her_groups_goal_not_the_teams(slack):
    await slack.command("U0001", "/goal team 300000 month")
    await slack.command("U0002", "/goal group Wolves 100000 week")
    assert buttons(last_answer(slack))[0][0] == "📣 Post to channel"
    await slack.command("U0002", "/goal")
    listed = last_answer(slack)
    assert [label for label, _ in buttons(listed)] == ["📣 Post: Wolves goal this week"]
    posts = len(slack.channel_posts())
    told = await send(slack, click_on_answer(slack, "U0002", listed))
    assert told == ["📣 Posted to the team channel: *Wolves goal this week* (¥0/¥100,000)"]
    [post] = slack.channel_posts()[posts:]
    assert "Wolves goal this week: ¥100,000" in message_text(post) and "Shared by Alice" in message_text(post)
    # A member's /goal carries no button at all.
    await slack.command("U0003", "/goal")
    assert buttons(last_answer(slack)) == []

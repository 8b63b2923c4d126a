"""Slack in HTTP mode, end to end: signed requests into the bot's server, the real bolt and slack_sdk
inside, a fake Slack Web API on loopback recording what came out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.delivery.outbox import enqueue
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text
from bot.storage.orm import Checkin, Deal, Kudos, Leave, Member, OutboxRow, ProcessedEvent
from tests.fakes.slack import command_form, encode_form, message_text, signed_headers
from tests.fakes.slack_bot import CHANNEL, SECRET, TEAM, SlackBot, slack_bot

ACK_LIMIT = 3.0  # Slack's deadline for the HTTP answer


@pytest_asyncio.fixture
async def slack(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url) as bot:
        yield bot
    assert max(bot.ack_seconds, default=0.0) < ACK_LIMIT


async def count(bot: SlackBot, model, *where) -> int:
    async with bot.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.mark.slow
async def test_every_command_end_to_end(slack):
    help_text = await slack.command("U0001", "/help")
    assert all(f"/{name}" in help_text[0] for name in ("checkin", "deal", "kudos", "team"))

    team = await slack.command("U0001", "/team show")
    assert "East Sales" in team[0] and "Wolves" in team[0]

    goal = await slack.command("U0001", "/goal team 300000 month")
    assert "300,000" in goal[0]

    deal = await slack.command("U0002", "/deal 12800 Acme")
    assert "¥12,800" in deal[0] and "Acme" in deal[0]
    announcement = slack.channel_posts()[0]
    assert announcement["text"] == "🎉 New deal: Alice closed ¥12,800"  # the fallback text
    kinds = [b["type"] for b in announcement["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and "context" in kinds  # the goal's bar
    assert "<@U0002>" in message_text(announcement)  # a real mention of the person named
    fields = next(b["fields"] for b in announcement["blocks"] if "fields" in b)
    assert {"type": "mrkdwn", "text": "*Customer*\nAcme"} in fields

    goals = await slack.command("U0003", "/goal")
    assert "`░░░░░░░░░░` *4%*" in goals[0]  # 12,800 of 300,000, the bar drawn as text

    kudos = await slack.command("U0002", "/kudos <@U0003|bob> great call")
    assert "Bob" in kudos[0]
    post = message_text(slack.channel_posts()[-1])
    assert "<@U0002>" in post and "<@U0003>" in post and "great call" in post

    rank = await slack.command("U0003", "/rank")
    assert "Alice" in rank[0] and "¥12,800" in rank[0]

    recap = await slack.command("U0001", "/recap")
    assert "Recap" in recap[0] and "¥12,800" in recap[0]

    leave = await slack.command("U0004", "/leave today")
    assert "Leave booked" in leave[0]
    assert await count(slack, Leave) == 1

    checkin = await slack.command("U0002", "/checkin")
    assert checkin == []  # the command's trigger_id opened the check-in form instead (issue 22)
    assert [c.args["view"]["callback_id"] for c in slack.fake.succeeded("views.open")] == ["teambeat.form"]
    # Typed after @teambeat there is no trigger_id: the questions come by DM, as before.
    assert "direct message" in (await slack.mention("U0002", "checkin"))[0]
    assert slack.fake.succeeded("conversations.open")[0].args["users"] == "U0002"
    assert "Check-in 1/3" in slack.dms_to("U0002")[0]

    # Answers went to the speaker only: through response_url, never as channel posts.
    assert len(slack.fake.responses) == 9  # every command but /checkin, which opened the form
    assert all(r["body"]["response_type"] == "ephemeral" for r in slack.fake.responses)
    assert await count(slack, Deal) == 1 and await count(slack, Kudos) == 1


async def test_checkin_conversation_in_the_bots_dm(slack):
    first = await slack.dm("U0002", "checkin")
    assert "Check-in 1/3" in first[0] and "What did you get done yesterday?" in first[0]
    second = await slack.dm("U0002", "visited 3 clients & sent a quote")
    assert "Check-in 2/3" in second[0]
    retry = await slack.dm("U0002", "lots")
    assert "amount" in retry[0]  # not an amount: the same question again
    third = await slack.dm("U0002", "12.8k")
    assert "Check-in 3/3" in third[0]
    done = await slack.dm("U0002", "need a quote <@U0003>")
    assert "Check-in done!" in done[0]
    assert "visited 3 clients &amp; sent a quote" in done[0]  # the member's text, escaped
    assert "&lt;@U0003&gt;" in done[0] and "<@U0003>" not in done[0]
    # In the bot's own DM answers are plain messages, never ephemeral, and no DM had to be opened.
    assert slack.fake.ephemerals() == [] and slack.fake.responses == []
    assert slack.fake.attempts("conversations.open") == []
    async with slack.app.sessionmaker() as session:
        checkin = await session.scalar(select(Checkin))
    assert checkin.status == "done"


async def test_slash_command_in_the_bots_dm_is_answered_there(slack):
    answers = await slack.command("U0002", "/checkin skip", channel=slack.dm_channel("U0002"))
    assert answers == []  # nothing through response_url …
    assert "skipped" in slack.dms_to("U0002")[0]  # … a plain message in the DM
    # A form can be opened (the command's trigger_id): /checkin alone opens it, and nothing is posted.
    assert await slack.command("U0002", "/checkin", channel=slack.dm_channel("U0002")) == []
    assert len(slack.fake.succeeded("views.open")) == 1 and len(slack.dms_to("U0002")) == 1


async def test_kudos_reason_with_broadcasts_and_mentions_stays_literal(slack):
    reason = "thanks <!channel> <@U999> &lt;!here&gt; <https://evil.example|click>"
    answer = await slack.command("U0002", f"/kudos <@U0003|bob> {reason}")
    post = slack.channel_posts()[-1]
    raw = json.dumps(post, ensure_ascii=False)
    for forbidden in ("<!channel>", "<!here>", "<@U999>", "<https://evil"):
        assert forbidden not in raw and forbidden not in answer[0]
    shown = message_text(post)
    assert "&lt;!channel&gt;" in shown and "&lt;@U999&gt;" in shown and "&lt;!here&gt;" in shown
    assert "<@U0003>" in shown and "<@U0002>" in shown  # the real mentions remain
    async with slack.app.sessionmaker() as session:
        kudos = await session.scalar(select(Kudos))
    # The link is one Slack made: kept as what the person saw, its label (platforms.md).
    assert kudos.reason == "thanks <!channel> <@U999> <!here> click"


async def test_forged_or_stale_requests_get_401_and_nothing_happens(slack):
    url = slack.fake.response_url(slack.fake_url)
    body = encode_form(command_form(TEAM, "U0002", CHANNEL, "/deal", "5000", url))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    attempts = {  # headers made just before each request: "305 s ahead" is still past the window then
        "bad signature": lambda: signed_headers("not-the-secret", body),
        "301 s old": lambda: signed_headers(SECRET, body, int(time.time()) - 301),
        "305 s ahead": lambda: signed_headers(SECRET, body, int(time.time()) + 305),
        "no headers": lambda: {},
        "garbage timestamp": lambda: {**signed_headers(SECRET, body), "X-Slack-Request-Timestamp": "soon"},
    }
    for why, headers in attempts.items():
        response = await slack.http.post("/slack/events", content=body, headers={**form, **headers()})
        assert response.status_code == 401, why
        assert "error" in response.json()
    tampered = body.replace(b"5000", b"9000")
    response = await slack.http.post(
        "/slack/events", content=tampered, headers={**form, **signed_headers(SECRET, body)}
    )
    assert response.status_code == 401
    await slack.settle()
    assert slack.fake.calls == [] and slack.fake.responses == []
    assert await count(slack, Deal) == 0 and await count(slack, ProcessedEvent) == 0
    # The window is 300 s: a request 290 s old is still Slack's.
    old = int(time.time()) - 290
    response = await slack.http.post(
        "/slack/events", content=body, headers={**form, **signed_headers(SECRET, body, old)}
    )
    assert response.status_code == 200
    await slack.settle()
    assert await count(slack, Deal) == 1


async def test_url_verification_and_malformed_bodies(slack):
    challenge = json.dumps({"type": "url_verification", "token": "x", "challenge": "c-123"}).encode()
    response = await slack.post(challenge, "application/json")
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe{}"):
        response = await slack.post(body, "application/json")
        assert response.status_code == 400, body
    unsigned = await slack.http.post("/slack/events", content=b"{not json")
    assert unsigned.status_code == 401
    health = await slack.http.get("/healthz")
    assert health.json()["adapters"]["slack"] == {"ok": True, "mode": "http"}


async def test_a_retried_event_is_handled_once(slack):
    event = {
        "type": "app_mention",
        "user": "U0002",
        "text": "<@UBOT> deal 5000 Globex",
        "ts": "1700000000.000200",
        "channel": CHANNEL,
    }
    first = await slack.event(event, event_id="Ev0RETRY01")
    retry = await slack.event(
        event, event_id="Ev0RETRY01", **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert first.status_code == retry.status_code == 200
    await slack.settle()
    assert await count(slack, Deal) == 1
    assert len(slack.fake.ephemerals("U0002")) == 1
    assert await count(slack, ProcessedEvent, ProcessedEvent.event_id == "Ev0RETRY01") == 1


async def test_mentions_in_a_channel_work_in_chinese_and_answer_privately(slack):
    answer = await slack.mention("U0002", "成交 5000 华为")
    assert "¥5,000" in answer[0]
    assert slack.fake.ephemerals("U0002")[0]["channel"] == CHANNEL
    board = await slack.mention("U0003", "排行 today")
    assert "Alice" in board[0]
    # Messages from bots, edits and other people's chatter are not commands.
    for event in (
        {"type": "message", "channel_type": "im", "user": "U0002", "bot_id": "B1", "text": "deal 1"},
        {"type": "message", "channel_type": "im", "user": "U0002", "subtype": "message_changed"},
        {"type": "message", "channel_type": "channel", "user": "U0002", "text": "deal 1"},
        {"type": "reaction_added", "user": "U0002", "reaction": "tada"},
    ):
        response = await slack.event({**event, "channel": "D0002", "ts": "1.2"})
        assert response.status_code == 200
    await slack.settle()
    assert await count(slack, Deal) == 1


async def test_first_speaker_joins_under_their_slack_name(slack):
    slack.fake.workspaces[TEAM].add_user("U0042", "Erin")
    await slack.command("U0042", "/rank")
    await slack.command("U0042", "/deal 800")
    async with slack.app.sessionmaker() as session:
        erin = await session.scalar(select(Member).where(Member.user_id == "U0042"))
    assert erin is not None and erin.name == "Erin" and erin.role == "member"
    assert len(slack.fake.attempts("users.info")) == 1  # asked once, then cached
    profile = await slack.adapter.resolve_user(erin_ref("U0042"))
    assert profile.name == "Erin" and profile.timezone == "Asia/Shanghai"


def erin_ref(user_id: str):
    from bot.messages import UserRef

    return UserRef("slack", TEAM, user_id)


async def test_answers_fall_back_to_ephemeral_when_response_url_fails(slack):
    slack.fake.fail_next("response_url", status=404, error="expired_url")
    answer = await slack.command("U0003", "/rank")
    assert slack.fake.responses == []
    assert "Leaderboard" in answer[0]
    assert slack.fake.ephemerals("U0003")[0]["channel"] == CHANNEL


async def test_the_ack_comes_before_the_work(engine, database_url, tmp_path):
    release = asyncio.Event()

    def slow(app):
        async def sink(message):
            await release.wait()
            return await app.dispatcher.handle(message)

        return sink

    async with slack_bot(tmp_path, database_url, sink=slow) as bot:
        url = bot.fake.response_url(bot.fake_url)
        body = encode_form(command_form(TEAM, "U0002", CHANNEL, "/deal", "700", url))
        response = await bot.post(body, "application/x-www-form-urlencoded")
        assert response.status_code == 200 and bot.ack_seconds[-1] < ACK_LIMIT
        assert bot.fake.answers_at(url) == []  # acknowledged, the work still waiting
        release.set()
        await bot.settle()
        assert "¥700" in message_text(bot.fake.answers_at(url)[0])


async def test_channel_posts_go_through_the_outbox_and_a_429_is_retried_later(slack):
    slack.fake.fail_next("chat.postMessage", retry_after=7)
    url = slack.fake.response_url(slack.fake_url)
    body = encode_form(command_form(TEAM, "U0002", CHANNEL, "/deal", "12800 Acme", url))
    await slack.post(body, "application/x-www-form-urlencoded")
    await slack.settle(let_time_pass=False)
    assert slack.channel_posts() == []
    async with slack.app.sessionmaker() as session:
        rows = list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
    assert [r.status for r in rows] == ["pending", "pending", "pending"]
    assert "ratelimited" in rows[0].last_error and rows[0].attempts == 1
    waited = rows[0].next_attempt_at.replace(tzinfo=None) - slack.app.clock.now().replace(tzinfo=None)
    assert waited >= timedelta(seconds=7)  # Retry-After honoured

    slack.app.clock.advance(timedelta(seconds=8))
    await slack.settle()
    posts = slack.channel_posts()
    assert [p["text"] for p in posts] == [
        "🎉 New deal: Alice closed ¥12,800",
        "🚀 First deal of the day: ¥12,800",
        "📊 Today's leaderboard · team ¥12,800",  # the day's board, edited by later deals
    ]
    assert posts[0]["blocks"][0]["type"] == "header"
    assert [c.status for c in slack.fake.attempts("chat.postMessage")] == [429, 200, 200, 200]
    errors = slack.app.metrics.exposition().decode()
    assert 'teambeat_platform_errors_total{kind="transient",platform="slack"} 1.0' in errors


@pytest.mark.slow
async def test_an_answer_waits_out_a_429_inside_slack_sdk(slack):
    # An answer has no outbox behind it: slack_sdk's retry handler honours Retry-After and tries again,
    # and a rate limit waited out is not a platform error.
    slack.fake.fail_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    answer = await slack.dm("U0002", "help")
    assert answer and "/deal" in answer[0]
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in slack.fake.attempts("chat.postMessage")] == [429, 200]
    assert "teambeat_platform_errors_total{" not in slack.app.metrics.exposition().decode()


async def test_only_answers_get_slack_sdks_retries(slack):
    def retries(client) -> set[str]:
        return {type(handler).__name__ for handler in client.retry_handlers}

    answers = retries(slack.adapter.web.client_for_token("xoxb-1", answer=True))
    assert {"AsyncConnectionErrorRetryHandler", "AsyncServerErrorRetryHandler"} <= answers
    assert any("RateLimit" in name for name in answers)
    # The delivery worker's client keeps the SDK's default: the outbox retries 429s and 5xx itself.
    assert retries(slack.adapter.web.client_for_token("xoxb-1")) == {"AsyncConnectionErrorRetryHandler"}


async def test_a_long_message_is_split_and_a_half_sent_one_resumes(slack):
    words = " ".join(f"line{i} & <more>" for i in range(400))
    message = OutgoingMessage(
        tuple(Paragraph((Text(f"[p{n}] {words}"),)) for n in range(60)), "a very long post"
    )
    to = ChannelRef("slack", TEAM, CHANNEL, "group")
    slack.fake.fail_next("chat.postMessage", status=500, error="internal_error", retry_after=None, after=1)
    async with slack.app.uow_factory() as uow:
        await enqueue(uow.session, channel=to, message=message, dedupe_key="long", now=slack.app.clock.now())
        await uow.commit()
    await slack.worker.drain()
    assert len(slack.channel_posts()) == 1  # the first part went out, the second failed
    async with slack.app.sessionmaker() as session:
        row = await session.scalar(select(OutboxRow))
    assert row is not None and row.status == "pending" and "internal_error" in (row.last_error or "")
    assert row.parts_sent == 1  # recorded on the row, for whichever worker retries it
    slack.app.clock.advance(timedelta(minutes=1))
    await slack.worker.drain()  # the outbox's retry: only what is missing
    posts = slack.channel_posts()
    async with slack.app.sessionmaker() as session:
        row = await session.scalar(select(OutboxRow))
    assert row is not None and row.status == "sent" and row.attempts == 2
    assert len(posts) >= 3 and posts[0]["text"] == "a very long post"
    shown = "\n".join(message_text({"blocks": p["blocks"]}) for p in posts)
    for n in range(60):  # every paragraph, every word: nothing cut off
        assert shown.count(f"[p{n}] line0 &amp; &lt;more&gt;") == 1
    assert shown.count("line399 &amp; &lt;more&gt;") == 60
    assert sum(len(p["blocks"]) for p in posts) > 100

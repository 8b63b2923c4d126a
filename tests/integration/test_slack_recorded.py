"""Slack payloads as Slack delivers them — the shapes recorded in bolt-python's scenario tests and Slack's
docs (tests/fixtures/slack/, each file naming its source) — replayed through the bot's own HTTP door,
signed with the test secret, into the real bolt, adapter and dispatcher; what came out is what the fake
Slack Web API recorded. Also hostile timestamps and signatures at the Slack door."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest_asyncio
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from adapters.slack.inbound import clean_text, from_event
from bot.storage.orm import Deal, Kudos, ProcessedEvent
from tests.fakes.slack import encode_form, message_text, signed_headers
from tests.fakes.slack_bot import BOT_USER, CHANNEL, SECRET, TEAM, SlackBot, slack_bot

FIXTURES = Path(__file__).parents[1] / "fixtures" / "slack"
NOBODYS_CHANNEL = "C0999"  # a channel in the workspace that no team owns


@pytest_asyncio.fixture
async def slack(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url) as bot:
        yield bot


def recorded(name: str, ids: dict[str, str]) -> dict[str, Any]:
    """A fixture file, its Slack ids (`T111`, `W222`, …) renamed to the test workspace's."""
    data = json.loads((FIXTURES / name).read_text("utf-8"))
    assert data["source"] and data["note"]
    text = json.dumps({k: v for k, v in data.items() if k in ("payload", "form")})
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, ids)) + r")\b")
    return json.loads(pattern.sub(lambda m: ids[m.group(0)], text))


def recorded_event(name: str, ids: dict[str, str], **event: Any) -> dict[str, Any]:
    """A recorded event callback with some fields of its event changed, under a new event id (Slack's
    retries of one event share its id, and these are new events)."""
    payload = recorded(name, ids)["payload"]
    payload["event"] |= event
    payload["event_id"] = f"Ev{uuid.uuid4().hex[:10].upper()}"
    return payload


async def replay(slack: SlackBot, payload: dict[str, Any]) -> None:
    response = await slack.post(json.dumps(payload).encode(), "application/json")
    assert response.status_code == 200, response.text
    await slack.settle()


async def slash(slack: SlackBot, user: str, line: str, channel: str = CHANNEL) -> list[str]:
    """bolt's recorded slash command, typed by `user` in `channel`: what they were answered."""
    form = dict(
        parse_qsl(recorded("slash_command.json", {"T111": TEAM, "W111": user, "C111": channel})["form"])
    )
    command, _, text = line.partition(" ")
    url = slack.fake.response_url(slack.fake_url)
    form |= {"command": command, "text": text, "response_url": url, "trigger_id": uuid.uuid4().hex}
    response = await slack.post(encode_form(form), "application/x-www-form-urlencoded")
    assert response.status_code == 200, response.text
    await slack.settle()
    return [message_text(answer) for answer in slack.fake.answers_at(url)]


def said_anything(slack: SlackBot) -> list[str]:
    """The Web API calls made, but bolt's auth.test (how it learns its bot user id)."""
    return [call.method for call in slack.fake.calls if call.method != "auth.test"]


async def count(slack: SlackBot, model, *where) -> int:
    async with slack.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# ----- people talking: files, threads ----------------------------------------------------------------------


async def test_a_file_shared_in_the_bots_dm_with_words_is_answered_like_any_message(slack):
    dm = slack.dm_channel("U0002")
    ids = {"T111": TEAM, "U111": "U0002", "U222": BOT_USER, "C111": dm}
    event = recorded_event("message_file_share.json", ids, channel_type="im", text="deal 5000 Acme")
    assert event["event"]["subtype"] == "file_share" and event["event"]["files"]
    await replay(slack, event)
    [answer] = slack.dms_to("U0002")
    assert "¥5,000" in answer and "Acme" in answer
    assert await count(slack, Deal) == 1


async def test_a_reply_in_a_thread_of_the_bots_dm_is_answered_in_that_thread(slack):
    dm = slack.dm_channel("U0002")
    ids = {"T111": TEAM, "W222": "U0002", "W111": BOT_USER, "D111": dm}
    await replay(slack, recorded_event("message_im_thread_reply.json", ids, text="rank"))
    [post] = slack.fake.posts(dm)
    assert post["thread_ts"] == "1726133698.626339"
    assert "Leaderboard" in message_text(post) or "leaderboard" in message_text(post).lower()


async def test_a_thread_reply_also_sent_to_the_dm_is_answered_in_the_thread(slack):
    dm = slack.dm_channel("U0002")
    ids = {"T111": TEAM, "U111": "U0002", "W111": BOT_USER, "C111": dm}
    event = recorded_event("message_thread_broadcast.json", ids, channel_type="im", text="help")
    await replay(slack, event)
    [post] = slack.fake.posts(dm)
    assert post["thread_ts"] == "1633663824.000500" and "/deal" in message_text(post)


async def test_an_edit_in_the_bots_dm_is_not_a_message(slack):
    dm = slack.dm_channel("U0002")
    ids = {"T111": TEAM, "U222": "U0002", "W111": BOT_USER, "D111": dm}
    await replay(slack, recorded_event("message_changed_im.json", ids))
    assert said_anything(slack) == [] and await count(slack, ProcessedEvent) == 0


def test_only_a_file_share_or_a_broadcast_reply_among_subtypes_is_someone_talking():
    ids = {"T111": TEAM, "U111": "U0002", "U222": BOT_USER, "C111": "D0002"}
    event = recorded_event("message_file_share.json", ids, channel_type="im")
    now = datetime.now(UTC)
    assert from_event(event, bot_user_id=BOT_USER, now=now, display_name="Alice") is not None
    for subtype in ("message_changed", "bot_message", "channel_join", ["file_share"], {"a": 1}, 7):
        event["event"]["subtype"] = subtype
        assert from_event(event, bot_user_id=BOT_USER, now=now, display_name="Alice") is None, subtype


async def test_a_mention_in_a_channel_thread_is_answered_in_that_thread(slack):
    ids = {"T111": TEAM, "W222": "U0002", "W111": BOT_USER, "C111": CHANNEL}
    thread = "1595926200.000100"
    event = recorded_event("app_mention.json", ids, text=f"<@{BOT_USER}> deal 700 Initech", thread_ts=thread)
    await replay(slack, event)
    [answer] = slack.fake.ephemerals("U0002")
    assert answer["channel"] == CHANNEL and answer["thread_ts"] == thread
    assert "¥700" in message_text(answer)


# ----- auto-linked text ------------------------------------------------------------------------------------


def test_auto_linked_text_becomes_what_the_person_saw_and_mentions_stay_mentions():
    """What Slack made (links, channels, user groups, dates) becomes its text; anything else in `<…>` is
    not Slack's (Slack escapes what people type) and stays as it came."""
    text = (
        "<@UBOT> <mailto:a@b.com|a@b.com> <https://x.com|x.com> <https://x.com>"
        " <tel:+8613800000000|138 0000 0000>"
        " <#C123|general> <#C456> <#C789|> <mailto:c@d.com> <@U0003|bob> <@W0004> <!channel> <!here>"
        " <!subteam^S123|@sales> <!date^1392734382^{date_short}|Feb 18, 2014> Q&amp;A &lt;b&gt;"
        ' <https://x.com/?a=1&amp;b=2|a &amp; b> <script> <font color="red"> <#general>'
    )
    plain, mentioned = clean_text(text, "UBOT")
    assert plain == (
        "a@b.com x.com https://x.com 138 0000 0000 #general #C456 #C789 c@d.com <@U0003> <@W0004>"
        ' <!channel> <!here> @sales Feb 18, 2014 Q&A <b> a & b <script> <font color="red"> <#general>'
    )
    assert mentioned == ("U0003", "W0004")


async def test_a_deal_customer_slack_auto_linked_is_stored_and_shown_as_its_text(slack):
    answer = await slash(slack, "U0002", "/deal 5000 <mailto:a@b.com|a@b.com>")
    assert "a@b.com" in answer[0] and "mailto" not in answer[0]
    async with slack.app.sessionmaker() as session:
        deal = await session.scalar(select(Deal))
    assert deal.customer == "a@b.com"
    [post] = [p for p in slack.channel_posts() if "New deal" in message_text(p)]
    assert "a@b.com" in message_text(post) and "mailto" not in json.dumps(post)


async def test_kudos_with_links_and_a_channel_keep_the_mention_and_show_the_text(slack):
    line = "/kudos <@U0003|bob> for <https://x.com/deck|the deck> in <#C0001|sales> call <tel:+861380|1380>"
    answer = await slash(slack, "U0002", line)
    assert "Bob" in answer[0]
    async with slack.app.sessionmaker() as session:
        kudos = await session.scalar(select(Kudos))
    assert kudos.reason == "for the deck in #sales call 1380"
    post = message_text(slack.channel_posts()[-1])
    assert "<@U0003>" in post and "the deck" in post and "https://x.com" not in post


# ----- app_rate_limited ------------------------------------------------------------------------------------


def rate_limited_count(metrics: str) -> float:
    found = re.search(r'^teambeat_events_rate_limited_total\{platform="slack"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_app_rate_limited_is_answered_200_and_counted_in_metrics(slack):
    payload = recorded("app_rate_limited.json", {"T123456": TEAM})["payload"]
    body = json.dumps(payload).encode()
    forged = await slack.http.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", **signed_headers("not-the-secret", body)},
    )
    assert forged.status_code == 401
    assert rate_limited_count((await slack.http.get("/metrics")).text) == 0
    for _ in range(2):
        response = await slack.post(body, "application/json")
        assert response.status_code == 200, response.text
    assert rate_limited_count((await slack.http.get("/metrics")).text) == 2
    await slack.settle()
    assert said_anything(slack) == [] and await count(slack, ProcessedEvent) == 0


# ----- greetings and languages -----------------------------------------------------------------------------


async def test_hi_suggests_help_never_a_one_letter_alias(slack):
    [answer] = await slack.dm("U0002", "hi")
    assert "*help*" in answer and "*h*" not in answer
    assert "/help" in answer


async def test_a_command_in_a_channel_no_team_owns_is_answered_in_the_speakers_team_language(slack):
    slack.fake.workspaces[TEAM].channels.add(NOBODYS_CHANNEL)
    slack.fake.workspaces[TEAM].add_user("U0009", "Erin")
    [member] = await slash(slack, "U0002", "/deal 5000", channel=NOBODYS_CHANNEL)  # Alice: the en team's
    assert "There is no team here yet" in member
    [stranger] = await slash(slack, "U0009", "/deal 5000", channel=NOBODYS_CHANNEL)  # in no team at all
    assert "这里还没有绑定团队" in stranger  # the bot's default language, zh-CN
    assert await count(slack, Deal) == 0


# ----- timestamps and signatures no bolt check can read ----------------------------------------------------


async def test_timestamps_and_signatures_bolt_cannot_read_are_401_not_5xx(slack):
    """bolt's check does int() on the timestamp (a 400-digit one overflowed the freshness arithmetic: a 503)
    and compares signatures as text (a non-ASCII one raised), and reads the last of repeated headers."""
    ids = {"T111": TEAM, "W111": "U0002", "C111": CHANNEL}
    form = dict(parse_qsl(recorded("slash_command.json", ids)["form"]))
    url = slack.fake.response_url(slack.fake_url)
    body = encode_form(form | {"command": "/deal", "text": "5000", "response_url": url})
    now, huge = str(int(time.time())), "9" * 400

    def signed(timestamp: str | bytes) -> list[tuple[str, str | bytes]]:
        """Signed over the timestamp as sent: only the timestamp itself can be what is refused."""
        text = timestamp.decode("latin-1") if isinstance(timestamp, bytes) else timestamp
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=text, body=body)
        return [("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", signature)]

    attempts: dict[str, list[tuple[str, str | bytes]]] = {
        "400 digits": signed(huge),
        "14 digits": signed("1" * 14),
        "Arabic-Indic digits": signed("١٧٠٠٠٠٠٠٠٠".encode()),
        "superscript two": signed("²".encode()),
        "a non-ASCII signature": [("X-Slack-Request-Timestamp", now), ("X-Slack-Signature", b"v0=\xe9")],
        "the timestamp twice, the last huge": [*signed(now), ("X-Slack-Request-Timestamp", huge)],
    }
    form_type = ("Content-Type", "application/x-www-form-urlencoded")
    for why, headers in attempts.items():
        response = await slack.http.post("/slack/events", content=body, headers=[form_type, *headers])
        assert response.status_code == 401, (why, response.status_code, response.text)
        assert response.json()["error"] == "invalid_signature", why
    await slack.settle()
    assert slack.fake.responses == [] and await count(slack, Deal) == 0
    good = await slack.http.post("/slack/events", content=body, headers=[form_type, *signed(now)])
    assert good.status_code == 200
    await slack.settle()
    assert await count(slack, Deal) == 1

"""R7 (quality.md): forged, stale and misaddressed requests against the real `teambeat run`, and replays.

One bot process per backend serves all four signed doors at once — Slack in HTTP mode
(`POST /slack/events`), DingTalk in HTTP mode (`POST /dingtalk/callback`), WeCom (`GET|POST
/wecom/callback`) and the deal webhook (`POST /hooks/deals`) — with every platform's API pointed at a fake
served by this test on loopback. For each door, a member's request is forged in each way R7 names: a
wrong or missing signature, a timestamp outside the window, a WeCom message encrypted for another corp
id. Each answer is a 401 naming the reason, and afterwards nothing changed: no row in processed_events,
members, deals, kudos, checkins or the outbox, and no call reached any fake platform. Then the genuine
request is sent twice at once and a third time later, byte for byte (a replay inside the window, or the
platform retrying): it has exactly one effect — one row, one reply, one post.

Every day around the test is a holiday for the teams, so no scheduled post can add rows of its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from adapters.wecom.crypto import signature as wecom_signature
from tests.conftest import BACKEND_PARAMS, chosen_backend
from tests.fakes import dingtalk, slack_bot, wecom
from tests.fakes.slack import command_form, encode_form, event_callback, message_text
from tests.fakes.slack import signed_headers as slack_headers
from tests.fakes.wecom import passive_reply, text_message
from tests.support import deals
from tests.support.doors import (
    SHANGHAI,
    Doors,
    dingtalk_headers,
    now_s,
    open_doors,
    post_to_dingtalk,
    post_to_slack,
    sealed,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTHER_CORP = "wwSOMEONEELSE00000"
WECOM_ECHO = "1288432023552776189"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKEND_PARAMS)
async def doors(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Doors]:
    """One `teambeat run` with every HTTP entry point configured, on a fresh database of the backend."""
    backend = chosen_backend(request.param)
    async with open_doors(backend, tmp_path_factory.mktemp(f"forgery-{backend}")) as running:
        yield running


def assert_refused(answers: dict[str, httpx.Response], expected: dict[str, int]) -> None:
    """Each forgery got its own 4xx (never a 500) with a machine-readable reason in the body."""
    got = {why: answer.status_code for why, answer in answers.items()}
    assert got == expected
    for why, answer in answers.items():
        assert answer.json().get("error"), (why, answer.text)


# ----- Slack: `v0:{timestamp}:{body}` signed with the signing secret, 300 s window ---------------------


def kudos_command(doors: Doors, reason: str) -> tuple[bytes, str]:
    """Alice's `/kudos @bob <reason>` as Slack posts it, and the response_url its answer goes to."""
    url = doors.slack.response_url(doors.slack_url)
    form = command_form(slack_bot.TEAM, "U0002", slack_bot.CHANNEL, "/kudos", f"<@U0003|bob> {reason}", url)
    return encode_form(form), url


def mention_event(text: str) -> bytes:
    """`@teambeat <text>` by Alice in the team's channel, as an Events API callback."""
    event = {"type": "app_mention", "user": "U0002", "text": f"<@{slack_bot.BOT_USER}> {text}"}
    event |= {"channel": slack_bot.CHANNEL, "ts": f"{time.time():.6f}"}
    return json.dumps(event_callback(slack_bot.TEAM, event, bot_user_id=slack_bot.BOT_USER)).encode()


async def test_slack_refuses_forged_and_stale_requests_and_handles_a_repeated_command_once(
    doors: Doors,
) -> None:
    """Anyone can reach /slack/events; only a request signed with our secret within 300 s is Slack's."""
    before = await doors.settled()
    secret = slack_bot.SECRET

    def forged(n: int) -> bytes:
        return kudos_command(doors, f"forged {n}")[0]

    # Headers are made just before each request, so "305 s ahead" cannot drift into the window.
    attempts: dict[str, tuple[bytes, Callable[[bytes], dict[str, str]]]] = {
        "signed with another secret": (forged(1), lambda b: slack_headers("not-the-secret", b)),
        "no signature headers": (forged(2), lambda b: {}),
        "a timestamp but no signature": (forged(3), lambda b: {"X-Slack-Request-Timestamp": str(now_s())}),
        "a signature but no timestamp": (
            forged(4),
            lambda b: {"X-Slack-Signature": slack_headers(secret, b)["X-Slack-Signature"]},
        ),
        "301 s old": (forged(5), lambda b: slack_headers(secret, b, now_s() - 301)),
        "305 s ahead": (forged(6), lambda b: slack_headers(secret, b, now_s() + 305)),
        "another body's signature": (
            forged(7),
            lambda b: slack_headers(secret, b.replace(b"forged", b"honest")),
        ),
        "a forged event": (
            mention_event("kudos <@U0003> forged 8"),
            lambda b: slack_headers("not-the-secret", b),
        ),
        "a forged url_verification": (
            json.dumps({"type": "url_verification", "challenge": "forged-challenge"}).encode(),
            lambda b: slack_headers("not-the-secret", b),
        ),
    }
    answers = {why: await post_to_slack(doors, body, sign(body)) for why, (body, sign) in attempts.items()}
    assert_refused(answers, dict.fromkeys(attempts, 401))
    assert "forged-challenge" not in answers["a forged url_verification"].text
    assert await doors.settled() == before, "a forged Slack request left a trace"

    # Alice's genuine command arrives twice at once (a copy racing the original), then once more later.
    body, response_url = kudos_command(doors, "great demo at Umbrella")
    headers = slack_headers(secret, body)
    racing = await asyncio.gather(post_to_slack(doors, body, headers), post_to_slack(doors, body, headers))
    assert [a.status_code for a in racing] == [200, 200], [a.text for a in racing]
    once = await doors.settled(until=lambda: bool(doors.slack.answers_at(response_url)))
    later = await post_to_slack(doors, body, headers)
    assert later.status_code == 200, later.text
    assert await doors.settled() == once, "the repeated command had an effect"

    assert await doors.kudos() == ["great demo at Umbrella"]
    answer = doors.slack.answers_at(response_url)
    assert len(answer) == 1 and "Bob" in message_text(answer[0])
    posts = [message_text(p) for p in doors.slack.posts(slack_bot.CHANNEL)]
    assert len([p for p in posts if "great demo at Umbrella" in p]) == 1
    assert not any("forged" in p or "honest" in p for p in posts)


# ----- DingTalk: `timestamp` (ms) and `sign` = base64(HMAC-SHA256(appSecret, ts + "\n" + appSecret)) ----


def dingtalk_message(text: str, msg_id: str) -> dict[str, Any]:
    """Alice @-mentions the robot in the team's group; the reply goes to sessionWebhook `msg_id`."""
    expires = datetime.now(SHANGHAI) + timedelta(minutes=90)
    return dingtalk.robot_message(text, sender="alice01", msg_id=msg_id, session=msg_id, expires_at=expires)


def shifted(headers: dict[str, str], ms: int) -> dict[str, str]:
    """The same sign with another timestamp: a captured sign reused later."""
    return headers | {"timestamp": str(int(headers["timestamp"]) + ms)}


async def test_dingtalk_refuses_forged_and_stale_callbacks_and_handles_a_redelivery_once(
    doors: Doors,
) -> None:
    """DingTalk's sign covers only the timestamp: the one-hour window and the msgId are the defence."""
    before = await doors.settled()
    hour = 3_600_000
    attempts: dict[str, Callable[[], dict[str, str]]] = {
        "signed with another secret": lambda: dingtalk_headers("not-the-secret"),
        "no timestamp or sign": dict,
        "a sign but no timestamp": lambda: {"sign": dingtalk_headers()["sign"]},
        "a timestamp but no sign": lambda: {"timestamp": dingtalk_headers()["timestamp"]},
        "two hours old": lambda: dingtalk_headers(shift_ms=-2 * hour),
        "two hours ahead": lambda: dingtalk_headers(shift_ms=2 * hour),
        "the sign of another timestamp": lambda: shifted(dingtalk_headers(), 1),
    }
    answers = {}
    for n, (why, headers) in enumerate(attempts.items()):
        payload = dingtalk_message(f" 成交 {9000 + n} forged", f"msgForged{n}")
        answers[why] = await post_to_dingtalk(doors, payload, headers())
    assert_refused(answers, dict.fromkeys(attempts, 401))
    assert {a.json()["error"] for a in answers.values()} == {"bad_signature"}
    assert await doors.settled() == before, "a forged DingTalk callback left a trace"

    # Alice's genuine message, delivered twice at once (DingTalk redelivers a slow ACK), then again later.
    payload, headers = dingtalk_message(" 成交 12800 华为年度采购", "msgGenuine"), dingtalk_headers()
    racing = await asyncio.gather(
        post_to_dingtalk(doors, payload, headers), post_to_dingtalk(doors, payload, headers)
    )
    assert [a.json() for a in racing] == [{"status": "accepted"}] * 2
    once = await doors.settled(until=lambda: bool(doors.dingtalk.session_replies("msgGenuine")))
    later = await post_to_dingtalk(doors, payload, headers)
    assert later.status_code == 200, later.text
    assert await doors.settled() == once, "the redelivered message had an effect"

    stored = await doors.deals_of("dingtalk-east")
    assert [(d.amount_minor, d.customer) for d in stored] == [(1_280_000, "华为年度采购")]
    replies = doors.dingtalk.session_replies("msgGenuine")
    assert len(replies) == 1 and "1.28万" in replies[0]["markdown"]["text"]
    posts = [p["text"] for p in doors.dingtalk.group_posts(dingtalk.EAST)]
    assert len([p for p in posts if "华为年度采购" in p]) == 1
    assert not any("forged" in p for p in posts)


# ----- WeCom: msg_signature = sha1(sorted token, timestamp, nonce, Encrypt); AES with the corp id inside ---


def unsigned(plain: str) -> tuple[bytes, dict[str, str]]:
    body, query = sealed(plain)
    del query["msg_signature"]
    return body, query


def url_check(*, token: str = wecom.TOKEN, corp_id: str = wecom.CORP_ID) -> dict[str, str]:
    """The GET that verifies the callback URL: echostr encrypted for `corp_id`, signed with `token`."""
    echostr = PrpCrypto(base64.b64decode(wecom.AES_KEY + "=")).encrypt(WECOM_ECHO, corp_id).decode()
    timestamp, nonce = str(now_s()), uuid.uuid4().hex[:10]
    signature = wecom_signature(token, timestamp, nonce, echostr)
    return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}


def alice_says(text: str, msg_id: str) -> str:
    """Alice's text message in the app's chat (a DM to the bot), before encryption."""
    return text_message("alice", text, msg_id, str(now_s()))


async def test_wecom_refuses_forged_stale_and_misaddressed_callbacks_and_handles_a_retry_once(
    doors: Doors,
) -> None:
    """A callback must be signed with our token, fresh, and encrypted for our corp id: anything else is
    someone else's message or a forgery, and a 4xx."""
    before = await doors.settled()
    attempts: dict[str, Callable[[str], tuple[bytes, dict[str, str]]]] = {
        "signed with another token": lambda plain: sealed(plain, token="not-the-token"),
        "no msg_signature": unsigned,
        "an hour old": lambda plain: sealed(plain, shift=-3600),
        "an hour ahead": lambda plain: sealed(plain, shift=3600),
        "encrypted for another corp id": lambda plain: sealed(plain, corp_id=OTHER_CORP),
    }
    answers = {}
    for n, (why, seal) in enumerate(attempts.items()):
        body, query = seal(alice_says(f"/deal {7000 + n} forged", str(8_000_000_000 + n)))
        answers[why] = await doors.http.post("/wecom/callback", params=query, content=body)
    url_checks = {
        "URL check signed with another token": url_check(token="not-the-token"),
        "URL check for another corp id": url_check(corp_id=OTHER_CORP),
    }
    for why, query in url_checks.items():
        answers[why] = await doors.http.get("/wecom/callback", params=query)
    assert_refused(answers, dict.fromkeys(answers, 401))  # unsigned or signed wrongly: all 401
    reasons = {why: answer.json()["error"] for why, answer in answers.items()}
    assert reasons["no msg_signature"] == "missing_signature"
    assert reasons["encrypted for another corp id"] == "wrong_receiver"
    assert reasons["URL check for another corp id"] == "wrong_receiver"
    assert reasons["an hour old"] == reasons["an hour ahead"] == "stale_timestamp"
    assert all(WECOM_ECHO not in answer.text for answer in answers.values())
    assert await doors.settled() == before, "a forged WeCom callback left a trace"
    genuine_check = await doors.http.get("/wecom/callback", params=url_check())
    assert genuine_check.status_code == 200 and genuine_check.text == WECOM_ECHO

    # Alice's genuine message arrives twice at once (WeCom retries what it thinks timed out), then again.
    body, query = sealed(alice_says("/deal 8800 腾讯云续费", "8100000001"))
    racing = await asyncio.gather(
        doors.http.post("/wecom/callback", params=query, content=body),
        doors.http.post("/wecom/callback", params=query, content=body),
    )
    assert [a.status_code for a in racing] == [200, 200], [a.text for a in racing]

    def robot_posts() -> list[str]:
        return [sent.content for sent in doors.wecom.robot_posts(wecom.ROBOT_KEY)]

    once = await doors.settled(until=lambda: any("腾讯云续费" in p for p in robot_posts()))
    later = await doors.http.post("/wecom/callback", params=query, content=body)
    assert later.status_code == 200 and later.content == b"", later.text
    assert await doors.settled() == once, "the retried message had an effect"

    oracle = WeChatCrypto(wecom.TOKEN, wecom.AES_KEY, wecom.CORP_ID)
    passive = [reply["Content"] for a in racing if (reply := passive_reply(oracle, a)) is not None]
    replies = passive + [sent.content for sent in doors.wecom.dms("alice")]
    assert len(replies) == 1 and "8,800" in replies[0], replies
    assert [(d.amount_minor, d.customer) for d in await doors.deals_of("wecom-east")] == [
        (880_000, "腾讯云续费")
    ]
    assert len([p for p in robot_posts() if "腾讯云续费" in p]) == 1
    assert not any("forged" in p for p in robot_posts())


# ----- the deal webhook: `X-Teambeat-Signature: v1=HMAC-SHA256(secret, "<ts>.<body>")`, 300 s window ---


def crm_deal(deal_id: str, amount: int, customer: str) -> bytes:
    """A deal as the CRM posts it: Alice's, for the Slack team, named by her email."""
    payload = {"id": deal_id, "team": "slack-east", "member": "alice@example.com"}
    return deals.body_of(payload | {"amount": amount, "customer": customer})


async def test_deal_webhook_refuses_forged_and_stale_posts_and_records_a_resent_deal_once(
    doors: Doors,
) -> None:
    """A CRM signs each deal; anything else posting to /hooks/deals must not create or announce one."""
    before = await doors.settled()
    attempts: dict[str, Callable[[bytes], dict[str, str]]] = {
        "no signature headers": lambda body: {"Content-Type": "application/json"},
        "a timestamp but no signature": lambda body: {"X-Teambeat-Timestamp": str(now_s())},
        "signed with another secret": lambda body: deals.signed_headers(body, now_s(), "not-the-secret"),
        "another body's signature": lambda body: deals.signed_headers(body + b" ", now_s()),
        "301 s old": lambda body: deals.signed_headers(body, now_s() - 301),
        "305 s ahead": lambda body: deals.signed_headers(body, now_s() + 305),
    }
    answers = {}
    for n, (why, headers) in enumerate(attempts.items()):
        body = crm_deal(f"forged-{n}", 5000 + n, f"forged {n}")
        answers[why] = await doors.http.post("/hooks/deals", content=body, headers=headers(body))
    assert_refused(answers, dict.fromkeys(attempts, 401))
    assert {answer.json()["error"] for answer in answers.values()} == {"bad_signature"}
    assert await doors.settled() == before, "a forged deal webhook left a trace"

    # The CRM's genuine deal arrives twice at once (its retry racing a slow answer), then again later.
    body = crm_deal("crm-7781", 23000, "Initech")
    headers = deals.signed_headers(body, now_s())
    racing = await asyncio.gather(
        doors.http.post("/hooks/deals", content=body, headers=headers),
        doors.http.post("/hooks/deals", content=body, headers=headers),
    )
    assert sorted((a.status_code, a.json()["status"]) for a in racing) == [
        (200, "duplicate"),
        (202, "recorded"),
    ]
    deal_id = racing[0].json()["deal"]
    assert racing[1].json()["deal"] == deal_id

    def posts() -> list[str]:
        return [message_text(post) for post in doors.slack.posts(slack_bot.CHANNEL)]

    once = await doors.settled(until=lambda: any("Initech" in p for p in posts()))
    later = await doors.http.post("/hooks/deals", content=body, headers=headers)
    assert (later.status_code, later.json()["status"], later.json()["deal"]) == (200, "duplicate", deal_id)
    assert await doors.settled() == once, "the resent deal had an effect"

    stored = await doors.deals_of("slack-east")
    assert [(d.id, d.source, d.external_id, d.amount_minor) for d in stored] == [
        (deal_id, "webhook", "crm-7781", 2_300_000)
    ]
    assert len([p for p in posts() if "Initech" in p and "¥23,000" in p]) == 1
    assert not any("forged" in p for p in posts())

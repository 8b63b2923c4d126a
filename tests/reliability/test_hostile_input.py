"""R6 and R8 (quality.md): hostile input at every door of the real `teambeat run`.

One bot process per backend serves Slack (`POST /slack/events`), DingTalk (`POST /dingtalk/callback`),
WeCom (`POST /wecom/callback`) and the deal webhook (`POST /hooks/deals`), each fed correctly signed (or
encrypted) requests, so that what is tested is the payload itself.

R8 injection: members type mentions of everyone (`<!channel>`, `@all`, `@所有人`), another person's id,
Markdown and HTML, jinja syntax and SQL into every free-text field that reaches a post — kudos reasons,
deal customers and products (by chat and by the webhook), check-in answers — and a member's display name
carries them too. On each platform's rendered post, as the fake platform received it, the words are there
literally, inside the template's own formatting, which is intact; nobody but the people the post names is
notified; `{{ 7*7 }}` never became 49; and the tables are all still there.

R6 bad input: malformed bodies, every field of a genuine payload given the wrong JSON type, huge bodies,
invalid UTF-8, hypothesis-fuzzed command text, and fuzzed timestamps and query strings on every route.
Each request gets a clear reply or a 4xx naming the reason — never a 5xx; refused ones leave no trace;
the process keeps answering /healthz; no reply and no answer shows a traceback or an exception name; and
at the end it exits 0 on SIGTERM without a traceback in its log (tests/support/doors.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select
from wechatpy.enterprise.crypto import WeChatCrypto

from adapters.dingtalk.sign import callback_sign
from adapters.web.deals_hook import sign as deal_sign
from adapters.wecom.crypto import signature as wecom_signature
from bot.storage.orm import Base, Checkin, Deal, Kudos, Member
from tests.conftest import BACKEND_PARAMS, chosen_backend
from tests.fakes import dingtalk, slack_bot, wecom
from tests.fakes.slack import command_form, event_callback, message_text
from tests.fakes.slack import signed_headers as slack_headers
from tests.fakes.wecom import WeComBot, passive_reply
from tests.support import deals
from tests.support.doors import (
    SHANGHAI,
    SLACK_WEST,
    WECOM_WEST_KEY,
    Doors,
    dingtalk_headers,
    now_s,
    open_doors,
    post_to_slack,
    sealed,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
T = TypeVar("T")

HOSTILE = (
    '<!channel> <!here> <@U999> @all @所有人 **bold** <font color="red">red</font> [link](http://x) '
    "<script>alert(1)</script> {{ 7*7 }} {% raw %} '); DROP TABLE deals;--"
)
ANSWER = HOSTILE.replace(";", "")  # `;` separates check-in answers in `/checkin a; b; c`
NAME = "<!here> <@U999> @all @所有人 **Eve** {{ 7*7 }}"
WEST_ROBOT = dingtalk.WEST_ROBOT_TOKEN
WECOM_WEST_CHAT = "wrWestHome"
WAIT = 30.0
ORACLE = WeChatCrypto(wecom.TOKEN, wecom.AES_KEY, wecom.CORP_ID)

# A second team on each platform, posting every completed check-in to its channel; DingTalk's through
# the custom robot, whose posts carry `at`, so that a notification of everyone would be visible.
WEST_TEAMS = f"""
[[teams]]
id = "slack-west"
name = "West Sales"
platform = "slack"
workspace = "{slack_bot.TEAM}"
channel = "{SLACK_WEST}"
locale = "en"
calendar = "everyday"
extra_holidays = {{holidays}}
post_checkins = true
leaders = ["U0004"]
[[teams.members]]
id = "U0004"
name = "Carol"
[[teams.members]]
id = "U0005"
name = "Dave"

[[teams]]
id = "dingtalk-west"
name = "华西二部"
platform = "dingtalk"
workspace = "{dingtalk.CORP}"
channel = "{dingtalk.WEST}"
channel_webhook = "https://oapi.dingtalk.com/robot/send?access_token={WEST_ROBOT}"
channel_secret = "{dingtalk.WEST_ROBOT_SECRET}"
calendar = "everyday"
extra_holidays = {{holidays}}
post_checkins = true
leaders = ["li01"]
[[teams.members]]
id = "li01"
name = "李经理"
[[teams.members]]
id = "zhao01"
name = "赵六"

[[teams]]
id = "wecom-west"
name = "华西一部"
platform = "wecom"
workspace = "{wecom.CORP_ID}"
channel = "{WECOM_WEST_CHAT}"
channel_webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_WEST_KEY}"
calendar = "everyday"
extra_holidays = {{holidays}}
post_checkins = true
leaders = ["wendy"]
[[teams.members]]
id = "wendy"
name = "Wendy"
[[teams.members]]
id = "will"
name = "Will"
"""

LEAK = re.compile(r"Traceback|File \"|\b\w*(Error|Exception)\b|sqlalchemy|asyncpg|sqlite3")
APOLOGY = ("something went wrong on my side", "出了点问题")  # the internal-error reply: a bug behind it
SLACK_ENTITY = re.compile(r"<[!@#][^>]*>")
NOTIFY_ALL = re.compile(r"<@all>|(?<![＠\w])@all\b|(?<!＠)@所有人", re.IGNORECASE)
DINGTALK_SPECIALS = re.compile(r"[*_`\[\]<>#~|\\@]")
WECOM_SPECIALS = re.compile(r"[*`\[\]<>&]")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKEND_PARAMS)
async def doors(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Doors]:
    """One `teambeat run` with every door open and a second team per platform, on a fresh database."""
    backend = chosen_backend(request.param)
    tmp_path = tmp_path_factory.mktemp(f"hostile-{backend}")
    async with open_doors(backend, tmp_path, extra_teams=WEST_TEAMS) as running:
        running.slack.workspaces[slack_bot.TEAM].add_user("U0666", NAME)  # Slack shows her chosen name
        yield running


# ----- reading what each platform received --------------------------------------------------------------


def nfkc(text: str) -> str:
    """Full-width look-alikes (＊ ［ ＜ ＠ …: DingTalk and WeCom posts neutralise markup so) as ASCII."""
    return unicodedata.normalize("NFKC", text)


def slack_escaped(text: str) -> str:
    """What platforms.md says Slack needs: `&`, `<` and `>` as entities, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_plain(mrkdwn: str) -> str:
    return mrkdwn.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_pieces(post: dict[str, Any]) -> list[str]:
    """Each text a Slack message shows whole: header, sections, fields, context, and the fallback text."""
    pieces = [str(post.get("text") or "")]
    blocks = post.get("blocks") or []
    for block in json.loads(blocks) if isinstance(blocks, str) else blocks:
        if "text" in block:
            pieces.append(block["text"]["text"])
        pieces.extend(field["text"] for field in block.get("fields", []))
        pieces.extend(element["text"] for element in block.get("elements", []) if "text" in element)
    return pieces


def lines_of(markdown: str) -> list[str]:
    return [line.rstrip() for line in markdown.split("\n")]


def shown_between(pieces: list[str], before: str, after: str, words: str, read: Callable[[str], str]) -> str:
    """The member's `words` as a post shows them: whole, read back as typed, between the template's own
    `before` and `after` — which are there unchanged, on the same line."""
    for piece in pieces:
        if piece.startswith(before) and piece.endswith(after):
            shown = piece[len(before) : len(piece) - len(after)]
            if read(shown) == words:
                return shown
    raise AssertionError(f"{words!r} is not shown between {before!r} and {after!r} in:\n" + "\n".join(pieces))


async def eventually(probe: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    """The probe's first truthy answer, polled; an AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what} within {timeout} s")
        await asyncio.sleep(0.01)
    return found


def assert_clear(reply: str, typed: str = "") -> None:
    """A reply a person can read: not empty, not the internal-error apology, no trace of Python in it
    (an exception name the person typed themselves may be echoed back)."""
    assert reply.strip(), f"an empty reply to {typed!r}"
    assert not any(apology in reply for apology in APOLOGY), (typed, reply)
    leak = LEAK.search(reply)
    assert leak is None or leak.group(0) in typed, (typed, reply)


def assert_refused(answer: httpx.Response, why: str) -> None:
    """A 4xx whose JSON body names the reason, with nothing of Python in it."""
    assert 400 <= answer.status_code < 500, (why, answer.status_code, answer.text)
    assert answer.json().get("error"), (why, answer.text)
    assert_clear(answer.text)


def slack_received(doors: Doors) -> list[str]:
    """Every message Slack was given: channel posts, DMs, ephemerals and answers at response_url."""
    posted = [message_text(call.args) for call in doors.slack.calls if call.method.startswith("chat.")]
    return posted + [message_text(response["body"]) for response in doors.slack.responses]


def dingtalk_received(doors: Doors) -> list[dict[str, Any]]:
    """Every robot message, reply and OpenAPI post or DM DingTalk was given: `at` and markdown `text`."""
    bodies = [call.body for call in doors.dingtalk.calls if "robot" in call.path]
    return [
        {"at": body.get("at", {}), "text": body["markdown"]["text"]}
        if "markdown" in body
        else {"at": {}, "text": json.loads(body["msgParam"])["text"]}
        for body in bodies
        if isinstance(body, dict)
    ]


def everything_received(doors: Doors) -> list[str]:
    """Every message any fake platform was given."""
    ding = [message["text"] for message in dingtalk_received(doors)]
    return slack_received(doors) + ding + [sent.content for sent in doors.wecom.sent + doors.wecom.dropped]


# ----- speaking at each door, signed as the platform signs -----------------------------------------------


async def to_slack(doors: Doors, body: bytes, kind: str = "application/json") -> httpx.Response:
    headers = {"Content-Type": kind, **slack_headers(slack_bot.SECRET, body)}
    return await doors.http.post("/slack/events", content=body, headers=headers)


async def to_dingtalk(doors: Doors, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", **dingtalk_headers()}
    return await doors.http.post("/dingtalk/callback", content=body, headers=headers)


async def to_wecom(doors: Doors, plain: str) -> httpx.Response:
    """`plain` encrypted and signed as WeCom does."""
    body, query = sealed(plain)
    return await doors.http.post("/wecom/callback", params=query, content=body)


async def to_wecom_raw(
    doors: Doors, encrypt: str, body: bytes | None = None, timestamp: str = ""
) -> httpx.Response:
    """An envelope signed correctly over whatever `Encrypt` it carries (or a body that is not one)."""
    stamp, nonce = timestamp or str(now_s()), "n0nce"
    signature = wecom_signature(wecom.TOKEN, stamp, nonce, encrypt)
    query = {"msg_signature": signature, "timestamp": stamp, "nonce": nonce}
    sent = WeComBot.envelope(encrypt) if body is None else body
    return await doors.http.post("/wecom/callback", params=query, content=sent)


async def crm_sends(doors: Doors, payload: dict[str, Any] | bytes) -> httpx.Response:
    body = deals.body_of(payload)
    return await doors.http.post("/hooks/deals", content=body, headers=deals.signed_headers(body, now_s()))


def as_json(payload: Any) -> bytes:
    return json.dumps(payload).encode()  # ASCII, with \uXXXX escapes: lone surrogates and NUL get through


async def slack_command(doors: Doors, user: str, channel: str, line: str) -> str:
    """`user` types a slash command in `channel`; the answer only they see, as Slack got it (mrkdwn).
    Text Slack cannot decode (here: lone surrogates) travels as the bytes it is, percent-encoded."""
    command, _, text = line.partition(" ")
    url = doors.slack.response_url(doors.slack_url)
    form = command_form(slack_bot.TEAM, user, channel, command, text, url)
    body = urlencode(form, encoding="utf-8", errors="surrogatepass").encode()
    answer = await post_to_slack(doors, body, slack_headers(slack_bot.SECRET, body))
    assert answer.status_code == 200, answer.text
    replies = await eventually(lambda: doors.slack.answers_at(url), f"the answer to {line!r}")
    return "\n".join(message_text(reply) for reply in replies)


async def dingtalk_says(
    doors: Doors,
    sender: str,
    text: str,
    *,
    group: str | None = dingtalk.WEST,
    at: tuple[str, ...] = (),
    nick: str | None = None,
) -> str:
    """`sender` @-mentions the robot in `group` (or DMs it); the markdown of its reply."""
    msg_id = f"msg{time.monotonic_ns()}"
    expires = datetime.now(SHANGHAI) + timedelta(minutes=90)
    payload = dingtalk.robot_message(
        text, sender=sender, msg_id=msg_id, session=msg_id, expires_at=expires, group=group, at_users=at
    )
    payload["senderNick"] = nick or payload["senderNick"]
    answer = await to_dingtalk(doors, as_json(payload))
    assert answer.json() == {"status": "accepted"}, answer.text
    replies = await eventually(lambda: doors.dingtalk.session_replies(msg_id), f"the answer to {text!r}")
    return "\n".join(reply["markdown"]["text"] for reply in replies)


def cdata(text: str) -> str:
    """Text as WeCom wraps it: a CDATA section, a `]]>` inside split across two."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def wecom_xml(**fields: str | dict[str, str]) -> str:
    """A decrypted WeCom message: one element per field (a dict: nested elements), its text as CDATA."""
    inner = "".join(
        f"<{key}>{wecom_xml(**value)[5:-6] if isinstance(value, dict) else cdata(value)}</{key}>"
        for key, value in fields.items()
    )
    return f"<xml>{inner}</xml>"


def wecom_message(msg_id: object, user: str = "boss", text: str = "/rank") -> dict[str, str]:
    """The fields of a member's text message to the app."""
    message = {"ToUserName": wecom.CORP_ID, "FromUserName": user, "CreateTime": str(now_s())}
    return message | {
        "MsgType": "text",
        "Content": text,
        "MsgId": str(msg_id),
        "AgentID": str(wecom.AGENT_ID),
    }


def wecom_text(user: str, text: str, msg_id: str, **extra: str | dict[str, str]) -> str:
    """A member's text message as WeCom encrypts it (a group's carries ChatId, and From with a name)."""
    return wecom_xml(**wecom_message(msg_id, user, text), **extra)


async def wecom_says(doors: Doors, user: str, text: str, msg_id: str) -> str:
    """`user` writes to the app; the reply — passive, or sent as an app message after."""
    before = len(doors.wecom.dms(user))
    answer = await to_wecom(doors, wecom_text(user, text, msg_id))
    assert answer.status_code == 200, answer.text
    passive = passive_reply(ORACLE, answer)
    if passive is not None:
        return passive["Content"]
    sent = await eventually(lambda: doors.wecom.dms(user)[before:], f"the answer to {text!r}")
    return "\n".join(message.content for message in sent)


# ----- R8: injection ------------------------------------------------------------------------------------


async def test_slack_posts_show_hostile_words_as_text_and_notify_only_the_people_named(doors: Doors) -> None:
    """Slack reads `<!channel>` and `<@U…>` as notifications: member text must arrive as `&lt;…&gt;`."""

    async def post(channel: str, *marks: str) -> dict[str, Any]:
        """The one post in `channel` showing all `marks`, once it is there."""

        def probe() -> list[dict[str, Any]]:
            return [p for p in doors.slack.posts(channel) if all(m in message_text(p) for m in marks)]

        [found] = await eventually(probe, f"a post with {marks} in {channel}")
        return found

    replies = [await slack_command(doors, "U0002", slack_bot.CHANNEL, f"/kudos <@U0003|bob> {HOSTILE}")]
    kudos_post = await post(slack_bot.CHANNEL, "Kudos!")
    replies.append(await slack_command(doors, "U0002", slack_bot.CHANNEL, f"/deal 1234 {HOSTILE}"))
    deal_post = await post(slack_bot.CHANNEL, "New deal", "¥1,234")
    crm = {"id": "crm-r8", "team": "slack-east", "member": "alice@example.com", "amount": 2345}
    assert (await crm_sends(doors, crm | {"customer": HOSTILE, "product": HOSTILE})).status_code == 202
    crm_post = await post(slack_bot.CHANNEL, "New deal", "¥2,345")
    replies.append(await slack_command(doors, "U0005", SLACK_WEST, f"/checkin {ANSWER}; 1234; {ANSWER}"))
    dave_post = await post(SLACK_WEST, "Dave's check-in")
    # Eve, new to the channel, checks in there: she joins the team under the name Slack gives her.
    replies.append(await slack_command(doors, "U0666", SLACK_WEST, f"/checkin {ANSWER}; 3456; {ANSWER}"))
    eve_post = await post(SLACK_WEST, "check-in today", "Eve")
    for reply in replies:
        assert_clear(reply)

    # The words are all there, as text: `&lt;!channel&gt;` can notify no one, and no tag is a tag.
    asked, blockers = (
        "*What did you get done yesterday?*\n",
        "*Anything blocking you, any support you need?*\n",
    )
    shown = [
        shown_between(slack_pieces(kudos_post), "💬 “", "”", HOSTILE, slack_plain),
        shown_between(slack_pieces(deal_post), "*Customer*\n", "", HOSTILE, slack_plain),
        shown_between(slack_pieces(crm_post), "*Customer*\n", "", HOSTILE, slack_plain),
        shown_between(slack_pieces(crm_post), "*Product*\n", "", HOSTILE, slack_plain),
        shown_between(slack_pieces(dave_post), asked, "", ANSWER, slack_plain),
        shown_between(slack_pieces(eve_post), blockers, "", ANSWER, slack_plain),
        shown_between(slack_pieces(eve_post), "📋 ", "'s check-in today", NAME, slack_plain),
    ]
    assert shown[0] == slack_escaped(HOSTILE) and "&lt;!channel&gt; &lt;!here&gt; &lt;@U999&gt;" in shown[0]
    assert all("<" not in words and ">" not in words for words in shown)

    # Around them the template's formatting is intact: its header, its real mentions, its bold amount.
    assert slack_pieces(kudos_post)[1:3] == ["👏 Kudos!", "<@U0002> gave kudos to <@U0003>!"]
    assert "Congrats <@U0002> on closing *¥1,234*! 🔥" in slack_pieces(deal_post)
    assert slack_pieces(eve_post)[1] == f"📋 {slack_escaped(NAME)}'s check-in today"  # still the header
    for channel_post in (kudos_post, deal_post, crm_post, dave_post, eve_post):
        assert "49" not in message_text(channel_post)

    # Nothing Slack received anywhere notifies everyone, or anyone the bot did not name.
    for text in slack_received(doors):
        assert set(SLACK_ENTITY.findall(text)) <= {"<@U0002>", "<@U0003>", "<@U0005>", "<@U0666>"}, text
    assert HOSTILE in await doors.kudos()
    assert [d.customer for d in await doors.deals_of("slack-east")] == [HOSTILE, HOSTILE]


async def test_dingtalk_robot_posts_show_hostile_words_inert_and_at_only_the_people_named(
    doors: Doors,
) -> None:
    """DingTalk notifies whoever is in `at` (and everyone with isAtAll): member text may add nobody, and
    its Markdown must stay characters, not formatting."""

    async def post(*marks: str) -> dict[str, Any]:
        """The one robot post in the team's group showing all `marks`, once it is there."""

        def probe() -> list[dict[str, Any]]:
            posts = doors.dingtalk.robot_posts(WEST_ROBOT)
            return [p for p in posts if all(m in p["markdown"]["text"] for m in marks)]

        [found] = await eventually(probe, f"a post with {marks}")
        return found

    replies = [await dingtalk_says(doors, "zhao01", f"/kudos @李经理 {HOSTILE}", at=("li01",))]
    kudos_post = await post("点赞时刻")
    replies.append(await dingtalk_says(doors, "zhao01", f"/deal 1234 {HOSTILE}"))
    deal_post = await post("喜报", "¥1,234")
    crm = {"id": "crm-r8-ding", "team": "dingtalk-west", "member": "zhao01", "amount": 2345}
    assert (await crm_sends(doors, crm | {"customer": HOSTILE, "product": HOSTILE})).status_code == 202
    crm_post = await post("喜报", "¥2,345")
    replies.append(await dingtalk_says(doors, "zhao01", f"/checkin {ANSWER}; 1234; {ANSWER}"))
    zhao_post = await post("赵六的今日打卡")
    # Eve, new to the group, checks in there: she joins the team under her DingTalk nick.
    replies.append(await dingtalk_says(doors, "eve01", f"/checkin {ANSWER}; 3456; {ANSWER}", nick=NAME))
    eve_post = await post("的今日打卡", "Eve")
    for reply in replies:
        assert_clear(reply)

    def lines(body: dict[str, Any]) -> list[str]:
        return lines_of(body["markdown"]["text"])

    shown = [
        shown_between(lines(kudos_post), "💬「", "」", HOSTILE, nfkc),
        shown_between(lines(deal_post), "**客户**: ", "", HOSTILE, nfkc),
        shown_between(lines(crm_post), "**客户**: ", "", HOSTILE, nfkc),
        shown_between(lines(crm_post), "**产品**: ", "", HOSTILE, nfkc),
        shown_between(lines(zhao_post), "**昨天完成了什么？**: ", "", ANSWER, nfkc),
        shown_between(lines(eve_post), "**遇到什么困难，需要什么支持？**: ", "", ANSWER, nfkc),
        shown_between(lines(eve_post), "### 📋 ", "的今日打卡", NAME, nfkc),
    ]
    assert all(DINGTALK_SPECIALS.search(words) is None for words in shown), shown  # all full-width

    assert lines(kudos_post)[:3] == ["### 👏 点赞时刻", "", "@zhao01 为 @li01 点赞！"]
    assert kudos_post["at"] == {"atUserIds": ["zhao01", "li01"], "isAtAll": False}
    assert lines(deal_post)[2].startswith("恭喜 @zhao01 成交 **¥1,234**")
    for channel_post in (kudos_post, deal_post, crm_post, zhao_post, eve_post):
        assert "49" not in channel_post["markdown"]["text"]

    for message in dingtalk_received(doors):  # every post and reply: only members, never everyone
        assert message["at"].get("isAtAll") is not True, message
        assert set(message["at"].get("atUserIds", [])) <= {"zhao01", "li01", "eve01", "alice01", "boss01"}
        assert NOTIFY_ALL.search(message["text"]) is None, message
    assert [d.customer for d in await doors.deals_of("dingtalk-west")] == [HOSTILE, HOSTILE]


async def test_wecom_robot_posts_show_hostile_words_inert_and_mention_only_the_people_named(
    doors: Doors,
) -> None:
    """A WeCom group robot notifies `<@userid>` and `@all`: member text may do neither, nor add markup."""

    async def post(*marks: str) -> str:
        """The one robot post in the team's group showing all `marks`, once it is there."""

        def probe() -> list[str]:
            posts = doors.wecom.robot_posts(WECOM_WEST_KEY)
            return [p.content for p in posts if all(m in p.content for m in marks)]

        [found] = await eventually(probe, f"a post with {marks}")
        return found

    ids = (str(n) for n in itertools.count(8_800_000_001))
    replies = [await wecom_says(doors, "will", f"/kudos @wendy {HOSTILE}", next(ids))]
    kudos_post = await post("点赞时刻")
    replies.append(await wecom_says(doors, "will", f"/deal 1234 {HOSTILE}", next(ids)))
    deal_post = await post("喜报", "¥1,234")
    crm = {"id": "crm-r8-wecom", "team": "wecom-west", "member": "will", "amount": 2345}
    assert (await crm_sends(doors, crm | {"customer": HOSTILE, "product": HOSTILE})).status_code == 202
    crm_post = await post("喜报", "¥2,345")
    replies.append(await wecom_says(doors, "will", f"/checkin {ANSWER}; 1234; {ANSWER}", next(ids)))
    will_post = await post("Will的今日打卡")
    # Eve, new to the group, checks in there: she joins the team under the name WeCom gives her (her
    # answer goes to her as an app message, which the fake WeCom, not knowing her, refuses).
    in_the_group = {"ChatId": WECOM_WEST_CHAT, "From": {"UserId": "eve", "Name": NAME}}
    eve_says = wecom_text("eve", f"@teambeat /checkin {ANSWER}; 3456; {ANSWER}", next(ids), **in_the_group)
    assert (await to_wecom(doors, eve_says)).status_code == 200
    eve_post = await post("的今日打卡", "Eve")
    for reply in replies:
        assert_clear(reply)
        assert NOTIFY_ALL.search(reply) is None, reply

    label = '<font color="comment">{}: </font>'.format
    shown = [
        shown_between(lines_of(kudos_post), "💬「", "」", HOSTILE, nfkc),
        shown_between(lines_of(deal_post), label("客户"), "", HOSTILE, nfkc),
        shown_between(lines_of(crm_post), label("客户"), "", HOSTILE, nfkc),
        shown_between(lines_of(crm_post), label("产品"), "", HOSTILE, nfkc),
        shown_between(lines_of(will_post), label("昨天完成了什么？"), "", ANSWER, nfkc),
        shown_between(lines_of(eve_post), label("遇到什么困难，需要什么支持？"), "", ANSWER, nfkc),
        shown_between(lines_of(eve_post), "### 📋 ", "的今日打卡", NAME, nfkc),
    ]
    for words in shown:
        assert WECOM_SPECIALS.search(words) is None and NOTIFY_ALL.search(words) is None, words

    assert lines_of(kudos_post)[:2] == ["### 👏 点赞时刻", "<@will> 为 <@wendy> 点赞！"]
    assert lines_of(deal_post)[1].startswith("恭喜 <@will> 成交 **¥1,234**")
    for channel_post in (kudos_post, deal_post, crm_post, will_post, eve_post):
        assert "49" not in channel_post

    for sent in doors.wecom.sent:  # every post and DM: only members, never @all
        assert sent.notified() <= {"will", "wendy", "eve", "alice", "boss"}, sent.content
        assert NOTIFY_ALL.search(sent.content) is None, sent.content
    assert [d.customer for d in await doors.deals_of("wecom-west")] == [HOSTILE, HOSTILE]


async def test_the_sql_was_stored_as_text_and_every_table_is_still_there(doors: Doors) -> None:
    """`'); DROP TABLE deals;--` went into kudos, deals and check-ins as words, and dropped nothing."""
    async with doors.engine.connect() as connection:
        tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        stored = {
            "kudos": await connection.scalar(select(func.count()).where(Kudos.reason == HOSTILE)),
            "deal customers": await connection.scalar(select(func.count()).where(Deal.customer == HOSTILE)),
            "deal products": await connection.scalar(select(func.count()).where(Deal.product == HOSTILE)),
            "names": await connection.scalar(select(func.count()).where(Member.name == NAME)),
            "check-ins": await connection.scalar(select(func.count()).select_from(Checkin)),
        }
    assert set(Base.metadata.tables) <= tables
    assert stored == {"kudos": 3, "deal customers": 6, "deal products": 3, "names": 3, "check-ins": 6}


# ----- R6: malformed, mistyped, huge and fuzzed input ------------------------------------------------------


def slack_event(text: str, *, dm: bool = False) -> dict[str, Any]:
    """Alice's `@teambeat <text>` in the team's channel (or `<text>` in the bot's DM), as Slack posts it."""
    now = f"{time.time():.6f}"
    event = {"type": "app_mention", "user": "U0002", "text": f"<@{slack_bot.BOT_USER}> {text}", "ts": now}
    event |= {"channel": slack_bot.CHANNEL, "event_ts": now, "team": slack_bot.TEAM, "blocks": []}
    if dm:
        event |= {"type": "message", "channel_type": "im", "channel": "D0002", "text": text}
    return event_callback(slack_bot.TEAM, event, bot_user_id=slack_bot.BOT_USER)


def dingtalk_message(text: str, msg_id: str) -> dict[str, Any]:
    """Alice's `@robot <text>` in the east team's DingTalk group."""
    expires = datetime.now(SHANGHAI) + timedelta(minutes=90)
    return dingtalk.robot_message(
        text, sender="alice01", msg_id=msg_id, session=msg_id, expires_at=expires, group=dingtalk.EAST
    )


def event_with(**change: Any) -> bytes:
    return as_json(slack_event("/help") | change)


def message_with(**change: Any) -> bytes:
    return as_json(dingtalk_message("/help", f"msg{time.monotonic_ns()}") | change)


async def test_malformed_bodies_at_every_door_get_a_4xx_naming_the_reason_and_leave_no_trace(
    doors: Doors,
) -> None:
    """Signed, but not what the platform sends: each gets its own 4xx, and nothing is recorded or sent."""
    before = await doors.settled()
    form = "application/x-www-form-urlencoded"
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><xml><Content>&a;</Content></xml>'
    unstorable = b'{"id": "a\\ud800", "team": "slack-east", "member": "U0002\\u0000", "amount": 1}'
    attempts: dict[str, tuple[Awaitable[httpx.Response], int, str]] = {
        "slack: broken JSON": (to_slack(doors, b'{"type": "event_'), 400, "bad_request"),
        "slack: invalid UTF-8": (to_slack(doors, b"command=/deal&text=\xff\xfe", form), 400, "bad_request"),
        "slack: a form sent as JSON": (to_slack(doors, b"command=%2Fdeal&text=1"), 400, "bad_request"),
        "slack: an event that is text": (to_slack(doors, event_with(event="/help")), 400, "bad_request"),
        "slack: authorizations as text": (
            to_slack(doors, event_with(authorizations="x")),
            400,
            "bad_request",
        ),
        "slack: nothing Slack sends": (to_slack(doors, b"a=b", form), 404, "unhandled request"),
        "dingtalk: not JSON": (to_dingtalk(doors, b"{'msgtype': 'text'}"), 400, "not_json"),
        "dingtalk: invalid UTF-8": (to_dingtalk(doors, b'{"text": "\xff\xfe"}'), 400, "not_json"),
        "dingtalk: an array": (to_dingtalk(doors, b"[]"), 400, "not_json"),
        "dingtalk: nested too deep": (to_dingtalk(doors, b"[" * 100_000 + b"]" * 100_000), 400, "not_json"),
        "dingtalk: text as text": (to_dingtalk(doors, message_with(text="/help")), 400, "not_a_message"),
        "dingtalk: no msgId": (to_dingtalk(doors, message_with(msgId=None)), 400, "not_a_message"),
        "dingtalk: conversationType 3": (
            to_dingtalk(doors, message_with(conversationType="3")),
            400,
            "not_a_message",
        ),
        "wecom: not XML": (to_wecom_raw(doors, "x", body=b"\xff<not xml"), 400, "bad_xml"),
        "wecom: no Encrypt": (to_wecom_raw(doors, "", body=b"<xml/>"), 400, "missing_encrypt"),
        "wecom: Encrypt not base64": (to_wecom_raw(doors, "!!not base64!!"), 400, "bad_base64"),
        "wecom: a cut ciphertext": (to_wecom_raw(doors, "QUJDREVGRw=="), 400, "bad_ciphertext"),
        "wecom: timestamp not a number": (to_wecom_raw(doors, "x", timestamp="soon"), 400, "bad_timestamp"),
        "wecom: plaintext not XML": (to_wecom(doors, "/deal 100"), 400, "bad_xml"),
        "wecom: an entity bomb": (to_wecom(doors, bomb), 400, "bad_xml"),
        "wecom: plaintext rooted elsewhere": (to_wecom(doors, "<message/>"), 400, "bad_xml"),
        "hook: not JSON": (crm_sends(doors, b"id=1&amount=5"), 400, "not_json"),
        "hook: invalid UTF-8": (crm_sends(doors, b'{"id": "\xff\xfe", "amount": 1}'), 400, "not_json"),
        "hook: an array": (crm_sends(doors, b"[]"), 400, "not_json"),
        "hook: wrong types": (
            crm_sends(doors, {"id": [1], "team": {"slug": "x"}, "member": 5, "amount": None}),
            422,
            "invalid_fields",
        ),
        "hook: lone surrogate and NUL": (crm_sends(doors, unstorable), 422, "invalid_fields"),
    }
    answers = {why: await send for why, (send, _, _) in attempts.items()}
    for why, answer in answers.items():
        assert_refused(answer, why)
    assert {why: (a.status_code, a.json()["error"]) for why, a in answers.items()} == {
        why: (status, error) for why, (_, status, error) in attempts.items()
    }
    assert await doors.settled() == before, "a refused request left a trace"
    assert (await doors.http.get("/healthz")).status_code == 200


async def test_huge_bodies_at_every_door_get_413_whether_announced_or_streamed(doors: Doors) -> None:
    """Over `[server] max_body_bytes` (1 MiB): refused before anything reads it, and the sender can read
    the 413 — a connection reset would leave a platform retrying blind."""
    before = await doors.settled()
    huge = b"x" * 2_000_000

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(20):
            yield huge[:100_000]

    answers: dict[str, httpx.Response] = {}
    for door in ("/slack/events", "/dingtalk/callback", "/wecom/callback", "/hooks/deals"):
        headers = slack_headers(slack_bot.SECRET, huge) | dingtalk_headers()
        headers |= deals.signed_headers(huge, now_s())
        answers[f"{door} with Content-Length"] = await doors.http.post(door, content=huge, headers=headers)
        answers[f"{door} streamed"] = await doors.http.post(door, content=streamed(), headers=headers)
    assert {why: (a.status_code, a.json()["error"]) for why, a in answers.items()} == dict.fromkeys(
        answers, (413, "body_too_large")
    )
    assert await doors.settled() == before
    assert (await doors.http.get("/healthz")).status_code == 200


# Every wrong JSON type, and text no database stores, or of a size no platform sends.
WRONG_VALUES: list[Any] = [None, True, 7, -1.5, "", "\ud800", "\x00", "x" * 5_000, [], ["x"], {}, {"a": 1}]


def mutations(
    genuine: Callable[[], dict[str, Any]], nested: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A fresh genuine payload each time, with one field (top level, or of the object `nested`) replaced
    by each wrong value in turn."""
    fields = [(key, "") for key in genuine()]
    fields += [(nested, key) for key in genuine()[nested]] if nested else []
    for (key, inner), wrong in itertools.product(fields, WRONG_VALUES):
        payload = genuine()
        payload[key] = payload[key] | {inner: wrong} if inner else wrong
        yield f"{key}{'.' if inner else ''}{inner}={wrong!r:.12}", payload


async def test_any_field_of_a_genuine_payload_with_a_wrong_value_never_gets_a_5xx(doors: Doors) -> None:
    """Each field of a real Slack event, DingTalk message, WeCom message and CRM deal, in turn null, a
    boolean, a number, empty, a lone surrogate, NUL, 5,000 characters, a list or an object: accepted and
    answered, or refused with a 4xx naming why — never a 5xx, never a crash, never a trace in what
    anyone reads."""
    ids = itertools.count(1)
    three_days_ago = (datetime.now(SHANGHAI) - timedelta(days=3)).isoformat()  # recorded, not announced

    def crm_deal() -> dict[str, Any]:
        deal = {"id": f"wrong-{next(ids)}", "team": "slack-east", "member": "U0002", "amount": 99}
        deal |= {"currency": "CNY", "customer": "Initech", "product": "ink", "closed_at": three_days_ago}
        return deal | {"status": "won"}

    answers: dict[str, httpx.Response] = {}
    for why, event in mutations(lambda: slack_event("/rank"), nested="event"):
        answers[f"slack mention {why}"] = await to_slack(doors, as_json(event))
    for why, event in mutations(lambda: slack_event("/rank", dm=True), nested="event"):
        answers[f"slack DM {why}"] = await to_slack(doors, as_json(event))
    for why, message in mutations(lambda: dingtalk_message("/rank", f"wrong{next(ids)}"), nested="text"):
        answers[f"dingtalk {why}"] = await to_dingtalk(doors, as_json(message))
    for why, deal in mutations(crm_deal):
        answers[f"hook {why}"] = await crm_sends(doors, as_json(deal))
    for field in ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "AgentID"):
        for shape, value in {"missing": None, "empty": "", "nested": {"a": "1"}, "huge": "9" * 5_000}.items():
            fields = {key: text for key, text in wecom_message(next(ids)).items() if key != field}
            plain = wecom_xml(**fields, **({field: value} if value is not None else {}))
            answers[f"wecom {field} {shape}"] = await to_wecom(doors, plain)

    assert {why: (a.status_code, a.text) for why, a in answers.items() if a.status_code >= 500} == {}
    for why, answer in answers.items():
        if answer.status_code >= 400:
            assert_refused(answer, why)
        else:
            assert LEAK.search(answer.text) is None, (why, answer.text)
    assert (await doors.http.get("/healthz")).status_code == 200
    await doors.settled()
    for text in everything_received(doors):
        assert_clear(text)


WORDS = st.sampled_from(
    [
        *("/deal", "/成交", "/kudos", "/点赞", "/goal", "/rank", "/checkin", "/打卡", "/leave", "/team"),
        *("/help", "undo", "edit", "skip", "me", "team", "group", "month", "本周", "deals", "people"),
        *("12800", "1.2w", "30万", "-5", "0", "1e999", "NaN", "１２８００", "¥", "$1,200.50", "9" * 30),
        *("@alice", "@nobody", "<@U0003|bob>", "<@U999>", "<!channel>", "@所有人", "@all", "＠所有人"),
        *("2026-02-30", "..", "25:99", "；", "／", "\u3000", "\n", '"', '"quoted words"', "\\"),
        *("{{ 7*7 }}", "{% raw %}", "**bold**", "<font color=red>", "[x](http://x)", "<script>"),
        *("'); DROP TABLE deals;--", "\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "🎉" * 20),
    ]
)
TEXT = st.one_of(st.text(max_size=60), st.lists(WORDS, min_size=1, max_size=6).map(" ".join))
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def has_words(text: str) -> bool:
    """Not blank, nor a lone `/`: a message the bot must answer (to nothing at all it may stay quiet)."""
    return bool(nfkc(text).strip().removeprefix("/").removeprefix("\\").strip())


async def fuzz(say: Callable[..., Awaitable[str]], examples: int, **draw: st.SearchStrategy[Any]) -> int:
    """Hypothesis calls `say` with `examples` sets of arguments drawn from `draw`, from a worker thread
    while this loop runs the calls; each reply must be clear. Returns how many examples ran. (Each is an
    HTTP round trip to the real process: few examples, no deadline.)"""
    loop = asyncio.get_running_loop()
    ran = itertools.count()

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(**draw)
    def one(**drawn: Any) -> None:
        reply = asyncio.run_coroutine_threadsafe(say(**drawn), loop).result(timeout=2 * WAIT)
        assert_clear(reply, typed=repr(drawn))
        next(ran)

    await asyncio.to_thread(one)
    return next(ran)


async def test_fuzzed_slash_commands_always_get_a_clear_answer(doors: Doors) -> None:
    """Whatever follows a Slack slash command — invalid UTF-8 included — the person gets an answer."""

    async def slack(command: str, text: str, who: str) -> str:
        return await slack_command(doors, who, slack_bot.CHANNEL, f"{command} {text}")

    commands = st.sampled_from(["/deal", "/kudos", "/goal", "/rank", "/checkin", "/leave", "/team", "/help"])
    people = st.sampled_from(["U0001", "U0002", "U0003"])
    assert await fuzz(slack, 100, command=commands, text=TEXT, who=people) >= 100
    assert (await doors.http.get("/healthz")).status_code == 200


async def test_fuzzed_dingtalk_messages_always_get_a_clear_answer(doors: Doors) -> None:
    """Anything said to the DingTalk robot, in its group or a DM, with lone surrogates and NUL: answered."""

    async def ding(text: str, who: str, dm: bool) -> str:
        return await dingtalk_says(doors, who, text, group=None if dm else dingtalk.EAST)

    people = st.sampled_from(["alice01", "boss01"])
    assert await fuzz(ding, 80, text=TEXT.filter(has_words), who=people, dm=st.booleans()) >= 80
    assert (await doors.http.get("/healthz")).status_code == 200


async def test_fuzzed_wecom_messages_always_get_a_clear_answer(doors: Doors) -> None:
    """Anything a member writes to the WeCom app (what XML can carry) gets an answer."""
    ids = itertools.count(9_950_000_001)

    async def wecom_app(text: str, who: str) -> str:
        return await wecom_says(doors, who, text, str(next(ids)))

    xml_text = TEXT.map(lambda text: XML_INVALID.sub("", text)).filter(has_words)
    people = st.sampled_from(["alice", "bob", "dave", "will", "wendy"])  # each takes 30 messages a minute
    assert await fuzz(wecom_app, 60, text=xml_text, who=people) >= 60
    assert (await doors.http.get("/healthz")).status_code == 200


# ----- timestamps and query strings: every door, unauthenticated garbage -----------------------------------

DIGITS = st.characters(categories=("Nd", "No"))  # every script's digits, and ², ①, ½ …
STAMPS = st.one_of(
    st.sampled_from(
        ["9" * 400, "1" * 14, "²", "①", "١٧٠٠٠٠٠٠٠٠", "１７００", "1_700_000_000", "-1", "0x10", ""]
    ),
    st.integers(min_value=-(10**60), max_value=10**420).map(str),
    st.text(DIGITS, max_size=30),
    st.text(max_size=30),
)
QUERY = st.dictionaries(
    st.sampled_from(["timestamp", "msg_signature", "nonce", "echostr", "code", "state", "x"])
    | st.text(max_size=8),
    STAMPS | st.text(max_size=40),
    max_size=4,
)
ROUTES = ("slack", "hook", "dingtalk", "wecom GET", "wecom POST", "/healthz", "/metrics")


def header_value(text: str) -> bytes:
    """`text` as header bytes that reach the app: UTF-8 without the control characters the server's HTTP
    parser refuses itself (a 400 before any route runs) or spaces at the ends. The app reads latin-1."""
    raw = re.sub(rb"[\x00-\x08\x0a-\x1f\x7f]", b"", text.encode("utf-8", "surrogatepass"))
    return raw.strip(b" \t")


def no_surrogates(text: str) -> str:
    return XML_INVALID.sub("", text)  # what a URL cannot carry either


async def knock(doors: Doors, route: str, stamp: str, query: dict[str, str]) -> httpx.Response:
    """One request at `route` with the timestamp `stamp` (signed over it, so that only the timestamp can be
    wrong) and the extra query string `query`."""
    raw = header_value(stamp)
    as_read = raw.decode("latin-1")
    params = {no_surrogates(k): no_surrogates(v) for k, v in query.items()}
    if route == "slack":
        body = urlencode(command_form(slack_bot.TEAM, "U0002", slack_bot.CHANNEL, "/rank", "", "http://x"))
        signed = slack_headers(slack_bot.SECRET, body.encode())  # a signature for a good timestamp …
        headers = {
            **signed,
            "X-Slack-Request-Timestamp": raw,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if as_read.isascii():  # … or over the one sent, when it is text a signature can be made over
            headers["X-Slack-Signature"] = (
                "v0="
                + hmac.new(
                    slack_bot.SECRET.encode(), f"v0:{as_read}:{body}".encode(), hashlib.sha256
                ).hexdigest()
            )
        return await doors.http.post("/slack/events", params=params, content=body, headers=headers)
    if route == "hook":
        body = as_json({"id": "stamp", "team": "slack-east", "member": "U0002", "amount": 1})
        headers = {**deals.signed_headers(body, now_s()), "X-Teambeat-Timestamp": raw}
        headers["X-Teambeat-Signature"] = deal_sign(deals.SECRET, as_read, body)
        return await doors.http.post("/hooks/deals", params=params, content=body, headers=headers)
    if route == "dingtalk":
        body = as_json(dingtalk_message("/rank", f"stamp{time.monotonic_ns()}"))
        headers = {"Content-Type": "application/json", "timestamp": raw}
        headers["sign"] = callback_sign(dingtalk.APP_SECRET, as_read)
        return await doors.http.post("/dingtalk/callback", params=params, content=body, headers=headers)
    if route.startswith("wecom"):
        text, nonce = no_surrogates(stamp), "n0nce"
        encrypt = ORACLE.encrypt_message("<xml/>", nonce, str(now_s()))
        encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", encrypt).group(1)
        signed = {"msg_signature": wecom_signature(wecom.TOKEN, text, nonce, encrypt), "nonce": nonce}
        signed |= {"timestamp": text}
        if route == "wecom GET":
            return await doors.http.get("/wecom/callback", params={**params, **signed, "echostr": encrypt})
        sent = {**params, **signed}
        return await doors.http.post("/wecom/callback", params=sent, content=WeComBot.envelope(encrypt))
    return await doors.http.get(route, params={**params, "timestamp": no_surrogates(stamp)})


async def test_hostile_timestamps_and_query_strings_never_get_a_5xx(doors: Doors) -> None:
    """Each door parses its timestamp (a header, or WeCom's query) before anything else: 400 digits, `²`,
    `①`, other scripts' digits, any text — signed over, so only the timestamp is wrong — and any query
    string on every route get a 4xx naming the reason (or the route's answer), never a 5xx."""
    before = await doors.settled()
    # What issue 19 found: each was a 500 (or Slack's 503).
    cases = {
        "hook: 400 digits": await knock(doors, "hook", "9" * 400, {}),
        "slack: 400 digits": await knock(doors, "slack", "9" * 400, {}),
        "wecom GET: ²": await knock(doors, "wecom GET", "²", {}),
        "wecom GET: ①": await knock(doors, "wecom GET", "①", {}),
        "wecom POST: ²": await knock(doors, "wecom POST", "²", {}),
        "wecom POST: ①": await knock(doors, "wecom POST", "①", {}),
    }
    for why, answer in cases.items():
        assert_refused(answer, why)
        assert answer.status_code in (400, 401), (why, answer.status_code)

    async def say(route: str, stamp: str, query: dict[str, str]) -> str:
        answer = await knock(doors, route, stamp, query)
        assert answer.status_code < 500, (route, stamp, query, answer.status_code, answer.text)
        if answer.status_code >= 400:
            assert_refused(answer, f"{route} {stamp!r} {query!r}")
        return answer.text or f"{answer.status_code}"

    ran = await fuzz(say, 300, route=st.sampled_from(ROUTES), stamp=STAMPS, query=QUERY)
    assert ran >= 300
    assert (await doors.http.get("/healthz")).status_code == 200
    assert await doors.settled() == before, "a refused request left a trace"

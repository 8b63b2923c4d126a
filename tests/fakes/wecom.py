"""A fake WeCom (企业微信) API on loopback: gettoken, message/send, appchat/send, user/get and the group
robot's webhook/send, behaving like the real one where teambeat depends on it.

- Tokens expire on demand (`expire_tokens()`): the next call answers 42001; unknown tokens 40014.
- A group robot takes at most `robot_per_minute` messages in any 60 s; more are refused with 45009 and
  remembered in `refused`.
- An app message over a member's 30/minute or 1,000/hour is answered `errcode 0` and silently dropped,
  as WeCom does — it lands in `dropped`, never in `sent`, so tests can prove we never sent one.
- `invaliduser`: a user outside `users` is reported in the answer (errcode 81013 when no one is valid).
- `script[path]` queues errcodes to answer next on that path (e.g. {"webhook/send": [45009]}).
- Template cards (message/send `msgtype template_card`) are checked as WeCom documents them: a known
  card_type; for `button_interaction` a task_id of digits, letters and `_-@` (≤ 128 bytes, never reused
  by the app), a main title, 1–6 buttons each with text and a key (≤ 1,024 bytes, no repeats: 42039).
  `click(...)` is the `template_card_event` WeCom would post for a member's click: it issues a
  response_code bound to that card and member. update_template_card takes a response_code once, within
  72 h, and only for the card's own member; each update is kept in `card_updates`.
  (The errcodes of the card rules other than 42039 are the fake's own choice.)
Windows use the test's clock, so a test controls time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from wechatpy.enterprise.crypto import WeChatCrypto

from adapters.web.server import build_web_app
from adapters.wecom.adapter import WeComAdapter
from adapters.wecom.crypto import WeComCrypto
from adapters.wecom.payload import parse_xml
from bot.app import App, build_app
from bot.clock import Clock, FixedClock
from bot.config import load_config
from bot.delivery.worker import DeliveryWorker
from bot.messages import IncomingMessage, OutgoingMessage
from tests.fakes.multipart import form_file
from tests.support.loopback import serve

APP_CONTENT_BYTES = 2048
CARD_TYPES = frozenset(
    {"text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction"}
)
TASK_ID = re.compile(r"^[A-Za-z0-9_\-@]{1,128}$")
BUTTONS_MAX = 6
KEY_BYTES = 1024
RESPONSE_CODE_LIFE = timedelta(hours=72)
ROBOT_MARKDOWN_BYTES = 4096
ROBOT_TEXT_BYTES = 2048
_MENTION = re.compile(r"<@([^>]+)>")


@dataclass(frozen=True, slots=True)
class Sent:
    """One message WeCom accepted: `kind` app | appchat | robot, `to` the user, chat id or robot key."""

    kind: str
    to: str
    msgtype: str
    content: str
    payload: dict[str, Any]
    at: float

    def notified(self) -> set[str]:
        """Whom this message notifies: robot markdown <@id> mentions and text mentioned_list."""
        if self.kind != "robot":
            return set()
        ids = set(_MENTION.findall(self.content)) if self.msgtype == "markdown" else set()
        ids |= set(self.payload.get("text", {}).get("mentioned_list", []) or [])
        return ids


@dataclass
class Card:
    """A button card WeCom accepted: to whom, its buttons (text, key), and what its buttons show now."""

    task_id: str
    user: str
    buttons: list[tuple[str, str]]
    sent_at: datetime
    replaced_by: str | None = None


@dataclass
class ResponseCode:
    task_id: str
    user: str
    issued_at: datetime
    used: bool = False


@dataclass
class FakeWeCom:
    clock: Clock
    corp_id: str
    secret: str
    agent_id: int
    users: dict[str, str] = field(default_factory=dict)
    """user id -> name: who exists in the corp and within the app's visible range."""
    robot_keys: set[str] = field(default_factory=set)
    chats: set[str] = field(default_factory=set)
    robot_per_minute: int = 20
    member_per_minute: int = 30
    member_per_hour: int = 1000
    script: dict[str, list[int]] = field(default_factory=dict)
    all_invalid_errcode: int = 81013
    """What WeCom answers when no receiver is valid (81013; some answers say 0 and list invaliduser)."""
    token_requests: int = 0
    sent: list[Sent] = field(default_factory=list)
    dropped: list[Sent] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    """media id -> the bytes uploaded to /cgi-bin/media/upload (an app image names its media id)."""
    cards: dict[str, Card] = field(default_factory=dict)
    response_codes: dict[str, ResponseCode] = field(default_factory=dict)
    card_updates: list[tuple[str, str, str]] = field(default_factory=list)
    """(task id, member, replace_name) of every update WeCom accepted."""
    _tokens: dict[str, bool] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ----- what tests read ----------------------------------------------------------------------------

    def dms(self, user: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == "app" and s.to == user]

    def robot_posts(self, key: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == "robot" and s.to == key]

    def appchat_posts(self, chat_id: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == "appchat" and s.to == chat_id]

    def expire_tokens(self) -> None:
        for token in self._tokens:
            self._tokens[token] = False

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/cgi-bin/gettoken", self._gettoken, methods=["GET"]),
                Route("/cgi-bin/message/send", self._message_send, methods=["POST"]),
                Route("/cgi-bin/message/update_template_card", self._update_card, methods=["POST"]),
                Route("/cgi-bin/appchat/send", self._appchat_send, methods=["POST"]),
                Route("/cgi-bin/user/get", self._user_get, methods=["GET"]),
                Route("/cgi-bin/webhook/send", self._webhook_send, methods=["POST"]),
                Route("/cgi-bin/media/upload", self._media_upload, methods=["POST"]),
            ]
        )

    # ----- endpoints ----------------------------------------------------------------------------------

    async def _gettoken(self, request: Request) -> JSONResponse:
        self.token_requests += 1
        if request.query_params.get("corpid") != self.corp_id:
            return self._error("gettoken", 40013, "invalid corpid")
        if request.query_params.get("corpsecret") != self.secret:
            return self._error("gettoken", 40001, "invalid credential")
        token = f"tok-{next(self._ids)}"
        self._tokens[token] = True
        return JSONResponse({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def _message_send(self, request: Request) -> JSONResponse:
        if (refusal := self._check_token(request, "message/send")) is not None:
            return refusal
        body = await request.json()
        if body.get("agentid") != self.agent_id:
            return self._error("message/send", 301002, "invalid agentid")
        card: dict[str, Any] | None = None
        if body.get("msgtype") == "image":
            content, problem = self._app_image(body)
        elif body.get("msgtype") == "template_card":
            card = body.get("template_card") if isinstance(body.get("template_card"), dict) else {}
            code, problem = self._card_problem(card)
            if problem:
                return self._error("message/send", code, problem)
            content = json.dumps(card, ensure_ascii=False)
        else:
            content, problem = _content(body, {"text": APP_CONTENT_BYTES, "markdown": APP_CONTENT_BYTES})
        if problem:
            return self._error("message/send", 44004, problem)
        receivers = [u for u in str(body.get("touser", "")).split("|") if u]
        valid = [u for u in receivers if u in self.users]
        invalid = "|".join(u for u in receivers if u not in self.users)
        if not valid:
            code = self.all_invalid_errcode
            if code == 0:
                return JSONResponse({"errcode": 0, "errmsg": "ok", "invaliduser": invalid})
            return self._error("message/send", code, "user & party & tag all invalid", invaliduser=invalid)
        now = self.clock.now().timestamp()
        for user in valid:
            record = Sent("app", user, body["msgtype"], content, body, now)
            (self.dropped if self._member_over_quota(user, now) else self.sent).append(record)
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": f"msg-{next(self._ids)}"}
        if invalid:
            answer["invaliduser"] = invalid
        if card is not None and card.get("task_id"):
            # A card with callbacks: kept for clicks; the send's answer carries a response_code too.
            buttons = [(str(b.get("text")), str(b.get("key"))) for b in card.get("button_list", [])]
            self.cards[card["task_id"]] = Card(card["task_id"], valid[0], buttons, self.clock.now())
            answer["response_code"] = self._issue_code(card["task_id"], valid[0])
        return JSONResponse(answer)

    def _card_problem(self, card: dict[str, Any]) -> tuple[int, str | None]:
        kind = card.get("card_type")
        if kind not in CARD_TYPES:
            return 40058, f"invalid card_type {kind!r}"
        if kind != "button_interaction":
            return 0, None
        task_id = card.get("task_id")
        if not isinstance(task_id, str) or not TASK_ID.match(task_id):
            return 40058, "task_id: digits, letters and _-@, at most 128 bytes"
        if task_id in self.cards:
            return 40058, "task_id already used by this app"
        title = (card.get("main_title") or {}).get("title")
        if not isinstance(title, str) or not title.strip():
            return 40058, "main_title.title missing"
        buttons = card.get("button_list")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_MAX:
            return 40058, f"button_list must hold 1 to {BUTTONS_MAX} buttons"
        keys = [b.get("key") for b in buttons if isinstance(b, dict)]
        if len(keys) != len(buttons) or not all(isinstance(k, str) and k for k in keys):
            return 40058, "every callback button needs a key"
        if any(len(k.encode()) > KEY_BYTES for k in keys):
            return 40058, f"button key over {KEY_BYTES} bytes"
        if len(set(keys)) != len(keys):
            return 42039, "key Missing or Invalid: button keys repeat"
        if not all(isinstance(b.get("text"), str) and b["text"].strip() for b in buttons):
            return 40058, "button text missing"
        return 0, None

    def _issue_code(self, task_id: str, user: str) -> str:
        code = f"rc-{next(self._ids)}-{hashlib.sha1(f'{task_id}{user}'.encode()).hexdigest()[:8]}"
        self.response_codes[code] = ResponseCode(task_id, user, self.clock.now())
        return code

    async def _update_card(self, request: Request) -> JSONResponse:
        """A response_code is good once, within 72 h, and only for its own card's member."""
        path = "message/update_template_card"
        if (refusal := self._check_token(request, path)) is not None:
            return refusal
        body = await request.json()
        if body.get("agentid") != self.agent_id:
            return self._error(path, 301002, "invalid agentid")
        issued = self.response_codes.get(str(body.get("response_code", "")))
        if issued is None:
            return self._error(path, 40058, "invalid response_code")
        if issued.used:
            return self._error(path, 40058, "response_code already used")
        if self.clock.now() - issued.issued_at > RESPONSE_CODE_LIFE:
            return self._error(path, 40058, "response_code expired (72 h)")
        users = body.get("userids")
        if not isinstance(users, list) or users != [issued.user]:
            return self._error(path, 40058, "userids must be the card's own member")
        name = (body.get("button") or {}).get("replace_name")
        if not isinstance(name, str) or not name.strip():
            return self._error(path, 40058, "button.replace_name missing")
        issued.used = True
        self.cards[issued.task_id].replaced_by = name
        self.card_updates.append((issued.task_id, issued.user, name))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    def click(self, user: str, task_id: str, key: str, *, create_time: int | None = None) -> str:
        """The plaintext XML WeCom posts when `user` clicks the button `key` of card `task_id` (as in
        WeCom's 模板卡片事件推送 sample); a card WeCom knows gets a fresh response_code."""
        code = self._issue_code(task_id, user) if task_id in self.cards else f"rc-unknown-{next(self._ids)}"
        when = int(self.clock.now().timestamp()) if create_time is None else create_time
        return card_event(user, task_id, key, code, when)

    async def _appchat_send(self, request: Request) -> JSONResponse:
        if (refusal := self._check_token(request, "appchat/send")) is not None:
            return refusal
        body = await request.json()
        chat_id = body.get("chatid", "")
        if chat_id not in self.chats:
            return self._error("appchat/send", 86003, "chat not exist")
        if body.get("msgtype") == "image":
            content, problem = self._app_image(body)
        else:
            content, problem = _content(body, {"text": APP_CONTENT_BYTES, "markdown": APP_CONTENT_BYTES})
        if problem:
            return self._error("appchat/send", 44004, problem)
        self.sent.append(
            Sent("appchat", chat_id, body["msgtype"], content, body, self.clock.now().timestamp())
        )
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _media_upload(self, request: Request) -> JSONResponse:
        """Temporary media: multipart field `media`, an image of at most 2 MB (JPG/PNG) for type=image."""
        if (refusal := self._check_token(request, "media/upload")) is not None:
            return refusal
        kind = request.query_params.get("type", "")
        upload = form_file(request.headers.get("content-type", ""), await request.body(), "media")
        if kind != "image" or upload is None:
            return self._error("media/upload", 40004, "invalid media type or no media field")
        data = upload[1]
        if not data or len(data) > 2 * 1024 * 1024 or not data.startswith((b"\x89PNG", b"\xff\xd8")):
            return self._error("media/upload", 40009, "invalid image size or format")
        media_id = f"media-{next(self._ids)}"
        self.media[media_id] = data
        return JSONResponse({"errcode": 0, "errmsg": "ok", "type": "image", "media_id": media_id})

    def _app_image(self, body: dict[str, Any]) -> tuple[str, str | None]:
        """An app or appchat image names media uploaded before: its content here is the media id."""
        media_id = str(body.get("image", {}).get("media_id", ""))
        return media_id, None if media_id in self.media else "invalid media_id"

    async def _user_get(self, request: Request) -> JSONResponse:
        if (refusal := self._check_token(request, "user/get")) is not None:
            return refusal
        user = request.query_params.get("userid", "")
        if user not in self.users:
            return self._error("user/get", 60111, "userid not found")
        return JSONResponse({"errcode": 0, "errmsg": "ok", "userid": user, "name": self.users[user]})

    async def _webhook_send(self, request: Request) -> JSONResponse:
        key = request.query_params.get("key", "")
        if key not in self.robot_keys:
            return self._error("webhook/send", 93000, "invalid webhook url")
        if (code := self._scripted("webhook/send")) is not None:
            return self._error("webhook/send", code, "scripted")
        body = await request.json()
        now = self.clock.now().timestamp()
        recent = [s for s in self.robot_posts(key) if s.at > now - 60]
        if len(recent) >= self.robot_per_minute:
            return self._error("webhook/send", 45009, "api freq out of limit")
        msgtype = body.get("msgtype")
        if msgtype == "image":
            problem = _image_problem(body.get("image", {}))
            if problem:
                return self._error("webhook/send", 40009, problem)
            content = body["image"]["md5"]
        else:
            content, problem = _content(body, {"text": ROBOT_TEXT_BYTES, "markdown": ROBOT_MARKDOWN_BYTES})
            if problem:
                return self._error("webhook/send", 40058, problem)
        self.sent.append(Sent("robot", key, str(msgtype), content, body, now))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    # ----- rules --------------------------------------------------------------------------------------

    def _check_token(self, request: Request, path: str) -> JSONResponse | None:
        token = request.query_params.get("access_token", "")
        if token not in self._tokens:
            return self._error(path, 40014, "invalid access_token")
        if not self._tokens[token]:
            return self._error(path, 42001, "access_token expired")
        code = self._scripted(path)
        return self._error(path, code, "scripted") if code is not None else None

    def _scripted(self, path: str) -> int | None:
        queue = self.script.get(path)
        return queue.pop(0) if queue else None

    def _member_over_quota(self, user: str, now: float) -> bool:
        times = [s.at for s in self.sent if s.kind == "app" and s.to == user]
        return _count_since(times, now - 60) >= self.member_per_minute or (
            _count_since(times, now - 3600) >= self.member_per_hour
        )

    def _error(self, path: str, code: int, message: str, **extra: Any) -> JSONResponse:
        self.refused.append((path, code))
        return JSONResponse({"errcode": code, "errmsg": message, **extra})


def _count_since(times: Iterable[float], since: float) -> int:
    return sum(1 for t in times if t > since)


def _content(body: dict[str, Any], limits: dict[str, int]) -> tuple[str, str | None]:
    msgtype = body.get("msgtype")
    if msgtype not in limits:
        return "", f"unsupported msgtype {msgtype!r}"
    content = str(body.get(msgtype, {}).get("content", ""))
    if not content:
        return "", "empty content"
    if len(content.encode("utf-8")) > limits[msgtype]:
        return content, f"content over {limits[msgtype]} bytes"
    return content, None


def _image_problem(image: dict[str, Any]) -> str | None:
    try:
        data = base64.b64decode(image.get("base64", ""), validate=True)
    except (binascii.Error, ValueError):
        return "image base64 invalid"
    if not data or len(data) > 2 * 1024 * 1024:
        return "image size invalid"
    if hashlib.md5(data).hexdigest() != image.get("md5"):
        return "image md5 mismatch"
    return None


# ----- a teambeat bot wired to the fake, driven through its real /wecom/callback ------------------------

CORP_ID = "ww1436e0e65a779aee"
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
SECRET = "app-secret-0001"
AGENT_ID = 1000002
ROBOT_KEY = "robot-east-key"
EAST_CHANNEL = "wrEastHome"
WEST_CHAT = "wrWestAppChat"
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PEOPLE = {"boss": "Boss", "alice": "Alice", "bob": "Bob", "dave": "Dave", "wendy": "Wendy", "will": "Will"}

CONFIG = """
[database]
url = "{url}"

[wecom]
corp_id = "{corp}"
agent_id = {agent}
secret = "{secret}"
token = "{token}"
encoding_aes_key = "{key}"
api_base_url = "{api}"

[[teams]]
id = "east"
name = "华东一部"
platform = "wecom"
workspace = "{corp}"
channel = "{east}"
channel_webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={robot}"
locale = "zh-CN"
calendar = "cn"
leaders = ["boss"]

[[teams.groups]]
name = "狼队"
members = ["alice", "dave"]

[[teams.groups]]
name = "虎队"
members = ["bob"]

[[teams.members]]
id = "boss"
name = "Boss"
[[teams.members]]
id = "alice"
name = "Alice"
role = "lead"
[[teams.members]]
id = "bob"
name = "Bob"
[[teams.members]]
id = "dave"
name = "Dave"

[[teams]]
id = "west"
name = "华西一部"
platform = "wecom"
workspace = "{corp}"
channel = "{west}"
locale = "zh-CN"
calendar = "cn"
leaders = ["wendy"]

[[teams.members]]
id = "wendy"
name = "Wendy"
[[teams.members]]
id = "will"
name = "Will"
"""


def text_message(user: str, text: str, msg_id: str, create_time: str, *, chat_id: str | None = None) -> str:
    """The plaintext XML WeCom encrypts for a member's text message (a group one carries ChatId)."""
    chat = f"<ChatId><![CDATA[{chat_id}]]></ChatId>" if chat_id else ""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID>{chat}</xml>"
    )


def card_event(user: str, task_id: str, key: str, response_code: str, create_time: int) -> str:
    """A `template_card_event` as WeCom encrypts it (no MsgId: a click is named by its response code)."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
        f"<TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID>"
        f"<SelectedItems></SelectedItems></xml>"
    )


def passive_reply(oracle: WeChatCrypto, response: httpx.Response) -> dict[str, str] | None:
    """The passive reply in a callback answer, verified and decrypted by `oracle` (None: empty answer)."""
    if not response.content:
        return None
    envelope = parse_xml(response.content)
    plain = oracle.decrypt_message(
        response.text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    return parse_xml(plain.encode())


@dataclass
class WeComBot:
    """A member's side of the app chat: `say` encrypts and posts a message the way WeCom does."""

    app: App
    adapter: WeComAdapter
    fake: FakeWeCom
    client: httpx.AsyncClient
    clock: FixedClock
    worker: DeliveryWorker
    oracle: WeChatCrypto = field(default_factory=lambda: WeChatCrypto(TOKEN, AES_KEY, CORP_ID))
    ours: WeComCrypto = field(default_factory=lambda: WeComCrypto(TOKEN, AES_KEY, CORP_ID))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7_000_000_001))

    def message(self, user: str, text: str, *, msg_id: str | None = None, chat_id: str | None = None) -> str:
        """The plaintext XML WeCom encrypts for a text message (a group one carries ChatId)."""
        return text_message(user, text, msg_id or str(next(self._ids)), self.timestamp(), chat_id=chat_id)

    def timestamp(self) -> str:
        return str(int(self.clock.now().timestamp()))

    def sealed(self, plain: str, *, by: str = "wechatpy") -> tuple[bytes, dict[str, str]]:
        """Encrypt and sign `plain` as WeCom would (with wechatpy or with our own code)."""
        timestamp, nonce = self.timestamp(), str(next(self._ids))
        if by == "wechatpy":
            encrypt = parse_xml(self.oracle.encrypt_message(plain, nonce, timestamp).encode())["Encrypt"]
        else:
            encrypt = self.ours.encrypt(plain.encode())
        return self.envelope(encrypt), {
            "msg_signature": self.ours.sign(timestamp, nonce, encrypt),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    @staticmethod
    def envelope(encrypt: str) -> bytes:
        return (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ).encode()

    async def post(self, body: bytes, params: dict[str, str]) -> httpx.Response:
        return await self.client.post("/wecom/callback", params=params, content=body)

    async def say(
        self,
        user: str,
        text: str,
        *,
        chat_id: str | None = None,
        msg_id: str | None = None,
        by: str = "wechatpy",
    ) -> httpx.Response:
        body, params = self.sealed(self.message(user, text, msg_id=msg_id, chat_id=chat_id), by=by)
        return await self.post(body, params)

    async def click(self, user: str, task_id: str, key: str) -> tuple[httpx.Response, bytes, dict[str, str]]:
        """`user` clicks button `key` on card `task_id`: the callback WeCom posts, and its sealed body and
        query (to post again: a retry or a replay)."""
        body, params = self.sealed(self.fake.click(user, task_id, key))
        return await self.post(body, params), body, params

    def passive(self, response: httpx.Response) -> dict[str, str] | None:
        """The passive reply in a callback answer, verified and decrypted by wechatpy (None: empty answer)."""
        return passive_reply(self.oracle, response)

    async def deliver(self) -> None:
        """Replies still being worked on, then every post that is due."""
        await self.adapter.settle()
        await self.app.jobs.drain()
        await self.worker.drain()

    async def count(self, model: Any) -> int:
        async with self.app.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@contextlib.asynccontextmanager
async def wecom_bot(
    tmp_path: Path,
    database_url: tuple[str, str | None],
    *,
    sink_delay: float = 0.0,
    passive_reply_within: float = 1.5,
    canned: dict[str, OutgoingMessage] | None = None,
    work: bool = True,
) -> AsyncIterator[WeComBot]:
    """Teams east (group robot) and west (appchat) on WeCom, the fake API, and the bot's HTTP server.

    `sink_delay` slows every command down; `canned` answers given texts with a given reply (after the
    dispatcher has handled them), for replies of a chosen size. `work=False`: the adapter only takes
    callbacks in (`--role web`).
    """
    url, pg_schema = database_url
    clock = FixedClock(MONDAY)
    fake = FakeWeCom(
        clock=clock,
        corp_id=CORP_ID,
        secret=SECRET,
        agent_id=AGENT_ID,
        users=dict(PEOPLE),
        robot_keys={ROBOT_KEY},
        chats={WEST_CHAT},
    )
    async with serve(fake.asgi()) as api:
        path = tmp_path / "teambeat.toml"
        path.write_text(
            CONFIG.format(
                url=url,
                corp=CORP_ID,
                agent=AGENT_ID,
                secret=SECRET,
                token=TOKEN,
                key=AES_KEY,
                api=api,
                east=EAST_CHANNEL,
                west=WEST_CHAT,
                robot=ROBOT_KEY,
            ),
            encoding="utf-8",
        )
        app = await build_app(load_config(path, environ={}), clock, migrate=False, pg_schema=pg_schema)
        adapter = WeComAdapter(
            app.config.wecom,
            clock=clock,
            uow_factory=app.uow_factory,
            metrics=app.metrics,
            monotonic=lambda: clock.now().timestamp(),
            passive_reply_within=passive_reply_within,
            renderer=app.renderer,
            default_locale=app.config.bot.default_locale,
        )

        async def sink(message: IncomingMessage) -> OutgoingMessage | None:
            if sink_delay:
                await asyncio.sleep(sink_delay)
            reply = await app.dispatcher.handle(message)
            return (canned or {}).get(message.text, reply)

        await adapter.start(sink, work=work)
        worker = DeliveryWorker(app.uow_factory, {"wecom": adapter}, clock, metrics=app.metrics)
        try:
            async with (
                serve(build_web_app(app, {"wecom": adapter})) as base,
                httpx.AsyncClient(base_url=base, timeout=30) as client,
            ):
                yield WeComBot(app, adapter, fake, client, clock, worker)
        finally:
            await adapter.stop()
            await app.close()

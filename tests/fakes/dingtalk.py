"""A fake DingTalk on loopback, and a chat harness that drives teambeat's DingTalk adapter through it.

`FakeDingTalk` (one starlette app serving both api.dingtalk.com and oapi.dingtalk.com paths) checks what
the real one checks — app credentials, the access token header, robotCode, known conversations and users,
the 15,000-byte msgParam limit, ≤ 20 userIds a batch, the custom robot's signed URL (timestamp within an
hour, HMAC sign) and its 20 messages a minute (over it: errcode 130101 and a 10-minute block) — and records
everything it accepted. Time is the test's clock.

Robot interactive cards: `interactiveCards/send` (a `StandardCard` to one user's single chat or to a
group — `singleChatReceiver` or `openConversationId`, exactly one — checked as DingTalk checks it: token,
robotCode, template, a new cardBizId, a known user or conversation, a card whose request
buttons have ids) and its update (`PUT /v1.0/im/robots/interactiveCards`, a card sent before); the
clicks come back as DingTalk sends them: `card_click` (the callback body) over Stream as a frame of topic
`/v1.0/card/instances/callback`, or over HTTP signed with the registered apiSecret (`card_headers`).

`FakeStreamGateway` is DingTalk's Stream endpoint: a websocket server that sends CALLBACK frames and
collects ACKs, reached through a TCP proxy that can go silent (nothing forwarded either way, as with a
half-open connection), to prove the adapter's watchdog reconnects.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.dingtalk.adapter import DingTalkAdapter
from adapters.dingtalk.cards import CARD_TOPIC
from adapters.dingtalk.sign import CARD_SIGNATURE_HEADER, CARD_TIMESTAMP_HEADER, callback_sign, card_sign
from adapters.web.server import build_web_app
from bot.app import App, build_app
from bot.clock import Clock, FixedClock
from bot.config import load_config
from bot.delivery.digest import DealDigestFolder
from bot.delivery.worker import DeliveryWorker
from tests.fakes.multipart import form_file
from tests.support.loopback import serve

APP_KEY = "dingappkey01"
APP_SECRET = "app-secret-0123456789"
ROBOT_CODE = "dingrobot01"
CORP = "dingcorp01"
EAST = "cidEast0000=="
WEST = "cidWest0000=="
WEST_ROBOT_TOKEN = "robot-west-token"
WEST_ROBOT_SECRET = "SEC" + "1" * 64
SESSION_BASE = "https://oapi.dingtalk.com/robot/sendBySession?session="
BOT_ID = "$:LWCP_v1:$robot"
ROBOT_LIMIT = 20
ROBOT_BLOCK = timedelta(minutes=10)
MAX_MSG_PARAM = 15_000
CARD_SECRET = "card-api-secret-42"
CARD_SEND = "/v1.0/im/v1.0/robot/interactiveCards/send"
CARD_UPDATE = "/v1.0/im/robots/interactiveCards"
CARD_REGISTER = "/v1.0/card/callbacks/register"


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class Call:
    """One request the fake answered."""

    path: str
    query: dict[str, str]
    body: Any
    status: int
    answer: Any
    at: datetime


@dataclass
class FakeDingTalk:
    clock: Clock
    conversations: set[str] = field(default_factory=lambda: {EAST, WEST})
    users: dict[str, str] = field(default_factory=dict)
    """staffId → name: the people DingTalk knows (batchSend reports the others as invalid)."""
    robots: dict[str, str] = field(default_factory=lambda: {WEST_ROBOT_TOKEN: WEST_ROBOT_SECRET})
    """Custom group robots: access_token → signing secret."""
    token_lifetime: int = 7200
    token_latency: float = 0.0
    stream_endpoint: str = ""
    calls: list[Call] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    robot_violations: int = 0
    media: dict[str, bytes] = field(default_factory=dict)
    """media_id → bytes uploaded to /media/upload (an image message's photoURL names one)."""
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    """cardBizId → {"user" or "group" (its openConversationId), "data" (the card as sent), "updates"
    (each cardData put since)}."""
    card_callbacks: dict[str, tuple[str, str]] = field(default_factory=dict)
    """callbackRouteKey → (callbackUrl, apiSecret), as registered."""
    _scripted: dict[str, deque[tuple[int, Any]]] = field(default_factory=dict)
    _robot_log: dict[str, deque[datetime]] = field(default_factory=dict)
    _robot_blocked: dict[str, datetime] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- what the test reads ---------------------------------------------------------------------

    def ok(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path and c.status == 200 and _accepted(c.answer)]

    @property
    def token_requests(self) -> int:
        return len([c for c in self.calls if c.path == "/v1.0/oauth2/accessToken"])

    def group_posts(self, conversation: str = EAST) -> list[dict[str, Any]]:
        """msgParam of each OpenAPI group message accepted for `conversation`, in order."""
        return [
            json.loads(c.body["msgParam"])
            for c in self.ok("/v1.0/robot/groupMessages/send")
            if c.body["openConversationId"] == conversation
        ]

    def group_images(self, conversation: str = EAST) -> list[bytes]:
        """The pictures of each sampleImageMsg accepted for `conversation`, by the media id it named."""
        return [
            self.media[json.loads(c.body["msgParam"])["photoURL"]]
            for c in self.ok("/v1.0/robot/groupMessages/send")
            if c.body["openConversationId"] == conversation and c.body["msgKey"] == "sampleImageMsg"
        ]

    def dm_batches(self) -> list[tuple[list[str], dict[str, Any]]]:
        return [
            (c.body["userIds"], json.loads(c.body["msgParam"]))
            for c in self.ok("/v1.0/robot/oToMessages/batchSend")
        ]

    def dms(self, user: str) -> list[str]:
        """The markdown text of every DM `user` received."""
        return [param["text"] for users, param in self.dm_batches() if user in users and user in self.users]

    def robot_posts(self, token: str = WEST_ROBOT_TOKEN) -> list[dict[str, Any]]:
        return [c.body for c in self.ok("/robot/send") if c.query.get("access_token") == token]

    def session_replies(self, session: str) -> list[dict[str, Any]]:
        return [c.body for c in self.ok("/robot/sendBySession") if c.query.get("session") == session]

    def cards_to(self, user: str) -> list[tuple[str, dict[str, Any]]]:
        """(cardBizId, the card as it looks now) of every card sent to `user`, in order."""
        return [
            (card_id, (card["updates"] or [card["data"]])[-1])
            for card_id, card in self.cards.items()
            if card["user"] == user
        ]

    def group_cards(self, conversation: str = EAST) -> list[tuple[str, dict[str, Any]]]:
        """(cardBizId, the card as it looks now) of every card sent to the group, in order."""
        return [
            (card_id, (card["updates"] or [card["data"]])[-1])
            for card_id, card in self.cards.items()
            if card.get("group") == conversation
        ]

    def card_history(self, card_id: str) -> list[dict[str, Any]]:
        """The card as sent, then as each update left it."""
        card = self.cards[card_id]
        return [card["data"], *card["updates"]]

    def recall_card(self, card_id: str) -> None:
        """The card is gone from DingTalk (recalled, its group's history cleared): updates are refused."""
        del self.cards[card_id]

    def answers(self, path: str) -> list[Any]:
        return [c.answer for c in self.calls if c.path == path]

    # -- scripting -------------------------------------------------------------------------------

    def fail(self, path: str, status: int, answer: Any, times: int = 1) -> None:
        """Answer the next `times` calls to `path` with this status and body."""
        self._scripted.setdefault(path, deque()).extend([(status, answer)] * times)

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def fill_robot_minute(self, token: str = WEST_ROBOT_TOKEN) -> None:
        """Someone else used the robot's 20 messages this minute (another bot, a script)."""
        self._robot_log[token] = deque([self.clock.now()] * ROBOT_LIMIT)

    # -- the app -------------------------------------------------------------------------------------

    def asgi(self) -> Starlette:
        routes = {
            "/v1.0/oauth2/accessToken": self._token,
            "/v1.0/gateway/connections/open": self._open_connection,
            "/v1.0/robot/groupMessages/send": self._group_send,
            "/v1.0/robot/oToMessages/batchSend": self._batch_send,
            "/robot/send": self._robot_send,
            "/robot/sendBySession": self._session_send,
            "/topapi/v2/user/get": self._user_get,
            CARD_SEND: self._card_send,
            CARD_REGISTER: self._card_register,
        }
        return Starlette(
            routes=[
                *(Route(path, self._wrap(path, fn), methods=["POST"]) for path, fn in routes.items()),
                Route(CARD_UPDATE, self._wrap(CARD_UPDATE, self._card_update), methods=["PUT"]),
                Route("/media/upload", self._media_upload, methods=["POST"]),
            ]
        )

    async def _media_upload(self, request: Request) -> JSONResponse:
        """Old-API media upload: access_token and type=image in the query, the file as multipart `media`."""
        query = dict(request.query_params)
        upload = form_file(request.headers.get("content-type", ""), await request.body(), "media")
        scripted = self._scripted.get("/media/upload")
        if scripted:
            status, answer = scripted.popleft()
        elif query.get("access_token") not in self.valid_tokens:
            status, answer = 200, {"errcode": 40014, "errmsg": "不合法的access_token"}
        elif query.get("type") != "image" or upload is None:
            status, answer = 200, {"errcode": 40004, "errmsg": "不合法的媒体文件类型"}
        elif not upload[1].startswith((b"\x89PNG", b"\xff\xd8")) or len(upload[1]) > 20 * 1024 * 1024:
            status, answer = 200, {"errcode": 40006, "errmsg": "不合法的文件大小或格式"}
        else:
            media_id = f"@media-{next(self._ids)}"
            self.media[media_id] = upload[1]
            status, answer = 200, {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": media_id}
        body = {"filename": upload[0], "size": len(upload[1])} if upload else None
        self.calls.append(Call("/media/upload", query, body, status, answer, self.clock.now()))
        return JSONResponse(answer, status_code=status)

    def _wrap(self, path, handler):
        async def endpoint(request: Request) -> JSONResponse:
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                body = None
            query = dict(request.query_params)
            scripted = self._scripted.get(path)
            if scripted:
                status, answer = scripted.popleft()
            else:
                status, answer = await handler(request, body, query)
            self.calls.append(Call(path, query, body, status, answer, self.clock.now()))
            return JSONResponse(answer, status_code=status)

        return endpoint

    async def _token(self, request, body, query):
        if not isinstance(body, dict) or (body.get("appKey"), body.get("appSecret")) != (APP_KEY, APP_SECRET):
            return 400, {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret"}
        if self.token_latency:
            await asyncio.sleep(self.token_latency)
        token = f"tok-{next(self._ids)}"
        self.valid_tokens.add(token)
        return 200, {"accessToken": token, "expireIn": self.token_lifetime}

    def _token_problem(self, request: Request):
        if request.headers.get("x-acs-dingtalk-access-token") not in self.valid_tokens:
            return 400, {"code": "InvalidAuthentication", "message": "不合法的access_token"}
        return None

    async def _open_connection(self, request, body, query):
        if not isinstance(body, dict) or (body.get("clientId"), body.get("clientSecret")) != (
            APP_KEY,
            APP_SECRET,
        ):
            return 401, {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret"}
        return 200, {"endpoint": self.stream_endpoint, "ticket": f"ticket-{next(self._ids)}"}

    def _message_problem(self, body: Any):
        if not isinstance(body, dict) or body.get("robotCode") != ROBOT_CODE:
            return 400, {"code": "invalidParameter.robotCode", "message": "robot 不存在"}
        if body.get("msgKey") not in ("sampleMarkdown", "sampleText", "sampleImageMsg"):
            return 400, {"code": "invalidParameter.msgKey", "message": "msgKey 不合法"}
        param = body.get("msgParam")
        if not isinstance(param, str) or len(param.encode()) > MAX_MSG_PARAM:
            return 400, {"code": "invalidParameter.msgParam", "message": "msgParam 超过长度限制"}
        try:
            parsed = json.loads(param)
        except ValueError:
            return 400, {"code": "invalidParameter.msgParam", "message": "msgParam 不是 JSON"}
        if body["msgKey"] == "sampleMarkdown" and not (parsed.get("title") and parsed.get("text")):
            return 400, {"code": "invalidParameter.msgParam", "message": "title/text 不能为空"}
        if body["msgKey"] == "sampleImageMsg" and parsed.get("photoURL") not in self.media:
            return 400, {"code": "invalidParameter.msgParam", "message": "photoURL 不是上传过的 media_id"}
        return None

    async def _group_send(self, request, body, query):
        problem = self._token_problem(request) or self._message_problem(body)
        if problem:
            return problem
        if body.get("openConversationId") not in self.conversations:
            return 400, {"code": "invalidParameter.openConversationId", "message": "群不存在或机器人不在群内"}
        return 200, {"processQueryKey": f"gq-{next(self._ids)}"}

    async def _batch_send(self, request, body, query):
        problem = self._token_problem(request) or self._message_problem(body)
        if problem:
            return problem
        users = body.get("userIds")
        if not isinstance(users, list) or not 1 <= len(users) <= 20:
            return 400, {"code": "invalidParameter.userIds", "message": "userIds 最多 20 个"}
        invalid = [u for u in users if u not in self.users]
        return 200, {
            "processQueryKey": f"dq-{next(self._ids)}",
            "invalidStaffIdList": invalid,
            "flowControlledStaffIdList": [],
        }

    async def _robot_send(self, request, body, query):
        token = query.get("access_token", "")
        if token not in self.robots:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        secret = self.robots[token]
        now = self.clock.now()
        if secret:
            try:
                sent_at = int(query.get("timestamp", ""))
            except ValueError:
                return 200, {"errcode": 310000, "errmsg": "sign not match, timestamp missing"}
            expected = base64.b64encode(
                hmac.new(secret.encode(), f"{sent_at}\n{secret}".encode(), hashlib.sha256).digest()
            ).decode()
            if abs(_ms(now) - sent_at) > 3_600_000 or query.get("sign") != expected:
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown"):
            return 200, {"errcode": 400105, "errmsg": "不支持的消息类型"}
        blocked = self._robot_blocked.get(token)
        if blocked is not None and blocked > now:
            return 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        log = self._robot_log.setdefault(token, deque())
        while log and log[0] <= now - timedelta(minutes=1):
            log.popleft()
        if len(log) >= ROBOT_LIMIT:
            self.robot_violations += 1
            self._robot_blocked[token] = now + ROBOT_BLOCK
            return 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        log.append(now)
        return 200, {"errcode": 0, "errmsg": "ok"}

    async def _session_send(self, request, body, query):
        if not query.get("session"):
            return 200, {"errcode": 300001, "errmsg": "session is not exist"}
        if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown"):
            return 200, {"errcode": 400105, "errmsg": "不支持的消息类型"}
        return 200, {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _card_problem(card_data: Any):
        """A StandardCard as DingTalk draws it: a title, contents, request buttons that have ids."""
        try:
            card = json.loads(card_data) if isinstance(card_data, str) else None
        except ValueError:
            card = None
        if not isinstance(card, dict) or not (card.get("header") or {}).get("title", {}).get("text"):
            return 400, {"code": "invalidParameter.cardData", "message": "cardData 不是合法的卡片 JSON"}
        contents = card.get("contents")
        if not isinstance(contents, list) or not contents:
            return 400, {"code": "invalidParameter.cardData", "message": "contents 不能为空"}
        ids = []
        for block in contents:
            for action in block.get("actions", []) if block.get("type") == "action" else []:
                if action.get("actionType") != "request" or not action.get("id"):
                    return 400, {"code": "invalidParameter.cardData", "message": "按钮缺少 id"}
                if not (action.get("label") or {}).get("text"):
                    return 400, {"code": "invalidParameter.cardData", "message": "按钮缺少文字"}
                ids.append(action["id"])
        if len(ids) != len(set(ids)):
            return 400, {"code": "invalidParameter.cardData", "message": "按钮 id 重复"}
        return None

    async def _card_send(self, request, body, query):
        problem = self._token_problem(request)
        if problem:
            return problem
        if not isinstance(body, dict) or body.get("robotCode") != ROBOT_CODE:
            return 400, {"code": "invalidParameter.robotCode", "message": "robot 不存在"}
        if body.get("cardTemplateId") != "StandardCard":
            return 400, {"code": "invalidParameter.cardTemplateId", "message": "模板不存在"}
        card_id = body.get("cardBizId")
        if not isinstance(card_id, str) or not card_id or card_id in self.cards:
            return 400, {"code": "invalidParameter.cardBizId", "message": "cardBizId 为空或重复"}
        group, single = body.get("openConversationId"), body.get("singleChatReceiver")
        if bool(group) == bool(single):  # 二选一必填: a group or one person's single chat, never both
            return 400, {
                "code": "invalidParameter",
                "message": "openConversationId 与 singleChatReceiver 二选一",
            }
        user = None
        if group:
            if group not in self.conversations:
                return 400, {"code": "invalidParameter.openConversationId", "message": "群不存在"}
        else:
            try:
                receiver = json.loads(single)
            except (TypeError, ValueError):
                receiver = None
            user = receiver.get("userId") if isinstance(receiver, dict) else None
            if user not in self.users:
                return 400, {"code": "invalidParameter.singleChatReceiver", "message": "接收人不存在"}
        problem = self._card_problem(body.get("cardData"))
        if problem:
            return problem
        self.cards[card_id] = {
            "user": user,
            "group": group,
            "data": json.loads(body["cardData"]),
            "updates": [],
        }
        return 200, {"processQueryKey": f"cq-{next(self._ids)}"}

    async def _card_register(self, request, body, query):
        problem = self._token_problem(request)
        if problem:
            return problem
        if not isinstance(body, dict) or not all(
            isinstance(body.get(key), str) and body[key]
            for key in ("callbackRouteKey", "callbackUrl", "apiSecret")
        ):
            return 400, {"code": "invalidParameter", "message": "callbackRouteKey/callbackUrl/apiSecret 必填"}
        self.card_callbacks[body["callbackRouteKey"]] = (body["callbackUrl"], body["apiSecret"])
        return 200, {"success": True, "result": {"callbackUrl": body["callbackUrl"]}}

    async def _card_update(self, request, body, query):
        problem = self._token_problem(request)
        if problem:
            return problem
        if not isinstance(body, dict) or body.get("cardBizId") not in self.cards:
            return 400, {"code": "invalidParameter.cardBizId", "message": "卡片不存在"}
        problem = self._card_problem(body.get("cardData"))
        if problem:
            return problem
        self.cards[body["cardBizId"]]["updates"].append(json.loads(body["cardData"]))
        return 200, {"success": True, "result": True}

    async def _user_get(self, request, body, query):
        if query.get("access_token") not in self.valid_tokens:
            return 200, {"errcode": 88, "errmsg": "不合法的access_token"}
        user = (body or {}).get("userid")
        if user not in self.users:
            return 200, {"errcode": 60121, "errmsg": "找不到该用户"}
        return 200, {"errcode": 0, "result": {"userid": user, "name": self.users[user]}}


def _accepted(answer: Any) -> bool:
    return not isinstance(answer, dict) or answer.get("errcode", 0) == 0


# ----- Stream mode ---------------------------------------------------------------------------------


def callback_frame(data: dict[str, Any], message_id: str, topic: str = "/v1.0/im/bot/messages/get") -> dict:
    """A Stream CALLBACK frame as DingTalk sends it (`data` is a JSON string)."""
    return {
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": {"topic": topic, "messageId": message_id, "contentType": "application/json"},
        "data": json.dumps(data, ensure_ascii=False),
    }


def card_click(card_id: str, user: str, button: str, corp: str = CORP) -> dict[str, Any]:
    """A card callback body as DingTalk sends it (HTTP body, or a Stream frame's data)."""
    return {
        "extension": "{}",
        "corpId": corp,
        "type": "actionCallback",
        "userId": user,
        "userIdType": 1,
        "spaceType": "im",
        "outTrackId": card_id,
        "content": json.dumps({"cardPrivateData": {"actionIds": [button], "params": {}}}),
    }


def card_frame(data: dict[str, Any], message_id: str) -> dict[str, Any]:
    return callback_frame(data, message_id, topic=CARD_TOPIC)


def card_headers(timestamp_ms: int, secret: str = CARD_SECRET) -> dict[str, str]:
    return {
        CARD_TIMESTAMP_HEADER: str(timestamp_ms),
        CARD_SIGNATURE_HEADER: card_sign(secret, timestamp_ms),
        "content-type": "application/json",
    }


def button_ids(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, id) of each button a card shows."""
    return [
        (action["label"]["text"], action["id"])
        for block in card["contents"]
        if block.get("type") == "action"
        for action in block["actions"]
    ]


class _Pipe:
    def __init__(self) -> None:
        self.silent = False
        self.tasks: list[asyncio.Task[None]] = []


class FakeStreamGateway:
    """DingTalk's Stream websocket endpoint, behind a proxy that can stop forwarding."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.received: list[dict[str, Any]] = []
        self.tickets: list[str] = []
        self._server: Any = None
        self._proxy: asyncio.Server | None = None
        self._pipes: list[_Pipe] = []
        self._changed = asyncio.Condition()

    @property
    def endpoint(self) -> str:
        assert self._proxy is not None
        port = self._proxy.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/connect"

    async def start(self) -> None:
        self._server = await websockets.serve(self._handler, "127.0.0.1", 0)
        self._proxy = await asyncio.start_server(self._forward, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
        for pipe in self._pipes:
            for task in pipe.tasks:
                task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handler(self, connection: Any) -> None:
        self.tickets.append(connection.request.path)
        async with self._changed:
            self.connections.append(connection)
            self._changed.notify_all()
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            async for raw in connection:
                async with self._changed:
                    self.received.append(json.loads(raw))
                    self._changed.notify_all()

    async def _forward(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
        pipe = _Pipe()
        self._pipes.append(pipe)
        pipe.tasks = [
            asyncio.create_task(self._copy(client_reader, server_writer, pipe)),
            asyncio.create_task(self._copy(server_reader, client_writer, pipe)),
        ]

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pipe: _Pipe) -> None:
        try:
            while data := await reader.read(65536):
                if not pipe.silent:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def go_silent(self) -> None:
        """Every open connection stops passing bytes, both ways (no frames, no pongs), but stays open."""
        for pipe in self._pipes:
            pipe.silent = True

    async def wait_for(self, predicate, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def send(self, frame: dict[str, Any]) -> None:
        """Send a frame on the newest connection."""
        await self.connections[-1].send(json.dumps(frame, ensure_ascii=False))

    def acks(self, message_id: str) -> list[dict[str, Any]]:
        return [f for f in self.received if (f.get("headers") or {}).get("messageId") == message_id]


# ----- the chat harness ----------------------------------------------------------------------------

TEAMS_TOML = """
[[teams]]
id = "east"
name = "华东一部"
platform = "dingtalk"
workspace = "{corp}"
channel = "{east}"
locale = "zh-CN"
calendar = "cn"
leaders = ["boss01"]

[[teams.groups]]
name = "狼队"
members = ["alice01", "dave01"]

[[teams.groups]]
name = "虎队"
members = ["bob01"]

[[teams.members]]
id = "boss01"
name = "王总"
[[teams.members]]
id = "alice01"
name = "alice"
role = "lead"
[[teams.members]]
id = "bob01"
name = "bob"
[[teams.members]]
id = "dave01"
name = "dave"

[[teams]]
id = "west"
name = "华西二部"
platform = "dingtalk"
workspace = "{corp}"
channel = "{west}"
channel_webhook = "https://oapi.dingtalk.com/robot/send?access_token={robot_token}"
channel_secret = "{robot_secret}"
locale = "zh-CN"
calendar = "cn"
leaders = ["li01"]

[[teams.members]]
id = "li01"
name = "李经理"
[[teams.members]]
id = "zhao01"
name = "赵六"
"""

PEOPLE = {
    "boss01": "王总",
    "alice01": "alice",
    "bob01": "bob",
    "dave01": "dave",
    "li01": "李经理",
    "zhao01": "赵六",
}


def write_dingtalk_config(
    tmp_path: Path, url: str, fake_url: str, mode: str = "http", public_url: str = ""
) -> Path:
    teams = TEAMS_TOML.format(
        corp=CORP, east=EAST, west=WEST, robot_token=WEST_ROBOT_TOKEN, robot_secret=WEST_ROBOT_SECRET
    )
    path = tmp_path / "teambeat.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n[dingtalk]\nmode = "{mode}"\napp_key = "{APP_KEY}"\n'
        f'app_secret = "{APP_SECRET}"\nrobot_code = "{ROBOT_CODE}"\napi_base_url = "{fake_url}"\n'
        f'oapi_base_url = "{fake_url}"\ncard_secret = "{CARD_SECRET}"\n'
        + (f'\n[server]\npublic_url = "{public_url}"\n' if public_url else "")
        + teams,
        encoding="utf-8",
    )
    return path


def strip_mentions(text: str, at_users: Iterable[str], names: Mapping[str, str] = PEOPLE) -> str:
    """`text` as DingTalk delivers it: the first `@name` (or `@staffId`) of each mentioned person gone."""
    for user in at_users:
        for handle in (names.get(user), user):
            if not handle:
                continue
            text, found = re.subn(rf"[@＠]{re.escape(handle)}(?=\s|$)", "", text, count=1)
            if found:
                break
    return text


def mentioned_in(text: str, names: Mapping[str, str] = PEOPLE) -> list[str]:
    """The staffIds of the people `text` @-mentions by name or staffId, in order (what a DingTalk
    client turns into real mentions when they are picked from the member list)."""
    by_name = {name: user for user, name in names.items()}
    found = [
        by_name.get(token) or (token if token in names else None) for token in re.findall(r"[@＠](\S+)", text)
    ]
    return [user for user in found if user]


def robot_message(
    text: str,
    *,
    sender: str,
    msg_id: str,
    session: str,
    expires_at: datetime,
    group: str | None = EAST,
    at_users: Iterable[str] = (),
    nick: str | None = None,
    names: Mapping[str, str] = PEOPLE,
) -> dict[str, Any]:
    """A robot message as DingTalk delivers it (HTTP body or Stream data). `text` is what the sender
    typed after @-ing the robot, `at_users` the staffIds they @-mentioned in it; as DingTalk does, each
    one's `@name` (their name in `names`, or `@staffId`) is taken out of `text.content`, and the people
    are listed only in `atUsers`, in order, after the robot (in a group)."""
    at_users = list(at_users)
    payload: dict[str, Any] = {
        "msgId": msg_id,
        "msgtype": "text",
        "text": {"content": strip_mentions(text, at_users, names)},
        "createAt": _ms(expires_at - timedelta(minutes=90)),
        "conversationType": "2" if group else "1",
        "conversationId": group or f"cidDM-{sender}",
        "senderId": f"$:LWCP_v1:${sender}",
        "senderStaffId": sender,
        "senderNick": nick or names.get(sender, sender),
        "senderCorpId": CORP,
        "chatbotCorpId": CORP,
        "chatbotUserId": BOT_ID,
        "robotCode": ROBOT_CODE,
        "isInAtList": bool(group),
        "atUsers": [{"dingtalkId": BOT_ID}] * bool(group)
        + [{"dingtalkId": f"$:LWCP_v1:${u}", "staffId": u} for u in at_users],
        "sessionWebhook": SESSION_BASE + session,
        "sessionWebhookExpiredTime": _ms(expires_at),
    }
    return payload


class DingTalkChat:
    """Members talk to the robot over signed HTTP callbacks; what the fake DingTalk received is the record."""

    def __init__(
        self, app: App, adapter: DingTalkAdapter, fake: FakeDingTalk, http: httpx.AsyncClient
    ) -> None:
        self.app = app
        self.adapter = adapter
        self.fake = fake
        self.http = http
        self.clock: FixedClock = app.clock  # type: ignore[assignment]
        # As `teambeat run` builds it: queued 喜报 fold into a digest when the robot's rate is short.
        self.worker = DeliveryWorker(
            app.uow_factory,
            {"dingtalk": adapter},
            app.clock,
            folder=DealDigestFolder(app.renderer),
            metrics=app.metrics,
        )
        self._ids = itertools.count(1)
        self.names = dict(PEOPLE)
        """staffId → name of the people in the groups: their `@name` in a message is a real mention."""

    def message(
        self,
        who: str,
        text: str,
        *,
        group: str | None = EAST,
        at: Sequence[str] | None = None,
        msg_id: str | None = None,
    ) -> dict[str, Any]:
        """`text` as typed; every `@name` of a known person is a real mention unless `at` lists them."""
        n = next(self._ids)
        return robot_message(
            text,
            sender=who,
            msg_id=msg_id or f"msg{n:04d}",
            session=f"s{n}",
            expires_at=self.clock.now() + timedelta(minutes=90),
            group=group,
            at_users=mentioned_in(text, self.names) if at is None else at,
            names=self.names,
        )

    def headers(self, timestamp_ms: int | None = None, secret: str = APP_SECRET) -> dict[str, str]:
        ts = _ms(self.clock.now()) if timestamp_ms is None else timestamp_ms
        return {"timestamp": str(ts), "sign": callback_sign(secret, ts), "content-type": "application/json"}

    async def post(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        response = await self.http.post("/dingtalk/callback", content=body, headers=headers or self.headers())
        await self.adapter.settle()
        return response

    async def say(
        self, who: str, text: str, *, group: str | None = EAST, at: Sequence[str] | None = None
    ) -> str:
        """`who` @-mentions the robot in `group` (or DMs it) with `text`; the markdown of its reply."""
        payload = self.message(who, text, group=group, at=at)
        response = await self.post(payload)
        assert response.status_code == 200, response.text
        session = payload["sessionWebhook"].rsplit("=", 1)[1]
        return "\n".join(r["markdown"]["text"] for r in self.fake.session_replies(session))

    async def click(
        self, card_id: str, user: str, button: str, *, headers: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        """`user` clicks `button` on card `card_id`: DingTalk's signed HTTP callback to /dingtalk/card."""
        payload = {**card_click(card_id, user, button), **body}
        response = await self.http.post(
            "/dingtalk/card",
            content=json.dumps(payload).encode(),
            headers=headers or card_headers(_ms(self.clock.now())),
        )
        await self.adapter.settle()
        return response

    def replies(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        return self.fake.session_replies(payload["sessionWebhook"].rsplit("=", 1)[1])

    async def deliver(self) -> int:
        await self.app.jobs.drain()
        return await self.worker.drain()


@contextlib.asynccontextmanager
async def open_dingtalk(
    tmp_path: Path,
    database_url: tuple[str, str | None],
    clock: FixedClock,
    *,
    mode: str = "http",
    stream_endpoint: str = "",
    public_url: str = "",
    **adapter_options: Any,
) -> AsyncIterator[DingTalkChat]:
    """teambeat with the DingTalk adapter, its server and the fake DingTalk, all on loopback."""
    fake = FakeDingTalk(clock, users=dict(PEOPLE), stream_endpoint=stream_endpoint)
    url, pg_schema = database_url
    async with serve(fake.asgi()) as fake_url:
        config = load_config(write_dingtalk_config(tmp_path, url, fake_url, mode, public_url), environ={})
        app = await build_app(config, clock, migrate=False, pg_schema=pg_schema)
        adapter = DingTalkAdapter(app, **adapter_options)
        try:
            await adapter.start(app.dispatcher.handle)
            async with (
                serve(build_web_app(app, {"dingtalk": adapter})) as base_url,
                httpx.AsyncClient(base_url=base_url) as http,
            ):
                yield DingTalkChat(app, adapter, fake, http)
        finally:
            await adapter.stop()
            await app.close()

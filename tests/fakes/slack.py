"""A fake Slack on loopback for the real slack_sdk / slack-bolt clients.

It serves the Web API methods teambeat calls (auth.test, chat.postMessage, chat.postEphemeral,
chat.update, conversations.open, users.info, apps.connections.open, oauth.v2.access, views.open, and the
external file upload: files.getUploadURLExternal, the upload URL, files.completeUploadExternal), slash-command
response_url hooks and a Socket Mode WebSocket. views.open takes only a trigger_id this fake issued (with
a command or a click), within 3 s and once, and a view within Slack's modal limits. It keeps the
messages posted in each channel: chat.update edits only one of them by channel id and ts, only the
bot's own (`message_not_found`, `cant_update_message` as Slack answers), within the Block Kit limits,
keeping the old blocks when none are given; a test may delete a message, or post one as a person.
It checks tokens, knows which channels and users exist, rejects
Block Kit over Slack's limits (so a renderer that overflows fails loudly), can answer 429 with
Retry-After, and records every call. Helpers at the bottom build and sign requests the way Slack does,
with slack_sdk's SignatureVerifier — independent of bolt's verification on the other side.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

TEXT_MAX = 40_000
HEADER_MAX = 150
SECTION_MAX = 3_000
FIELDS_MAX = 10
FIELD_MAX = 2_000
BLOCKS_MAX = 50
TRIGGER_SECONDS = 3.0  # a trigger_id opens a view within 3 s of the interaction, once
MODAL_BLOCKS_MAX = 100
MODAL_TEXT_MAX = 24  # title, submit, close
METADATA_MAX = 3_000
CALLBACK_ID_MAX = 255
LABEL_MAX = 2_000
PLACEHOLDER_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2_000
ACTION_ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25


@dataclass
class Upload:
    """A file announced by files.getUploadURLExternal; `data` once its bytes arrived, `channel` once
    files.completeUploadExternal shared it."""

    file_id: str
    team_id: str
    filename: str
    length: int
    data: bytes | None = None
    channel: str | None = None
    title: str = ""


@dataclass
class Workspace:
    """One Slack workspace the fake knows: its bot token, channels and people."""

    team_id: str
    bot_token: str
    bot_user_id: str = "UBOT"
    channels: set[str] = field(default_factory=set)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    dms: dict[str, str] = field(default_factory=dict)  # user id -> D… channel

    def add_user(self, user_id: str, name: str, tz: str = "Asia/Shanghai") -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name.lower(),
            "real_name": name,
            "tz": tz,
            "profile": {"display_name": name, "real_name": name, "email": f"{name.lower()}@example.com"},
        }


@dataclass
class Call:
    method: str
    token: str | None
    args: dict[str, Any]
    status: int
    ok: bool
    error: str | None = None
    at: float = field(default_factory=time.time)  # when it arrived (benchmarks time deliveries by it)


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: float | None
    after: int = 0  # calls that still succeed before this failure


class FakeSlack:
    def __init__(
        self,
        workspaces: Iterable[Workspace],
        *,
        app_token: str = "xapp-1-fake",
        client_id: str = "cid.1",
        client_secret: str = "csecret",
    ) -> None:
        self.workspaces = {w.team_id: w for w in workspaces}
        self.app_token = app_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # what arrived at response_url hooks
        self.oauth_codes: dict[str, Workspace] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._ts = itertools.count(1)
        self.uploads: dict[str, Upload] = {}
        self._file_ids = itertools.count(1)
        # Socket Mode
        self.silent_connections: set[int] = set()  # these connections never get `hello`
        self.socket_connections = 0
        self.socket_acks: list[dict[str, Any]] = []
        self._live: WebSocket | None = None
        self._changed = asyncio.Condition()
        # Interactivity: trigger ids issued (id → (team, user, when)), views opened (id → view, user)
        self.triggers: dict[str, tuple[str, str, float]] = {}
        self.exchanged: set[str] = set()
        self.views: dict[str, dict[str, Any]] = {}
        self._view_ids = itertools.count(1)
        self.clock = time.monotonic  # what "within 3 s" is measured with (tests may move it)
        # What each channel shows now: (channel, ts) → {"user", "team", "text", "blocks", "edited"}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}

    def issue_trigger(self, team_id: str, user_id: str) -> str:
        """A trigger_id as Slack puts in a command or an interaction payload, valid for 3 s."""
        trigger = f"{next(_TRIGGERS)}.{next(_TRIGGERS)}.{uuid.uuid4().hex[:10]}"
        self.triggers[trigger] = (team_id, user_id, self.clock())
        return trigger

    # ----- test controls ----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: float | None = 3,
        after: int = 0,
    ) -> None:
        """The next call of `method` (or the one after `after` more) gets this answer instead: by
        default 429 with Retry-After."""
        self._failures.setdefault(method, []).append(_Failure(status, error, retry_after, after))

    def _planned_failure(self, method: str) -> _Failure | None:
        planned = self._failures.get(method)
        if not planned:
            return None
        if planned[0].after > 0:
            planned[0].after -= 1
            return None
        return planned.pop(0)

    def succeeded(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.ok]

    def attempts(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """chat.postMessage calls that Slack accepted, optionally to one channel."""
        return [
            c.args
            for c in self.succeeded("chat.postMessage")
            if channel is None or c.args.get("channel") == channel
        ]

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        return [
            c.args for c in self.succeeded("chat.postEphemeral") if user is None or c.args.get("user") == user
        ]

    def shared_files(self, channel: str | None = None) -> list[Upload]:
        """Files completed into a channel (optionally one), in the order they were shared."""
        return [u for u in self.uploads.values() if u.channel and (channel is None or u.channel == channel)]

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """The messages the channel shows now, oldest first, as edited (deleted ones gone)."""
        return [m for (c, _), m in sorted(self.messages.items(), key=lambda i: i[0][1]) if c == channel]

    def delete_message(self, channel: str, ts: str) -> None:
        """Someone deletes the message (an admin tidying the channel)."""
        del self.messages[(channel, ts)]

    def post_as(self, team_id: str, user_id: str, channel: str, text: str) -> str:
        """A person's own message in the channel; its ts."""
        ts = self._next_ts()
        self.messages[(channel, ts)] = {"user": user_id, "team": team_id, "text": text, "blocks": []}
        return ts

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def response_url(self, base_url: str) -> str:
        return f"{base_url}/hooks/commands/{uuid.uuid4().hex[:12]}"

    def answers_at(self, response_url: str) -> list[dict[str, Any]]:
        return [r["body"] for r in self.responses if r["url"].endswith(response_url.rsplit("/", 2)[-1])]

    # ----- the ASGI app -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/hooks/commands/{hook}", self._hook, methods=["POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                WebSocketRoute("/socket-mode", self._socket),
            ]
        )

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = await _arguments(request)
        token = _bearer(request) or args.pop("token", None)
        planned = self._planned_failure(method)
        if planned is not None:
            self.calls.append(Call(method, token, args, planned.status, False, planned.error))
            headers = (
                {"Retry-After": str(int(planned.retry_after))} if planned.retry_after is not None else {}
            )
            return JSONResponse({"ok": False, "error": planned.error}, planned.status, headers=headers)
        if method == "oauth.v2.access":
            data = self._oauth_access(request, args)
        elif method == "apps.connections.open":
            data = self._connections_open(request, token)
        else:
            workspace = self._by_token(token)
            data = (
                self._method(method, workspace, args) if workspace else {"ok": False, "error": "invalid_auth"}
            )
            if workspace and data.get("upload_url") == "":
                data["upload_url"] = f"{str(request.base_url).rstrip('/')}/upload/{data['file_id']}"
        self.calls.append(Call(method, token, args, 200, bool(data.get("ok")), data.get("error")))
        return JSONResponse(data)

    def _by_token(self, token: str | None) -> Workspace | None:
        return next((w for w in self.workspaces.values() if token and w.bot_token == token), None)

    def _method(self, method: str, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": f"https://{ws.team_id.lower()}.slack.com/",
                "team": ws.team_id,
                "user": "teambeat",
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "bot_id": f"B{ws.team_id}",
                "is_enterprise_install": False,
            }
        if method == "users.info":
            user = ws.users.get(str(args.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "conversations.open":
            users = str(args.get("users") or "").split(",")
            if len(users) != 1 or users[0] not in ws.users:
                return {"ok": False, "error": "user_not_found"}
            channel = ws.dms.setdefault(users[0], "D" + users[0].lstrip("UW"))
            return {"ok": True, "channel": {"id": channel}}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            channel = str(args.get("channel") or "")
            if channel not in ws.channels and channel not in ws.dms.values():
                return {"ok": False, "error": "channel_not_found"}
            if method == "chat.postEphemeral" and args.get("user") not in ws.users:
                return {"ok": False, "error": "user_not_in_channel"}
            problem = block_kit_problem(args)
            if problem:
                return {"ok": False, "error": "invalid_blocks", "detail": problem}
            ts = self._next_ts()
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": ts}
            self.messages[(channel, ts)] = {
                "user": ws.bot_user_id,
                "team": ws.team_id,
                "text": str(args.get("text") or ""),
                "blocks": _blocks(args),
                "edited": False,
            }
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            return self._update(ws, args)
        if method == "files.getUploadURLExternal":
            length = str(args.get("length") or "")
            if not args.get("filename") or not length.isdigit() or int(length) <= 0:
                return {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{next(self._file_ids):08d}"
            self.uploads[file_id] = Upload(file_id, ws.team_id, str(args["filename"]), int(length))
            return {"ok": True, "upload_url": "", "file_id": file_id}  # the URL is filled in by _api
        if method == "files.completeUploadExternal":
            return self._complete_upload(ws, args)
        if method == "views.open":
            return self._views_open(ws, args)
        return {"ok": False, "error": "unknown_method"}

    def _update(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        """chat.update: the channel by id (a name is not found), the ts of a message in it, the bot's own."""
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if channel not in ws.channels and channel not in ws.dms.values():
            return {"ok": False, "error": "channel_not_found"}
        message = self.messages.get((channel, ts))
        if message is None or message["team"] != ws.team_id:
            return {"ok": False, "error": "message_not_found"}
        if message["user"] != ws.bot_user_id:
            return {"ok": False, "error": "cant_update_message"}
        edited = dict(message, edited=True)
        if "text" in args:
            edited["text"] = str(args.get("text") or "")
        if "blocks" in args:  # without blocks, Slack keeps the message's old ones
            edited["blocks"] = _blocks(args)
        problem = block_kit_problem({"text": edited["text"], "blocks": edited["blocks"]})
        if problem:
            return {"ok": False, "error": "invalid_blocks", "detail": problem}
        self.messages[(channel, ts)] = edited
        return {"ok": True, "channel": channel, "ts": ts, "text": edited["text"]}

    def _views_open(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        issued = self.triggers.get(trigger)
        if issued is None or issued[0] != ws.team_id:
            return {"ok": False, "error": "invalid_trigger_id"}
        if trigger in self.exchanged:
            return {"ok": False, "error": "exchanged_trigger_id"}
        if self.clock() - issued[2] > TRIGGER_SECONDS:
            return {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        problem = modal_problem(view)
        if problem:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [problem]}}
        self.exchanged.add(trigger)
        view_id = f"V{next(self._view_ids):08d}"
        opened = {**view, "id": view_id, "team_id": ws.team_id, "hash": uuid.uuid4().hex[:12]}
        self.views[view_id] = {
            "view": opened,
            "user": issued[1],
            "team": ws.team_id,
            "seconds_after_trigger": self.clock() - issued[2],
        }
        return {"ok": True, "view": opened}

    def _complete_upload(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        """Only files this workspace announced and whose bytes arrived, into a channel it knows."""
        try:
            files = json.loads(str(args.get("files") or ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(args.get("channel_id") or "")
        if channel and channel not in ws.channels and channel not in ws.dms.values():
            return {"ok": False, "error": "channel_not_found"}
        done = []
        for item in files:
            upload = self.uploads.get(str(item.get("id")))
            if upload is None or upload.team_id != ws.team_id:
                return {"ok": False, "error": "file_not_found"}
            if upload.data is None:
                return {"ok": False, "error": "file_upload_not_complete"}
            upload.channel, upload.title = channel or None, str(item.get("title") or "")
            done.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        return {"ok": True, "files": done}

    async def _upload(self, request: Request) -> Response:
        """Step two: the bytes, exactly as many as announced, to the URL step one returned."""
        upload = self.uploads.get(request.path_params["file_id"])
        body = await request.body()
        if upload is None:
            return PlainTextResponse("unknown upload", 404)
        if len(body) != upload.length or upload.data is not None:
            return PlainTextResponse("length mismatch", 400)
        upload.data = body
        return PlainTextResponse(f"OK - {len(body)}")

    def _oauth_access(self, request: Request, args: dict[str, Any]) -> dict[str, Any]:
        client_id, client_secret = _basic(request) or (args.get("client_id"), args.get("client_secret"))
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        ws = self.oauth_codes.pop(str(args.get("code")), None)
        if ws is None:
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "app_id": "A0FAKE",
            "authed_user": {"id": next(iter(ws.users), "U0")},
            "scope": "commands,chat:write",
            "token_type": "bot",
            "access_token": ws.bot_token,
            "bot_user_id": ws.bot_user_id,
            "team": {"id": ws.team_id, "name": ws.team_id},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _connections_open(self, request: Request, token: str | None) -> dict[str, Any]:
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": f"ws://{request.url.netloc}/socket-mode?ticket={uuid.uuid4().hex}"}

    async def _hook(self, request: Request) -> Response:
        planned = self._planned_failure("response_url")
        if planned is not None:
            return PlainTextResponse(planned.error, planned.status)
        body = json.loads(await request.body())
        problem = block_kit_problem(body)
        if problem:
            return PlainTextResponse(f"invalid_blocks: {problem}", 400)
        self.responses.append({"url": str(request.url), "body": body})
        return PlainTextResponse("ok")

    # ----- Socket Mode ------------------------------------------------------------------------------

    async def _socket(self, ws: WebSocket) -> None:
        await ws.accept()
        self.socket_connections += 1
        number = self.socket_connections
        if number not in self.silent_connections:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0FAKE"},
                }
            )
            self._live = ws
        async with self._changed:
            self._changed.notify_all()
        try:
            while True:
                message = await ws.receive_text()
                if number in self.silent_connections:
                    continue
                self.socket_acks.append(json.loads(message))
                async with self._changed:
                    self._changed.notify_all()
        except WebSocketDisconnect:
            if self._live is ws:
                self._live = None

    async def socket_send(self, envelope: dict[str, Any], timeout: float = 10.0) -> None:
        """Deliver an envelope on the live (greeted) connection, waiting for one if needed."""
        await self._wait(lambda: self._live is not None, timeout)
        assert self._live is not None
        await self._live.send_json(envelope)

    async def socket_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        await self._wait(lambda: any(a.get("envelope_id") == envelope_id for a in self.socket_acks), timeout)
        return next(a for a in self.socket_acks if a.get("envelope_id") == envelope_id)

    async def _wait(self, ready: Any, timeout: float) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(ready)


# ----- Block Kit limits --------------------------------------------------------------------------------


def block_kit_problem(args: dict[str, Any]) -> str | None:
    """Why Slack would refuse (or silently cut) this message; None when it is within every limit."""
    text = args.get("text") or ""
    blocks = args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not text.strip() and not blocks:
        return "no_text"
    if len(text) > TEXT_MAX:
        return f"text has {len(text)} characters"
    if len(blocks) > BLOCKS_MAX:
        return f"{len(blocks)} blocks"
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            if block["text"]["type"] != "plain_text" or not 0 < len(block["text"]["text"]) <= HEADER_MAX:
                return f"block {i}: header text"
        elif kind == "section":
            if "text" in block and not 0 < len(block["text"]["text"]) <= SECTION_MAX:
                return f"block {i}: section text has {len(block['text']['text'])} characters"
            fields = block.get("fields", [])
            if len(fields) > FIELDS_MAX or any(not 0 < len(f["text"]) <= FIELD_MAX for f in fields):
                return f"block {i}: fields"
            if "text" not in block and not fields:
                return f"block {i}: empty section"
        elif kind == "context":
            if not 0 < len(block["elements"]) <= 10:
                return f"block {i}: context elements"
        elif kind == "image":
            if not block.get("image_url") or not block.get("alt_text"):
                return f"block {i}: image"
        elif kind == "actions":
            problem = _actions_problem(block)
            if problem:
                return f"block {i}: {problem}"
        elif kind != "divider":
            return f"block {i}: unknown type {kind}"
    return None


def _actions_problem(block: dict[str, Any]) -> str | None:
    elements = block.get("elements") or []
    if not 0 < len(elements) <= ACTIONS_ELEMENTS_MAX:
        return "actions elements"
    ids = [e.get("action_id") for e in elements]
    if len(set(ids)) != len(ids):
        return "action_id not unique in the block"
    for e in elements:
        if e.get("type") != "button":
            return f"element type {e.get('type')}"
        text = e.get("text") or {}
        if text.get("type") != "plain_text" or not 0 < len(text.get("text") or "") <= BUTTON_TEXT_MAX:
            return "button text"
        if len(str(e.get("value") or "")) > BUTTON_VALUE_MAX or len(str(e.get("action_id"))) > ACTION_ID_MAX:
            return "button value or action_id"
    return None


_INPUT_ELEMENTS = {"plain_text_input", "number_input"}


def modal_problem(view: Any) -> str | None:
    """Why Slack would refuse this view in views.open; None when it is within every limit."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return "not a modal"
    for key in ("title", "submit", "close"):
        text = view.get(key)
        if text is None and key != "title":
            continue
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            return f"{key} must be plain_text"
        if not 0 < len(text.get("text") or "") <= MODAL_TEXT_MAX:
            return f"{key} longer than {MODAL_TEXT_MAX}"
    if len(str(view.get("private_metadata") or "")) > METADATA_MAX:
        return "private_metadata too long"
    if len(str(view.get("callback_id") or "")) > CALLBACK_ID_MAX:
        return "callback_id too long"
    blocks = view.get("blocks") or []
    if not 0 < len(blocks) <= MODAL_BLOCKS_MAX:
        return "blocks"
    block_ids = [b.get("block_id") for b in blocks if b.get("block_id")]
    if len(set(block_ids)) != len(block_ids):
        return "block_id not unique"
    has_input = False
    for i, block in enumerate(blocks):
        if block.get("type") != "input":
            continue
        has_input = True
        label = block.get("label") or {}
        if label.get("type") != "plain_text" or not 0 < len(label.get("text") or "") <= LABEL_MAX:
            return f"block {i}: label"
        element = block.get("element") or {}
        kind = element.get("type")
        if kind not in _INPUT_ELEMENTS:
            return f"block {i}: element {kind}"
        placeholder = element.get("placeholder")
        if placeholder is not None and not 0 < len(placeholder.get("text") or "") <= PLACEHOLDER_MAX:
            return f"block {i}: placeholder"
        initial = element.get("initial_value")
        if kind == "number_input":
            if not isinstance(element.get("is_decimal_allowed"), bool):
                return f"block {i}: number_input needs is_decimal_allowed"
            if initial is not None and not _is_number(initial, element["is_decimal_allowed"]):
                return f"block {i}: initial_value {initial!r} is not a number"
        elif initial is not None and len(initial) > int(element.get("max_length") or 3000):
            return f"block {i}: initial_value over max_length"
    if has_input and view.get("submit") is None:
        return "submit is required with input blocks"
    return None


def _is_number(value: Any, decimal: bool) -> bool:
    if not isinstance(value, str):
        return False  # Slack wants numbers as strings here
    try:
        number = float(value)
    except ValueError:
        return False
    return decimal or number.is_integer()


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def message_text(args: dict[str, Any]) -> str:
    """Everything a message shows (blocks and fallback), as Slack received it (still escaped)."""
    parts = [str(args.get("text") or "")]
    blocks = args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(f["text"] for f in block.get("fields", []))
        for element in block.get("elements", []):
            text = element.get("text")
            if isinstance(text, dict):  # a button's label
                text = text.get("text")
            if isinstance(text, str):
                parts.append(text)
    return "\n".join(parts)


# ----- what Slack sends: signed requests ---------------------------------------------------------------


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    try:
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    except UnicodeDecodeError:  # slack_sdk signs text only; Slack signs the raw bytes
        mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
        signature = "v0=" + mac.hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def command_form(
    team_id: str, user_id: str, channel_id: str, command: str, text: str, response_url: str
) -> dict[str, str]:
    """A slash command as Slack posts it (form fields)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": team_id.lower(),
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else "sales",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0FAKE",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(_TRIGGERS)}.{uuid.uuid4().hex[:10]}",
    }


def encode_form(form: dict[str, str]) -> bytes:
    return urlencode(form).encode()


def event_callback(
    team_id: str, event: dict[str, Any], *, event_id: str | None = None, bot_user_id: str = "UBOT"
) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": "A0FAKE",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": team_id, "user_id": bot_user_id, "is_bot": True, "is_enterprise_install": False}
        ],
    }


def socket_envelope(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A Socket Mode frame: `slash_commands` (form fields as JSON) or `events_api`."""
    return {
        "envelope_id": str(uuid.uuid4()),
        "type": kind,
        "accepts_response_payload": kind != "events_api",
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": payload,
    }


def block_actions(
    team_id: str, user_id: str, channel_id: str, message: dict[str, Any], action_index: int, trigger: str
) -> dict[str, Any]:
    """A click on the `action_index`-th button of a message Slack accepted (its blocks as posted)."""
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    buttons = [
        (b.get("block_id", "actions"), e) for b in blocks if b.get("type") == "actions" for e in b["elements"]
    ]
    block_id, button = buttons[action_index]
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0FAKE",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message.get("ts", ""), "channel_id": channel_id},
        "trigger_id": trigger,
        "team": {"id": team_id, "domain": team_id.lower()},
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "directmessage"},
        "response_url": "",
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": block_id,
                "text": button["text"],
                "value": button.get("value", ""),
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(
    team_id: str, user_id: str, view: dict[str, Any], values: dict[str, str], trigger: str
) -> dict[str, Any]:
    """The submission of an opened view with `values` (block_id → text typed; absent ones left empty)."""
    state: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block["element"]
        entry: dict[str, Any] = {"type": element["type"]}
        entry["value"] = values.get(block["block_id"])
        state[block["block_id"]] = {element["action_id"]: entry}
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_id.lower()},
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0FAKE",
        "token": "legacy-verification-token",
        "trigger_id": trigger,
        "view": {**view, "state": {"values": state}},
        "response_urls": [],
        "is_enterprise_install": False,
    }


def interactive_body(payload: dict[str, Any]) -> bytes:
    """How Slack posts an interaction to the Request URL: a form with one field, `payload` (JSON)."""
    return urlencode({"payload": json.dumps(payload)}).encode()


_TRIGGERS = itertools.count(1000)


async def _arguments(request: Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if not raw:
        return args
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = json.loads(raw)
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
    return args


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password

"""Stream mode: the official dingtalk-stream SDK's client and ChatbotHandler, minus its blocking parts,
plus a watchdog.

What the SDK (0.24.3) does and what we change:
- `DingTalkStreamClient.start()` opens the connection with `requests.post` — a blocking call on the event
  loop — against a host fixed at import time (`DINGTALK_OPENAPI_ENDPOINT`), and its keepalive pings
  without ever checking for the pong, so a socket that went silent (NAT timeout, half-open TCP) hangs
  forever. `StreamClient.start()` replaces that loop: the connection is opened with httpx against
  `[dingtalk] api_base_url`, and a watchdog pings every `heartbeat` seconds and drops the socket when
  nothing (no frame, no pong) has come back for `silence` seconds; the loop then reconnects with backoff.
- `route_message()` (frame → handler → ACK) is the SDK's, unchanged: tests feed it frames directly.
- `ChatbotHandler.reply_text()` and friends post with `requests` (blocking): never used. Our handler only
  hands the message over and ACKs at once; the reply goes out later through httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

import dingtalk_stream
import httpx
import websockets
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotMessage, SystemMessage
from dingtalk_stream.version import VERSION_STRING
from sqlalchemy.exc import SQLAlchemyError

from adapters.dingtalk.cards import CARD_TOPIC
from adapters.dingtalk.inbound import NotAMessage

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
SILENCE_SECONDS = 90.0
MAX_BACKOFF_SECONDS = 60.0
OPEN_TIMEOUT_SECONDS = 15.0

Accept = Callable[[Mapping[str, Any]], Awaitable[None]]
"""Takes one robot message payload: the work is scheduled, not done (waiting only for room)."""


async def _hand_over(
    accept: Accept, callback: CallbackMessage, ignored: type[Exception], what: str, id_key: str
) -> tuple[int, str]:
    """Hand one frame's payload to the adapter and say how to ACK it: OK once kept (or when it is not
    for us: `ignored`); not OK when it could not be stored, so that DingTalk sends it again."""
    data = callback.data if isinstance(callback.data, Mapping) else {}
    try:
        await accept(data)
    except ignored as exc:
        log.info("stream: %s %s ignored: %s", what, data.get(id_key), exc)
    except SQLAlchemyError as exc:
        log.warning("stream: could not keep %s %s: %s", what, data.get(id_key), exc)
        return AckMessage.STATUS_SYSTEM_EXCEPTION, "not stored; send it again"
    except Exception:  # a bad payload must not make DingTalk redeliver it forever
        log.exception("stream: could not take %s %s", what, data.get(id_key))
    return AckMessage.STATUS_OK, "OK"


class ChatbotHandler(dingtalk_stream.ChatbotHandler):
    """Hands each robot message to the adapter and ACKs it once taken: at once, or when the adapter has
    room again in a burst (DingTalk redelivers unACKed ones)."""

    def __init__(self, accept: Accept) -> None:
        super().__init__()
        self.logger = log
        self._accept = accept

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        return await _hand_over(self._accept, callback, NotAMessage, "message", "msgId")


class CardHandler(dingtalk_stream.CallbackHandler):
    """Card clicks (topic `/v1.0/card/instances/callback`): handed to the adapter, ACKed once kept.
    The Stream connection itself is the proof that DingTalk sent them. A click that is not one, or not
    on one of our cards (ValueError), has nothing to do again."""

    def __init__(self, accept: Accept) -> None:
        super().__init__()
        self.logger = log
        self._accept = accept

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        return await _hand_over(self._accept, callback, ValueError, "card click", "outTrackId")


class StreamClient(dingtalk_stream.DingTalkStreamClient):
    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        api_base_url: str,
        http: httpx.AsyncClient,
        heartbeat: float = HEARTBEAT_SECONDS,
        silence: float = SILENCE_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        super().__init__(dingtalk_stream.Credential(app_key, app_secret), logger=log)
        self._open_url = api_base_url.rstrip("/") + "/v1.0/gateway/connections/open"
        self._http = http
        self.heartbeat = heartbeat
        self.silence = silence
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.connections = 0
        self.watchdog_drops = 0
        self.last_alive = 0.0
        self._routing: set[asyncio.Task[Any]] = set()

    def subscribe(self, accept: Accept, accept_click: Accept | None = None) -> None:
        self.register_callback_handler(ChatbotMessage.TOPIC, ChatbotHandler(accept))
        if accept_click is not None:
            self.register_callback_handler(CARD_TOPIC, CardHandler(accept_click))

    # -- connection ------------------------------------------------------------------------------

    async def open_connection_async(self) -> dict[str, Any] | None:
        """The SDK's `open_connection`, on httpx: an endpoint and a one-time ticket, or None."""
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map],
            "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union teambeat",
            "localIp": "",
        }
        try:
            response = await self._http.post(self._open_url, json=body, timeout=OPEN_TIMEOUT_SECONDS)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("stream: opening a connection failed: %s", exc)
            return None
        if not isinstance(data, dict) or not data.get("endpoint") or not data.get("ticket"):
            log.warning("stream: the gateway gave no endpoint/ticket")
            return None
        return data

    async def start(self) -> None:
        """Connect, serve, reconnect — until cancelled. Never blocks the event loop."""
        self.pre_start()
        failures = 0
        while True:
            connection = await self.open_connection_async()
            if connection is not None:
                uri = f"{connection['endpoint']}?ticket={quote_plus(connection['ticket'])}"
                try:
                    async with websockets.connect(
                        uri, ping_interval=None, close_timeout=2, open_timeout=OPEN_TIMEOUT_SECONDS
                    ) as ws:
                        failures = 0
                        await self._serve(ws)
                except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                    log.warning("stream: connection lost: %s", exc)
                finally:
                    self.connected.clear()
                    self.websocket = None
            failures += 1
            await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.max_backoff, 0.5 * 2 ** min(failures, 10))
        return random.uniform(ceiling / 2, ceiling)

    async def _serve(self, ws: Any) -> None:
        loop = asyncio.get_running_loop()
        self.websocket = ws
        self.connections += 1
        self.last_alive = loop.time()
        self.connected.set()
        log.info("stream: connected (connection %d)", self.connections)
        watchdog = asyncio.create_task(self._watch(ws))
        try:
            async for raw in ws:
                self.last_alive = loop.time()
                try:
                    frame = json.loads(raw)
                except ValueError:
                    log.warning("stream: a frame that is not JSON was ignored")
                    continue
                task = asyncio.create_task(self.background_task(frame))
                self._routing.add(task)
                task.add_done_callback(self._routing.discard)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def _watch(self, ws: Any) -> None:
        """Ping; when nothing at all came back for `silence` seconds, drop the socket so we reconnect."""
        loop = asyncio.get_running_loop()

        def alive(_: object) -> None:
            self.last_alive = loop.time()

        while True:
            await asyncio.sleep(self.heartbeat)
            quiet = loop.time() - self.last_alive
            if quiet > self.silence:
                self.watchdog_drops += 1
                log.warning("stream: nothing received for %.1f s: reconnecting", quiet)
                ws.transport.abort()
                return
            try:
                pong = await ws.ping()
            except websockets.exceptions.ConnectionClosed:
                return
            if isinstance(pong, asyncio.Future):
                pong.add_done_callback(alive)

    async def route_message(self, json_message: dict[str, Any]) -> str:
        """The SDK's routing; DingTalk's SYSTEM ping frames are answered without a warning each time."""
        if json_message.get("type") == SystemMessage.TYPE:
            headers = json_message.get("headers") or {}
            if headers.get("topic") == "ping":
                ack = await self.system_handler.raw_process(SystemMessage.from_dict(json_message))
                if self.websocket is not None:
                    await self.websocket.send(json.dumps(ack.to_dict()))
                return ""
        return await super().route_message(json_message)

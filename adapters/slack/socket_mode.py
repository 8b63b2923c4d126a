"""Socket Mode: bolt's AsyncSocketModeHandler plus a watchdog for the connection that goes quiet.

Known failure (bolt-python#1529, python-slack-sdk#1701): after an idle reconnect the new WebSocket is
"established" yet Slack never greets it with `hello` and no event arrives again, while pings still
succeed. The watchdog notices a session that got no `hello` in time and forces a fresh connection
(a new URL from apps.connections.open), and keeps some outbound traffic going (auth.test), which the
reports say prevents the stall in the first place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatchdogSettings:
    check_every: float = 10.0  # seconds between checks
    hello_timeout: float = 30.0  # a session without `hello` this long is dead: reconnect
    keepalive_every: float = 60.0  # auth.test this often, as outbound traffic
    ping_interval: float = 10.0  # slack_sdk's own ping/pong staleness check


class SocketModeRunner:
    def __init__(
        self,
        bolt: AsyncApp,
        app_token: str,
        settings: WatchdogSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bolt = bolt
        self._app_token = app_token
        self._settings = settings
        self._clock = clock
        self._handler: AsyncSocketModeHandler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._session: str = ""
        self._session_since = 0.0
        self._greeted: str = ""  # the session id that last got `hello`
        self._last_keepalive = 0.0
        self.reconnects = 0
        self.hellos = 0

    async def start(self) -> None:
        """Connect in the background (Slack may be unreachable at start; the watchdog reports it)."""
        handler = AsyncSocketModeHandler(
            self._bolt, self._app_token, ping_interval=self._settings.ping_interval
        )
        handler.client.message_listeners.append(self._on_message)
        self._handler = handler
        self._session_since = self._last_keepalive = self._clock()
        self._tasks = [
            asyncio.create_task(handler.connect_async(), name="slack-socket-connect"),
            asyncio.create_task(self._watch(), name="slack-socket-watchdog"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._handler is not None:
            with contextlib.suppress(Exception):
                await self._handler.close_async()
            self._handler = None

    def health(self) -> dict[str, Any]:
        greeted = bool(self._session) and self._greeted == self._session
        return {
            "ok": greeted,
            "mode": "socket",
            "connected": greeted,
            "reconnects": self.reconnects,
        }

    async def _on_message(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        if message.get("type") == "hello":
            self._greeted = await client.session_id()
            self.hellos += 1
            log.info("slack socket mode: connected (%s)", self._greeted)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._settings.check_every)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("slack socket mode watchdog")

    async def check(self) -> None:
        """One watchdog round: reconnect a session Slack never greeted; keep traffic flowing."""
        handler = self._handler
        if handler is None:
            return
        client = handler.client
        now = self._clock()
        session = await client.session_id()
        if session != self._session:
            self._session, self._session_since = session, now
        waited = now - self._session_since
        if session != self._greeted and waited >= self._settings.hello_timeout:
            log.warning(
                "slack socket mode: no hello %.0f s after connecting (%s); reconnecting",
                waited,
                session or "no session",
            )
            self.reconnects += 1
            self._session_since = now
            await client.connect_to_new_endpoint(force=True)
            return
        if self._bolt.client.token and now - self._last_keepalive >= self._settings.keepalive_every:
            self._last_keepalive = now
            try:
                await self._bolt.client.auth_test()
            except Exception as exc:  # Slack unreachable: the next rounds will tell
                log.warning("slack socket mode keepalive (auth.test) failed: %s", exc)

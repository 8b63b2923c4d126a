"""An app-wide request-rate gate in front of a fake platform: what DingTalk does to an app that calls its
server API faster than its QPS (20 requests/s per app on the standard edition) — it refuses the excess
with HTTP 403 `Forbidden.AccessDenied.QpsLimitForApi` instead of queueing it.

The gate counts every request to a gated path that it lets through in the last second (a sliding
window, on the real clock), refuses the rest, and keeps the log benchmarks read their figures from.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

QPS_LIMIT_ANSWER = {"code": "Forbidden.AccessDenied.QpsLimitForApi", "message": "当前接口调用已超过QPS上限"}


@dataclass
class QpsGate:
    """ASGI middleware: at most `per_second` requests to paths starting with one of `prefixes` in any 1 s."""

    app: ASGIApp
    per_second: int
    prefixes: tuple[str, ...]
    status: int = 403
    monotonic: Callable[[], float] = time.monotonic
    passed: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    _window: deque[float] = field(default_factory=deque)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        now = self.monotonic()
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        if len(self._window) >= self.per_second:
            self.refused.append(now)
            await _json_answer(send, self.status, QPS_LIMIT_ANSWER)
            return
        self._window.append(now)
        self.passed.append(now)
        await self.app(scope, receive, send)


async def _json_answer(send: Send, status: int, body: dict[str, str]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})

"""A fake platform on loopback behind a switch, for outages seen from a real `teambeat run`.

The switch can make the whole platform answer every request with a 5xx, stop listening (connections to
its port are refused), and come back on the same port, passing requests to the fake again. Whatever
reached the port is logged with its path, the status it got and the wall-clock time it arrived, so a
test can tell when the bot tried, what it was told, and when it tried again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.web.serve import WebServer


@dataclass(frozen=True, slots=True)
class Hit:
    """One HTTP request that reached the platform: where to, what it was answered, when it arrived."""

    path: str
    status: int
    at: float  # time.time()


@dataclass
class Switched:
    """An ASGI app (the fake) served on one port through the switch; `hits` logs every HTTP request."""

    app: ASGIApp
    failing: int | None = None
    """While set, every HTTP request is answered with this status and never reaches the fake."""
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _server: WebServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def on(self, path: str) -> list[Hit]:
        """The requests to `path`, in the order they arrived."""
        return sorted((h for h in self.hits if h.path == path), key=lambda h: h.at)

    def fail(self, status: int = 500) -> None:
        """The platform is down behind its load balancer: every request gets `status`."""
        self.failing = status

    async def refuse(self) -> None:
        """Nothing listens on the port any more: connections are refused (open ones are closed)."""
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def recover(self) -> None:
        """Listening again on the same port, and every request goes to the fake."""
        self.failing = None
        if self._server is None:
            await self.listen()

    async def listen(self) -> None:
        """Listen on `port` (a free one the first time)."""
        server = WebServer(self, "127.0.0.1", self.port)
        await server.start()
        self.port, self._server = server.port, server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived, path = time.time(), scope["path"]
        if self.failing is not None:
            self.hits.append(Hit(path, self.failing, arrived))
            await PlainTextResponse("the platform is unavailable", self.failing)(scope, receive, send)
            return

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.hits.append(Hit(path, message["status"], arrived))
            await send(message)

        await self.app(scope, receive, logged)


@contextlib.asynccontextmanager
async def serve_switched(app: ASGIApp) -> AsyncIterator[Switched]:
    """Serve `app` on 127.0.0.1 at a free port through a switch; stop listening afterwards."""
    switched = Switched(app)
    await switched.listen()
    try:
        yield switched
    finally:
        await switched.refuse()

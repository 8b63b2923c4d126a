"""Serving the ASGI app with uvicorn inside `teambeat run`, with a graceful stop the runtime controls."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

GRACEFUL_SECONDS = 10


class _Server(uvicorn.Server):
    """The runtime owns SIGTERM/SIGINT (it stops the scheduler and worker too), so uvicorn must not."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    def __init__(self, asgi: ASGIApp, host: str, port: int) -> None:
        config = uvicorn.Config(
            asgi,
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            access_log=False,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self.port = port

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen, and return once the socket accepts connections."""
        sockets = [sock] if sock is not None else None
        self._task = asyncio.create_task(self._server.serve(sockets=sockets))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise RuntimeError("the HTTP server stopped before it started")
            await asyncio.sleep(0.02)
        if self.port == 0:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to GRACEFUL_SECONDS)."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None

"""Serving the ASGI app with uvicorn inside `teambeat run`, with a graceful stop the runtime controls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from bot.config import ConfigError

GRACEFUL_SECONDS = 10
log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, told when to start and stop by the runtime rather than polled for it.

    The runtime owns SIGTERM/SIGINT (it stops the scheduler and worker too), so uvicorn must not; and
    uvicorn looks at `should_exit` every 0.1 s and pauses 0.1 s more on the way out, which tests that
    start and stop hundreds of servers pay on each one."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()
        self.stop_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):  # each tick refreshes the Date header, as uvicorn's does
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_requested.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown without its fixed 0.1 s pause: close the listeners, ask each connection to
        close after its response (idle ones close at once), and wait for them up to the grace period."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while self.server_state.connections or self.server_state.tasks:
                    await asyncio.sleep(0.005)
        except TimeoutError:
            log.error(
                "stopped %d request(s) still running after %d s",
                len(self.server_state.tasks),
                GRACEFUL_SECONDS,
            )
            for task in self.server_state.tasks:
                task.cancel()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()

    def request_stop(self) -> None:
        self.should_exit = True
        self.stop_requested.set()


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
        self._host = host
        self._asgi = asgi
        self.port = port

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen, and return once the socket accepts connections."""
        sock = sock if sock is not None else self._listen()
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        listening = asyncio.create_task(self._server.listening.wait())
        await asyncio.wait((self._task, listening), return_when=asyncio.FIRST_COMPLETED)
        if not listening.done():
            listening.cancel()
            self._task.result()  # raises the startup error
            raise RuntimeError("the HTTP server stopped before it started")
        if self.port == 0:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def _listen(self) -> socket.socket:
        """Bind here rather than in uvicorn, which answers a taken port with sys.exit from inside a task
        (a traceback, and the rest of the bot left half started): a taken port is a setting to change."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        try:
            return _tcp_listener(family, self._host, self.port)
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise ConfigError(
                [
                    f"server: cannot listen on {self._host}:{self.port} ({reason}): another program (or "
                    "another teambeat) may be using it; stop it or choose another [server] port"
                ]
            ) from None

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to GRACEFUL_SECONDS)."""
        if self._task is None:
            return
        close_streams = getattr(self._asgi, "close_streams", None)
        if close_streams is not None:
            await close_streams()  # streams never finish by themselves: the grace period would run out
        self._server.request_stop()
        await self._task
        self._task = None


def _tcp_listener(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    """A listening socket whose protocol says TCP: asyncio turns Nagle off (TCP_NODELAY) only on
    sockets with proto IPPROTO_TCP, and accepted sockets inherit the listener's proto. With proto 0
    (what socket.create_server makes), a response written as headers then body waits for the
    client's delayed ACK: 40 ms on every keep-alive request."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock

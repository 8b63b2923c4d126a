"""An open-loop HTTP/1.1 load generator on raw asyncio streams.

Request i leaves at `i / rate` seconds whatever the earlier ones are doing, over keep-alive connections
(a new one is opened when all are busy, as DingTalk's and WeCom's servers do). Latency is measured from
the scheduled send time, so a stalled server or a late generator shows up in the figure instead of
silently thinning the load (no coordinated omission). The requests are built before the run and the
answers parsed minimally: httpx's AsyncClient costs ~3 ms of CPU a request on these 2-core machines,
which at 200 requests/s would make the generator part of what is measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.collector import collector_paused

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    scheduled: float
    """time.monotonic() at which the request was due to leave."""
    latency_ms: float
    """From `scheduled` to the answer's last byte."""
    lag_ms: float
    """How late the generator actually wrote the request (its own overhead, should stay ~0)."""


def http_request(
    method: str, target: str, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of one keep-alive request."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep_alive) of one response: Content-Length or chunked bodies."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


class _Pool:
    def __init__(self, host: str, port: int, limit: int) -> None:
        self._host, self._port = host, port
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self.opened = 0

    async def acquire(self) -> _Connection:
        await self._slots.acquire()
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof():
                return reader, writer
            writer.close()  # the server closed it while idle (uvicorn's keep-alive timeout is 5 s)
        try:
            connection = await asyncio.open_connection(self._host, self._port)
        except BaseException:
            self._slots.release()
            raise
        self.opened += 1
        return connection

    def release(self, connection: _Connection, reusable: bool) -> None:
        if reusable:
            self._idle.append(connection)
        else:
            connection[1].close()
        self._slots.release()

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


@dataclass
class Load:
    """One run's answers, in the order the requests were scheduled, and the connections it needed."""

    answers: list[Answer]
    connections: int


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    *,
    max_connections: int = 256,
    timeout: float = 30.0,
) -> Load:
    """Send `requests` at `rate` per second; status 0 in an answer means the connection failed."""
    pool = _Pool(host, port, max_connections)
    answers: list[Answer | None] = [None] * len(requests)

    async def one(index: int, scheduled: float) -> None:
        lag = 0.0
        status, body = 0, b""
        try:
            async with asyncio.timeout(timeout):
                connection = await pool.acquire()
                reusable = False
                try:
                    lag = (time.monotonic() - scheduled) * 1000
                    connection[1].write(requests[index])
                    status, body, reusable = await _read_answer(connection[0])
                finally:
                    pool.release(connection, reusable)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            status = 0
        done = time.monotonic()
        answers[index] = Answer(status, body, scheduled, (done - scheduled) * 1000, lag)

    with collector_paused():
        began = time.monotonic() + 0.05
        tasks = []
        for index in range(len(requests)):
            scheduled = began + index / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, scheduled)))
        await asyncio.gather(*tasks)
    await pool.close()
    return Load([a for a in answers if a is not None], pool.opened)

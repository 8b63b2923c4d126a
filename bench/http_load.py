"""A closed-loop HTTP/1.1 load generator on raw asyncio streams, like `wrk -c N -d S`.

Each of N keep-alive connections sends a request, reads the whole answer, and sends the next — so the
server's speed sets the rate. Requests are built beforehand (raw bytes), so the client does little
more than write and read; httpx spends ~3 ms of CPU per request and would measure itself instead.
It reads Content-Length bodies only (what uvicorn/starlette answer with), and reports its own CPU use
so a reader can see it was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.collector import collector_paused


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def rps(self) -> float:
        return self.completed / self.wall_s if self.wall_s else 0.0


def post_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST on a keep-alive connection, as bytes ready to write."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            raise ValueError("chunked answers are not supported by this load generator")
    if length:
        await reader.readexactly(length)
    return status


async def closed_loop(
    host: str, port: int, requests: Iterator[bytes], connections: int, duration_s: float
) -> LoadResult:
    """`connections` clients, each sending the next request as soon as its answer arrived, until
    `duration_s` has passed (requests in flight then are finished, and counted)."""
    result = LoadResult()
    cpu_start, began = time.process_time(), time.perf_counter()
    deadline = began + duration_s

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                request = next(requests, None)
                if request is None:
                    result.errors["requests ran out"] += 1
                    return
                start = time.perf_counter()
                writer.write(request)
                try:
                    status = await _read_answer(reader)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    result.errors[type(exc).__name__] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.latencies_ms.append((time.perf_counter() - start) * 1000)
                result.statuses[status] += 1
        finally:
            writer.close()

    with collector_paused():
        await asyncio.gather(*(client() for _ in range(connections)))
    result.wall_s = time.perf_counter() - began
    result.client_cpu_s = time.process_time() - cpu_start
    return result

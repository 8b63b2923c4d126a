"""TV board helpers: the deals team plus a second team on a served app, and a server-sent-events reader.

The reader parses `text/event-stream` as the HTML standard says (`event:`, `id:`, `data:` lines, a blank
line ending each event, `:` comments ignored), written out here rather than borrowed from the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.deals import body_of, signed_headers, write_deals_config

SECOND_TEAM = """
[[teams]]
id = "west"
name = "华西二部"
platform = "console"
workspace = "W1"
channel = "C-west"
locale = "en"
currency = "CNY"
leaders = ["wboss"]

[[teams.members]]
id = "wboss"
name = "Wendy"
email = "wendy@example.com"
"""
PRIVATE = ("example.com", "+86138", "E002", "E003", "华为", "年度订阅", "alice@", "bob@")


def write_tv_config(tmp_path: Path, url: str, *, port: int = 8080, extra: str = "") -> Path:
    return write_deals_config(tmp_path, url, port=port, extra=SECOND_TEAM + extra)


@dataclass(frozen=True)
class Sse:
    kind: str
    id: int | None
    data: dict[str, Any]


class EventStream:
    """One open `GET /tv/<team>/events`: its events, read in the background as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[Sse | None] = asyncio.Queue()
        self.raw: list[str] = []
        self.last_id: int | None = None
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        kind, ident, data = "message", None, []
        try:
            async for line in self.response.aiter_lines():
                self.raw.append(line)
                if line == "":
                    if data:
                        await self.events.put(Sse(kind, ident, json.loads("\n".join(data))))
                    kind, data = "message", []
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    kind = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    ident = self.last_id = int(value)
        except (httpx.HTTPError, asyncio.CancelledError):
            pass
        finally:
            await self.events.put(None)

    async def next(self, kind: str | None = None, timeout: float = 5.0) -> Sse:
        """The next event (of `kind`, skipping others); fails if the stream ends or nothing comes."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event is None:
                    raise AssertionError(f"the stream ended while waiting for {kind or 'an event'}")
                if kind is None or event.kind == kind:
                    return event

    async def ended(self, timeout: float = 5.0) -> list[Sse]:
        """Wait for the server to end the stream; the events that came before the end."""
        seen: list[Sse] = []
        async with asyncio.timeout(timeout):
            while (event := await self.events.get()) is not None:
                seen.append(event)
        return seen

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.response.aclose()


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[EventStream]:
    request = client.build_request("GET", path, headers=headers)
    response = await client.send(request, stream=True)
    assert response.status_code == 200, (response.status_code, await response.aread())
    assert response.headers["content-type"].startswith("text/event-stream")
    stream = EventStream(response)
    try:
        yield stream
    finally:
        await stream.close()


async def post_deal(client: httpx.AsyncClient, payload: dict[str, object]) -> httpx.Response:
    body = body_of(payload)
    return await client.post("/hooks/deals", content=body, headers=signed_headers(body, int(time.time())))

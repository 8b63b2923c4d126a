"""Request bodies over `[server] max_body_bytes` get 413 before more than the limit is ever read."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DISCARD_FACTOR = 8


class BodyLimit:
    """Pure ASGI: refuses by Content-Length at once, else reads at most `limit` bytes, then replays them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            # Refused unread, but the client is still sending: unless that is beyond the budget, drop
            # what it sends so it reads the 413 instead of a connection reset.
            if declared <= self.limit * DISCARD_FACTOR:
                await _discard_rest(receive, {"more_body": True}, declared)
            await too_large(send, self.limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _discard_rest(receive, message, self.limit * DISCARD_FACTOR)
                await too_large(send, self.limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _discard_rest(receive: Receive, message: Message, budget: int) -> None:
    """Read (and drop) what the client is still sending, up to a budget, so it can read our 413
    instead of a connection reset; memory stays bounded by the limit either way."""
    while message.get("more_body", False) and budget > 0:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        budget -= len(message.get("body", b""))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": "body_too_large", "detail": f"request bodies are limited to {limit} bytes"})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})

"""A chat platform on loopback for delivery tests, and a test-only adapter that posts to it over real HTTP.

The platform can be scripted to fail for a while (500s, then 429 with Retry-After) and to behave like a
group robot with a rate limit (a post over the limit is refused and remembered as a violation). It logs
every request it answered and every post it accepted, stamped with the clock the test chose.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.clock import Clock
from bot.messages import ChannelRef, OutgoingMessage, SentMessage, UserRef
from bot.ports import (
    Capability,
    ChannelLimits,
    DeliveryError,
    MessageSink,
    PartProgress,
    Unsupported,
    UserProfile,
)


@dataclass(frozen=True, slots=True)
class Phase:
    """Answer `status` to every post until `until` seconds after the first request (429: with Retry-After)."""

    until: float
    status: int
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the platform saw it: where to, what, when, from whom, and what it answered."""

    destination: str
    text: str
    at: datetime
    sender: str
    status: int


@dataclass
class FakePlatform:
    """Starlette app: `POST /post {"destination", "text", "sender"}` → `{"id"}` or an error status."""

    clock: Clock
    phases: Sequence[Phase] = ()
    limit: tuple[int, float] | None = None
    """(n, seconds): a robot accepting at most n posts per destination in any `seconds` window."""
    latency: float = 0.0
    requests: list[Seen] = field(default_factory=list)
    violations: list[Seen] = field(default_factory=list)
    overlapping: list[str] = field(default_factory=list)
    """Destinations that ever had two posts in flight at once (order per destination needs one at a time)."""
    _first: float | None = None
    _in_flight: Counter[str] = field(default_factory=Counter)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def accepted(self) -> list[Seen]:
        return [r for r in self.requests if r.status == 200]

    def texts(self, destination: str) -> list[str]:
        """What the destination's channel shows, in the order it was accepted."""
        return [r.text for r in self.accepted if r.destination == destination]

    def asgi(self) -> Starlette:
        return Starlette(routes=[Route("/post", self._post, methods=["POST"])])

    async def _post(self, request: Request) -> JSONResponse:
        body = await request.json()
        destination = body["destination"]
        self._in_flight[destination] += 1
        if self._in_flight[destination] > 1:
            self.overlapping.append(destination)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return self._answer(destination, body["text"], body.get("sender", ""))
        finally:
            self._in_flight[destination] -= 1

    def _answer(self, destination: str, text: str, sender: str) -> JSONResponse:
        now = self.clock.now()
        phase = self._phase()
        status = phase.status if phase else 200
        if status == 200 and self._over_limit(destination, now):
            status = 429
            self.violations.append(Seen(destination, text, now, sender, status))
        self.requests.append(Seen(destination, text, now, sender, status))
        if status == 200:
            return JSONResponse({"id": f"m{next(self._ids)}"})
        headers = {"Retry-After": str(phase.retry_after)} if phase and phase.retry_after else {}
        return JSONResponse({"error": f"HTTP {status}"}, status_code=status, headers=headers)

    def _phase(self) -> Phase | None:
        if self._first is None:
            self._first = time.monotonic()
        elapsed = time.monotonic() - self._first
        return next((p for p in self.phases if elapsed < p.until), None)

    def _over_limit(self, destination: str, now: datetime) -> bool:
        if self.limit is None:
            return False
        count, seconds = self.limit
        since = now - timedelta(seconds=seconds)
        return sum(1 for r in self.accepted if r.destination == destination and r.at > since) >= count


def busiest_window(times: Sequence[datetime], seconds: float) -> int:
    """The most posts any `seconds`-long (half-open) window holds."""
    ordered = sorted(times)
    span = timedelta(seconds=seconds)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - span:
            start += 1
        best = max(best, end - start + 1)
    return best


class HttpPostAdapter:
    """A test-only adapter: each message is one JSON POST; answers map onto DeliveryError like a real one.

    Connection errors, timeouts and 5xx are transient; 429 is transient and carries Retry-After; any other
    4xx is permanent.
    """

    capabilities = Capability.NONE

    def __init__(
        self, base_url: str, limits: ChannelLimits, *, name: str = "console", sender: str = ""
    ) -> None:
        self.name = name
        self.limits = limits
        self.sender = sender
        self._client = httpx.AsyncClient(base_url=base_url, timeout=5.0)

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    async def start(self, sink: MessageSink) -> None:
        return None

    async def stop(self) -> None:
        await self._client.aclose()

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        body = {"destination": to.id, "text": msg.fallback_text, "sender": self.sender}
        try:
            response = await self._client.post("/post", json=body)
        except httpx.TransportError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", transient=True) from exc
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After")
            raise DeliveryError(
                "HTTP 429", transient=True, retry_after=float(retry_after) if retry_after else None
            )
        if response.status_code >= 500:
            raise DeliveryError(f"HTTP {response.status_code}", transient=True)
        if response.status_code >= 400:
            raise DeliveryError(f"HTTP {response.status_code}", transient=False)
        return SentMessage(message_id=response.json()["id"], channel=to)

    async def open_dm(self, user: UserRef) -> ChannelRef:
        raise Unsupported("the fake platform has no DMs")

    async def resolve_user(self, user: UserRef) -> UserProfile:
        raise Unsupported("the fake platform has no directory")

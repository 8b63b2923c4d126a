"""The app's OpenAPI access token: fetched once, shared, refreshed before it expires, one refresh at a time.

DingTalk limits how often a token may be fetched, and 2,000 check-in DMs starting at 09:00 must not each
fetch one: callers that find the token missing or due queue on one lock, and only the first fetches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

EARLY_SECONDS = 300.0  # refresh this long before expiry (or at 90 % of a shorter lifetime)

Fetch = Callable[[], Awaitable[tuple[str, float]]]
"""Fetches a new token: (token, lifetime in seconds)."""


class TokenCache:
    def __init__(self, fetch: Fetch, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    def _fresh(self) -> str | None:
        if self._token is not None and self._monotonic() < self._refresh_at:
            return self._token
        return None

    async def get(self) -> str:
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()  # another caller refreshed while we waited
            if token is not None:
                return token
            token, lifetime = await self._fetch()
            self.fetches += 1
            early = min(EARLY_SECONDS, lifetime * 0.1)
            self._token, self._refresh_at = token, self._monotonic() + max(lifetime - early, 0.0)
            return token

    def invalidate(self, token: str) -> None:
        """DingTalk refused `token`: drop it, unless a newer one has already replaced it."""
        if self._token == token:
            self._token = None

"""The app's share of DingTalk's server-API rate: at most `per_second` calls in any second, app-wide.

DingTalk counts an enterprise-internal app's server-API calls per second (20 on the standard edition)
and refuses the excess (`Forbidden.AccessDenied.QpsLimitForApi`). The delivery worker sends to many
destinations at once — a check-in fan-out is one batchSend per member, since prompts are personal — so
without a shared pace most of a large team's prompts would be refused and wait a minute to be retried.

A call holds one of `per_second` permits from before it starts until one second after its answer is
back. DingTalk counts a call when it arrives, somewhere between the two, so no one-second window on its
clock can hold more than `per_second` of our calls: the check is conservative by one round trip, like the
per-destination limits (bot/delivery/ratelimit.py). Calls queue here rather than fail. The quota is per
process; replicas sharing one app should split the configured rate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

WINDOW_SECONDS = 1.0


class AppQuota:
    def __init__(self, per_second: int, window: float = WINDOW_SECONDS) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self.per_second = per_second
        self._window = window
        self._permits: asyncio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Wait for a permit, make the call inside, and give the permit back a window after it ended."""
        if self._permits is None:  # made on first use, inside the running loop
            self._permits = asyncio.Semaphore(self.per_second)
        permits = self._permits
        await permits.acquire()
        try:
            yield
        finally:
            asyncio.get_running_loop().call_later(self._window, permits.release)

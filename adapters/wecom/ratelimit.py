"""Sliding windows per destination: the adapter's own guard that WeCom's limits are never exceeded.

The delivery worker paces by `limits_for`; this guard also covers what bypasses the outbox (command
replies) and answers "wait N seconds" instead of sending what WeCom would silently drop (app messages
over 30/minute or 1,000/hour per member) or punish (a robot over 20/minute). In-process: several
replicas sending to one member share WeCom's quota without sharing this window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from bot.ports import ChannelLimits

MINUTE = 60.0
HOUR = 3600.0


class SlidingWindows:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._sent: dict[str, deque[float]] = {}

    def reserve(self, key: str, limits: ChannelLimits, count: int = 1) -> float:
        """Record `count` sends now and return 0.0, or record nothing and return the seconds to wait."""
        now = self._now()
        sent = self._sent.setdefault(key, deque())
        horizon = HOUR if limits.per_hour else MINUTE
        while sent and sent[0] <= now - horizon:
            sent.popleft()
        wait = max(
            _wait(sent, now, MINUTE, int(limits.rate_per_minute), count),
            _wait(sent, now, HOUR, limits.per_hour, count) if limits.per_hour else 0.0,
        )
        if wait > 0:
            return wait
        sent.extend([now] * count)
        return 0.0

    def forget_idle(self) -> None:
        """Drop destinations with nothing in their window, so memory follows activity."""
        now = self._now()
        for key in [k for k, sent in self._sent.items() if not sent or sent[-1] <= now - HOUR]:
            del self._sent[key]


def _wait(sent: deque[float], now: float, window: float, allowed: int | None, count: int) -> float:
    """Seconds until `count` more fit among the sends of the last `window` seconds."""
    if allowed is None:
        return 0.0
    if count > allowed:
        raise ValueError(f"{count} messages can never fit in a window of {allowed}")
    recent = [t for t in sent if t > now - window]
    excess = len(recent) + count - allowed
    if excess <= 0:
        return 0.0
    return recent[excess - 1] + window - now

"""Per-destination rate limits as a sliding-window log: never more sends in any window than a platform allows.

A platform counts a message when it arrives, somewhere between the moment we start sending and the moment
its answer is back. So the check is conservative: a new send's *start* is compared with earlier sends'
*completion* times. If, for every window (n messages per w seconds), the n-th most recent completion is at
least w seconds before the new start, no w-second window on the platform's clock can hold n + 1 messages.

The log of a destination is the union of what the database knows (the last attempt of every outbox row
sent there: this covers restarts and other workers on the same database) and what this process tried
itself (every attempt, including failed ones the database only remembers the last of).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.ports import ChannelLimits

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Window:
    """At most `count` sends in any `seconds`-long window."""

    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Attempt:
    """One send attempt to a destination: which outbox row, its attempt number, and when it completed."""

    row_id: int
    number: int
    completed_at: datetime


def windows_for(limits: ChannelLimits) -> tuple[Window, ...]:
    """The windows a destination's limits impose; empty when unlimited.

    `rate_per_minute` r: at most floor(r) in any 60 s (a rate below 1/min becomes 1 per 60/r s);
    `burst` b: at most b in any b·60/r s; `per_hour` h: at most h in any hour.
    """
    windows: list[Window] = []
    rate = limits.rate_per_minute
    if math.isfinite(rate) and rate > 0:
        per_minute = max(1, math.floor(rate))
        windows.append(Window(per_minute, max(MINUTE, per_minute * MINUTE / rate)))
        if limits.burst >= 1:
            burst = Window(limits.burst, limits.burst * MINUTE / rate)
            if burst not in windows:
                windows.append(burst)
    if limits.per_hour is not None:
        windows.append(Window(max(1, limits.per_hour), HOUR))
    return tuple(windows)


def horizon(windows: Iterable[Window]) -> timedelta:
    """How far back the log must reach to decide: the longest window."""
    return timedelta(seconds=max((w.seconds for w in windows), default=0.0))


def earliest_start(completions: Iterable[datetime], windows: Iterable[Window], now: datetime) -> datetime:
    """The first instant (not before `now`) a new send may start without overfilling any window."""
    recent = sorted(completions, reverse=True)
    slot = now
    for window in windows:
        if len(recent) >= window.count:
            slot = max(slot, recent[window.count - 1] + timedelta(seconds=window.seconds))
    return slot


def effective_limits(declared: ChannelLimits, override_per_minute: float | None) -> ChannelLimits:
    """The adapter's limits, lowered (never raised) by a configured messages-per-minute override."""
    if override_per_minute is None or override_per_minute >= declared.rate_per_minute:
        return declared
    return replace(declared, rate_per_minute=override_per_minute)


class RateLimiter:
    """This process's view of every destination's send log, and which destinations must wait until when.

    `blocked_until` is a cache: a destination found full stays full at least until its slot (sends by
    others can only push the slot later), so the worker need not look again before then.
    """

    def __init__(self, overrides: Mapping[str, float | None] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._attempts: dict[str, deque[Attempt]] = {}
        self._blocked: dict[str, datetime] = {}

    def limits(self, platform: str, declared: ChannelLimits) -> ChannelLimits:
        return effective_limits(declared, self._overrides.get(platform))

    def record(self, destination: str, attempt: Attempt) -> None:
        """Remember an attempt this process made, whatever its outcome."""
        self._attempts.setdefault(destination, deque()).append(attempt)

    def next_slot(
        self, destination: str, windows: tuple[Window, ...], stored: Iterable[Attempt], now: datetime
    ) -> datetime:
        """When the next send to `destination` may start, given the attempts the database knows of."""
        since = now - horizon(windows)
        self._forget(destination, since)
        known = {(a.row_id, a.number): a.completed_at for a in stored if a.completed_at > since}
        for attempt in self._attempts.get(destination, ()):
            known.setdefault((attempt.row_id, attempt.number), attempt.completed_at)
        slot = earliest_start(known.values(), windows, now)
        if slot > now:
            self._blocked[destination] = slot
        else:
            self._blocked.pop(destination, None)
        return slot

    def blocked(self, now: datetime) -> dict[str, datetime]:
        """Destinations that may not send yet, with the instant each may."""
        for destination in [d for d, until in self._blocked.items() if until <= now]:
            del self._blocked[destination]
        return dict(self._blocked)

    def _forget(self, destination: str, since: datetime) -> None:
        log = self._attempts.get(destination)
        if log is None:
            return
        while log and log[0].completed_at <= since:
            log.popleft()
        if not log:
            del self._attempts[destination]

"""A last guard for a group robot's 20 messages a minute, counted in messages rather than outbox rows.

The delivery worker paces rows by the limits the adapter declares; but a row longer than 15,000 bytes goes
out as several messages, and one message over the limit blocks the robot for ten minutes (130101). So the
adapter keeps its own log of what each group was sent and refuses — as a transient error with the wait —
a row whose parts would not all fit, instead of sending part of it into the block.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class RobotWindow:
    def __init__(self, count: int = 20, seconds: float = 60.0) -> None:
        self.count = count
        self.window = timedelta(seconds=seconds)
        self._sent: dict[str, deque[datetime]] = {}
        self._held: dict[str, datetime] = {}

    def wait_for(self, key: str, parts: int, now: datetime) -> float:
        """Seconds until `parts` more messages may start to `key` (0: now). Compares with completions."""
        if parts > self.count:
            raise ValueError(f"{parts} messages can never fit in {self.count} a minute")
        held = self._held.get(key)
        if held is not None and held > now:
            return (held - now).total_seconds()
        log = self._sent.get(key)
        if log is None:
            return 0.0
        while log and log[0] <= now - self.window:
            log.popleft()
        excess = len(log) + parts - self.count
        if excess <= 0:
            return 0.0
        return max((log[excess - 1] + self.window - now).total_seconds(), 0.001)

    def sent(self, key: str, at: datetime) -> None:
        """One message to `key` completed at `at` (its answer is back)."""
        self._sent.setdefault(key, deque()).append(at)

    def hold(self, key: str, until: datetime) -> None:
        """DingTalk said the robot is blocked (130101): send nothing to `key` before `until`."""
        self._held[key] = max(until, self._held.get(key, until))

"""A split post's progress for tests that call an adapter's `send` directly (the delivery worker keeps
it on the outbox row)."""

from __future__ import annotations


class Progress:
    def __init__(self, done: int = 0) -> None:
        self.done = done
        self.recorded: list[int] = []

    async def sent(self, parts: int) -> None:
        self.recorded.append(parts)
        self.done = parts

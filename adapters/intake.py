"""Requests acknowledged at once and handled in the background — with a bound on how many are in hand.

Platforms want an answer within seconds, so adapters acknowledge first and work after. Unbounded, a
burst turns into thousands of tasks on one event loop: each database transaction then waits so long
between its statements that the others time out on the pool or on SQLite's lock, and acknowledged
commands are lost. Bounded, the acknowledgement of request N+1 waits until one of N finishes: the
sender slows down at the door (back-pressure) and everything let in is handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Intake:
    """At most `limit` pieces of work in hand; `take` waits for room, then runs the work in a task."""

    def __init__(self, name: str, limit: int) -> None:
        self._name = name
        self._room = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    async def take(self, work: Coroutine[Any, Any, None]) -> None:
        """Return once `work` runs in the background (so the caller may acknowledge it)."""
        try:
            await self._room.acquire()
        except BaseException:
            work.close()  # never started: no "coroutine was never awaited" warning
            raise
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: handling a request failed", self._name, exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Until every piece of work taken in has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

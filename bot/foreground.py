"""Requests being answered right now, so that background work can give way to them.

One process answers webhooks and callbacks and also works off the announcement queue. On two cores a
deal's announcements cost several times what recording it does; run side by side during a burst, they
would make every sender wait. The queue therefore waits for a moment with no request in hand before each
deal and, through a `PoliteSession`, before each statement of the queue and the delivery worker — never
long, so that a sustained overload delays announcements without stopping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

BUSY_HORIZON = 0.02  # seconds: how far back "how busy lately" looks (exponentially weighted)


class _Quiet:
    """A count of things in hand, how much of the recent past had any, and a way to wait for a moment
    with none."""

    def __init__(self) -> None:
        self._in_hand = 0
        self._none = asyncio.Event()
        self._none.set()
        self._none_since = 0.0  # loop time the last one ended
        self._busy = 0.0  # share of the recent past with one in hand, as of `_busy_at`
        self._busy_at = 0.0

    def enter(self) -> None:
        if self._in_hand == 0:
            self._note_busy(asyncio.get_running_loop().time(), was_busy=False)
        self._in_hand += 1
        self._none.clear()

    def leave(self) -> None:
        self._in_hand -= 1
        if self._in_hand == 0:
            now = asyncio.get_running_loop().time()
            self._note_busy(now, was_busy=True)
            self._none_since = now
            self._none.set()

    def _note_busy(self, now: float, was_busy: bool) -> None:
        """Fold the time since the last change (busy or not) into the share."""
        kept = math.exp(-(now - self._busy_at) / BUSY_HORIZON)
        self._busy = self._busy * kept + (1.0 - kept if was_busy else 0.0)
        self._busy_at = now

    def busy_lately(self, now: float) -> float:
        """The share of about the last `BUSY_HORIZON` seconds with one in hand, while none is."""
        return self._busy * math.exp(-(now - self._busy_at) / BUSY_HORIZON)

    async def wait(self, at_most: float, quiet: float, busy_below: float = 0.0) -> None:
        """Until none has been in hand for `quiet` seconds, or none is and they were in hand less than
        `busy_below` of the recent past, or `at_most` seconds have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + at_most
        while (left := deadline - loop.time()) > 0:
            if self._in_hand:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._none.wait(), left)
                continue
            now = loop.time()
            still_quiet_for = self._none_since + quiet - now
            if still_quiet_for <= 0 or self.busy_lately(now) < busy_below:
                return
            await asyncio.sleep(min(still_quiet_for, left))


class Foreground:
    """Requests in hand — all of them, and those at the HTTP door — and ways for background work to
    wait for none."""

    def __init__(self) -> None:
        self._serving = _Quiet()
        self._door = _Quiet()

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Around the answering of one request."""
        self._serving.enter()
        try:
            yield
        finally:
            self._serving.leave()

    def enter_door(self) -> None:
        """One HTTP request is being answered (call `leave_door` when it is): work acknowledged earlier
        (the inbox) waits for these, so a platform's acknowledgement never queues behind the handling
        of older requests. Two plain calls rather than a context manager: this is on every request."""
        self._door.enter()
        self._serving.enter()

    def leave_door(self) -> None:
        self._serving.leave()
        self._door.leave()

    async def wait_door_idle(self, at_most: float, quiet: float = 0.0, busy_below: float = 0.0) -> None:
        """Until no HTTP request has been answered for `quiet` seconds, or `at_most` seconds have
        passed, whichever comes first. With a `quiet` moment, a stream of requests a few ms apart is
        acknowledged first and the work they brought waits (bounded) for a gap in it. With `busy_below`,
        a moment with no request in hand is enough if requests were in hand less than that share of
        the last ~20 ms: a steady stream that leaves the door mostly idle (DingTalk callbacks
        at 200/s, 1–2 ms each) has its work done in step with it, while a flood that keeps the door
        busy (16 connections of slash commands) is still acknowledged first."""
        await self._door.wait(at_most, quiet, busy_below)

    async def wait_idle(self, at_most: float, quiet: float = 0.0) -> None:
        """Until no request has been in hand for `quiet` seconds, or `at_most` seconds have passed,
        whichever comes first. A `quiet` moment lets a burst's requests, a few ms apart, all go first."""
        await self._serving.wait(at_most, quiet)


class PoliteSession(AsyncSession):
    """A session for background work: before each statement it waits (briefly) for no request to be in
    hand, so a request arriving in the middle of a deal's announcements is served between two of their
    statements instead of after all of them. Not once it has written: then it may hold locks a request
    needs (SQLite's one write lock), and finishing quickly is the polite thing."""

    foreground: Foreground
    at_most: float = 0.1
    _wrote = False

    async def _give_way(self, statement: Any = None) -> None:
        """Wait for the requests in hand unless this session holds (or is about to take) the lock;
        `statement` writing (an INSERT … RETURNING run as a scalar, as deals.record does, included)
        counts as taking it from then on."""
        sync = self.sync_session
        if sync.new or sync.dirty or sync.deleted:
            # This statement autoflushes them first: from then on the session holds the write lock, so
            # it must not wait before its later statements either (requests would queue behind it).
            self._wrote = True
        if not self._wrote:
            await self.foreground.wait_idle(self.at_most)
        if getattr(statement, "is_dml", False):
            self._wrote = True

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._give_way(statement)
        return await super().execute(statement, *args, **kwargs)

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._give_way(statement)
        return await super().scalar(statement, *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        await self._give_way()
        return await super().get(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await self._give_way()
        sync = self.sync_session
        if sync.new or sync.dirty or sync.deleted:
            self._wrote = True
        await super().flush(*args, **kwargs)

    def begin_nested(self) -> Any:
        self._wrote = True  # on SQLite a savepoint begins IMMEDIATE: it takes the write lock
        return super().begin_nested()

    async def commit(self) -> None:
        await super().commit()
        self._wrote = False

    async def rollback(self) -> None:
        await super().rollback()
        self._wrote = False


def polite_sessionmaker(
    engine: AsyncEngine, foreground: Foreground, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions like `bot.storage.db.create_sessionmaker`'s that give way to `foreground` requests."""
    polite = type("BoundPoliteSession", (PoliteSession,), {"foreground": foreground})
    return async_sessionmaker(engine, class_=polite, expire_on_commit=False, info=info)

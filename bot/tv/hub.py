"""Live boards: one poller per team with open boards in this process, fanning out to them.

A deal may be recorded by any replica, so the poller reads the team's new deals from the database
(ids above the highest it has seen) every `poll_seconds`, which works the same on SQLite and on
PostgreSQL; a commit in this process wakes it at once. Each poll also reads the team's TV key: a board
opened with a key that is no longer the team's is told so and closed, within one poll of the rotation.

Ids come from one sequence but PostgreSQL commits them out of order, so each poll looks a little below
the highest id seen (`LOOKBACK_IDS`) and skips the ids it already has: a deal whose transaction finished
after a later one's is still shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.events import DealRecorded, DealVoided
from bot.rendering.engine import Renderer
from bot.storage.orm import Team
from bot.tv import board, keys

POLL_SECONDS = 0.5
REFRESH_SECONDS = 20.0  # the board is read again this often even without new deals (voids elsewhere)
LOOKBACK_IDS = 256
REPLAY_WINDOW = timedelta(minutes=2)  # deals a reconnecting board missed are celebrated this long after
MAX_CELEBRATED = 10  # per poll: a CSV import of 500 deals is one board update, not 500 喜报
QUEUE_SIZE = 64  # events waiting for one board; a board this far behind is dropped (it reconnects)

log = logging.getLogger(__name__)


class HubClosed(RuntimeError):
    """A board asked to open while the server stops: it reconnects to whichever server comes up."""


@dataclass(frozen=True, slots=True)
class BoardEvent:
    """`board` (the whole board), `deal` (a 喜报) or `revoked` (the key changed); `id` is the highest
    deal id the board has been told about, so a reconnecting board says where it stopped."""

    kind: str
    id: int
    data: dict[str, Any]


class Viewer:
    """One open board: its events in order, then None when it is closed."""

    def __init__(self, team_id: int, key: str) -> None:
        self.team_id = team_id
        self.key = key
        self.closed = False
        self._queue: asyncio.Queue[BoardEvent | None] = asyncio.Queue(QUEUE_SIZE + 1)

    def push(self, event: BoardEvent) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= QUEUE_SIZE:
            log.warning("tv: a board of team %s stopped reading; closing it", self.team_id)
            self.end()
            return
        self._queue.put_nowait(event)

    def end(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    async def next(self) -> BoardEvent | None:
        return await self._queue.get()


@dataclass(eq=False)
class _Feed:
    team_id: int
    viewers: set[Viewer] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    position: int = -1  # highest deal id seen; -1 until first read
    seen: set[int] = field(default_factory=set)
    snapshot: board.Snapshot | None = None
    snapshot_at: float = -math.inf
    dirty: bool = False
    opening: int = 0
    task: asyncio.Task[None] | None = None


class TvHub:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        clock: Clock,
        *,
        poll_seconds: float = POLL_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._renderer = renderer
        self._clock = clock
        self.poll_seconds = poll_seconds
        self.refresh_seconds = refresh_seconds
        self._feeds: dict[int, _Feed] = {}
        self._closed = False

    # ----- boards opening and closing -------------------------------------------------------------

    async def open(self, team_id: int, key: str, last_id: int | None = None) -> Viewer:
        """A viewer of the team's board, its first events (the board; deals it missed) already queued."""
        if self._closed:
            raise HubClosed("the server is stopping")
        feed = self._feeds.setdefault(team_id, _Feed(team_id))
        feed.opening += 1
        try:
            async with feed.lock:
                async with self._sessionmaker() as session:
                    if feed.position < 0:
                        await self._start_reading(session, feed)
                    if self._stale(feed):
                        await self._read_board(session, feed)
                    missed = await self._missed(session, feed, last_id)
                assert feed.snapshot is not None
                viewer = Viewer(team_id, key)
                viewer.push(BoardEvent("board", feed.position, feed.snapshot.view))
                for deal in missed:
                    viewer.push(
                        BoardEvent(
                            "deal",
                            feed.position,
                            board.deal_view(feed.snapshot, deal, feed.snapshot.total_minor),
                        )
                    )
                feed.viewers.add(viewer)
        finally:
            feed.opening -= 1
            if not feed.viewers and not feed.opening and feed.task is None:
                self._feeds.pop(team_id, None)  # it failed before any board opened
        if feed.task is None or feed.task.done():
            feed.task = asyncio.create_task(self._run(feed), name=f"tv-feed-{team_id}")
        return viewer

    def leave(self, viewer: Viewer) -> None:
        viewer.end()
        feed = self._feeds.get(viewer.team_id)
        if feed is not None:
            feed.viewers.discard(viewer)
            feed.wake.set()  # its poller ends when it was the last

    def viewers(self, team_id: int) -> int:
        feed = self._feeds.get(team_id)
        return len(feed.viewers) if feed else 0

    async def close(self) -> None:
        """End every open board (the server is stopping) and the pollers with them."""
        self._closed = True
        tasks = []
        for feed in list(self._feeds.values()):
            for viewer in list(feed.viewers):
                viewer.end()
            feed.viewers.clear()
            feed.wake.set()
            if feed.task is not None:
                tasks.append(feed.task)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def notice(self, committed: Iterable[object]) -> None:
        """An after-commit hook: a deal recorded or voided in this process updates its boards now."""
        for event in committed:
            if isinstance(event, DealRecorded | DealVoided):
                feed = self._feeds.get(event.team_id)
                if feed is not None:
                    feed.dirty = True
                    feed.wake.set()

    # ----- the poller ------------------------------------------------------------------------------

    async def _run(self, feed: _Feed) -> None:
        failures = 0
        while (feed.viewers or feed.opening) and not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(feed.wake.wait(), self.poll_seconds)
            feed.wake.clear()
            if not feed.viewers:
                continue
            try:
                async with feed.lock:
                    await self._poll(feed)
                failures = 0
            except Exception as exc:  # the database is down: keep the boards, try again a little later
                failures += 1
                log.warning("tv: reading team %s's board failed (%s): %s", feed.team_id, failures, exc)
                await asyncio.sleep(min(failures, 10) * self.poll_seconds)
        if self._feeds.get(feed.team_id) is feed and not feed.viewers and not feed.opening:
            del self._feeds[feed.team_id]

    async def _poll(self, feed: _Feed) -> None:
        now = self._clock.now()
        async with self._sessionmaker() as session:
            key = await keys.current_key(session, feed.team_id)
            for viewer in list(feed.viewers):
                if not keys.same_key(key, viewer.key):
                    viewer.push(BoardEvent("revoked", feed.position, {}))
                    viewer.end()
                    feed.viewers.discard(viewer)
            if not feed.viewers:
                return
            rows = await board.deals_after(session, feed.team_id, feed.position - LOOKBACK_IDS)
            fresh = [deal for deal in rows if deal.id not in feed.seen]
            self._remember(feed, rows)
            if not fresh and not feed.dirty and not self._stale(feed):
                return
            if not await self._read_board(session, feed):
                return
        snapshot = feed.snapshot
        assert snapshot is not None
        celebrated = [deal for deal in fresh if deal.celebrated(now)][-MAX_CELEBRATED:]
        total = snapshot.total_minor - sum(
            d.amount_minor for d in celebrated if board.counts_today(snapshot, d)
        )
        events = []
        for deal in celebrated:
            if board.counts_today(snapshot, deal):
                total += deal.amount_minor
            events.append(BoardEvent("deal", feed.position, board.deal_view(snapshot, deal, total)))
        events.append(BoardEvent("board", feed.position, snapshot.view))
        for viewer in list(feed.viewers):
            for event in events:
                viewer.push(event)
            if viewer.closed:
                feed.viewers.discard(viewer)

    async def _start_reading(self, session: AsyncSession, feed: _Feed) -> None:
        """The deals there are when the first board opens are old news: remember them unshown."""
        latest = await board.latest_deal_id(session, feed.team_id)
        feed.position = latest
        self._remember(feed, await board.deals_after(session, feed.team_id, latest - LOOKBACK_IDS))

    async def _read_board(self, session: AsyncSession, feed: _Feed) -> bool:
        team = await session.get(Team, feed.team_id)
        if team is None:  # the team is gone: so are its boards
            for viewer in list(feed.viewers):
                viewer.push(BoardEvent("revoked", feed.position, {}))
                viewer.end()
            feed.viewers.clear()
            if feed.snapshot is None:
                raise LookupError(f"team {feed.team_id} does not exist")
            return False
        feed.snapshot = await board.snapshot(session, team, self._clock.now(), self._renderer)
        feed.snapshot_at = asyncio.get_running_loop().time()
        feed.dirty = False
        return True

    async def _missed(self, session: AsyncSession, feed: _Feed, last_id: int | None) -> list[board.SeenDeal]:
        """Deals a reconnecting board missed (recorded within the replay window), to celebrate late."""
        if last_id is None or last_id >= feed.position:
            return []
        now = self._clock.now()
        deals = await board.deals_after(session, feed.team_id, max(last_id, feed.position - 5000))
        return [
            deal
            for deal in deals
            if deal.id <= feed.position and deal.celebrated(now) and now - deal.created_at <= REPLAY_WINDOW
        ][-MAX_CELEBRATED:]

    def _stale(self, feed: _Feed) -> bool:
        return asyncio.get_running_loop().time() - feed.snapshot_at >= self.refresh_seconds

    @staticmethod
    def _remember(feed: _Feed, deals: list[board.SeenDeal]) -> None:
        if deals:
            feed.position = max(feed.position, deals[-1].id)
            feed.seen.update(deal.id for deal in deals)
        floor = feed.position - LOOKBACK_IDS
        if len(feed.seen) > 2 * LOOKBACK_IDS or any(i <= floor for i in feed.seen):
            feed.seen = {i for i in feed.seen if i > floor}

"""Requests acknowledged to a platform and handled after — kept in the database in between.

Slack wants its answer within 3 s and DingTalk within a few; the work behind a command (the database, a
user lookup, the reply) can take longer than that in a burst. So an adapter *takes* a request into its
inbox — a row of the `inbox` table, committed before the acknowledgement — and the inbox hands it to the
adapter's handler in the background, oldest first, a few at a time, and deletes the row once handled.
A crash in between loses nothing: the next start adopts the rows left over and handles them (the
dispatcher's event-id check makes a request handled twice count once).

- Cheap at the door: requests taken in the same turn of the event loop share one INSERT and one commit,
  and the deletes of handled rows ride along with the next one.
- Acknowledgements first: before it starts the next request, the inbox waits for a short moment with no
  HTTP request being answered, so an acknowledgement never queues behind the handling of older requests
  and a stream of them (a flood of slash commands) is acknowledged first; its work follows in the gaps,
  and at the latest after `DOOR_WAIT`, so that it is never starved. A stream that leaves the door idle
  most of the time does not wait for gaps that long: any gap will do, so its replies keep pace with it
  (at 200 DingTalk callbacks a second, evenly spaced, they used to wait for the stream to end).
- Bounded: with `max_backlog` requests taken and not yet handled, taking one more waits for one to be
  done (back-pressure at the door), so a flood slows its sender down instead of piling up without end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.app import App
from bot.storage.orm import InboxRow
from bot.storage.sqlite_driver import JUMP_THE_QUEUE

log = logging.getLogger(__name__)
INBOX = InboxRow.__table__

Handler = Callable[[dict[str, Any], datetime], Awaitable[None]]
"""(the payload as taken, when it was received): handles one request; errors are logged and dropped."""

IN_HAND = 4  # requests handled at once
# Requests taken and not yet handled before `take` waits for room. The rows are on disk (about 1 kB
# each); what bounds them is how late an answer may come: Slack's response_url is good for 30 minutes,
# and at the ~100 /kudos a second one process handles (bench P1), 100,000 take about 17 of them.
MAX_BACKLOG = 100_000
FETCH = 64  # rows read at once
DOOR_WAIT = 0.5  # longest wait for the HTTP requests in hand before starting the next request
DOOR_QUIET = 0.005  # ... and for a moment with none: under a stream of requests, acknowledging goes first
DOOR_BUSY_BELOW = 0.5  # ... unless the door was busy less than half the time lately: then any gap will do
ADOPT_AFTER = timedelta(seconds=60)  # another process's rows this old are adopted (it is gone)
ADOPT_EVERY = 30.0  # seconds between looks for such rows
RETRY_AFTER = 1.0  # seconds before reading again after a database error


class Inbox:
    """One adapter's requests between their acknowledgement and their handling."""

    def __init__(
        self,
        name: str,
        app: App,
        handler: Handler,
        *,
        in_hand: int | None = None,
        max_backlog: int | None = None,
    ) -> None:
        self._name = name
        self._app = app
        self._handler = handler
        self.owner = f"{name}-{uuid.uuid4().hex[:12]}"
        self._in_hand = asyncio.Semaphore(in_hand or IN_HAND)
        self._max_backlog = max_backlog or MAX_BACKLOG
        self._room = asyncio.Event()
        self._room.set()
        self._to_insert: list[tuple[str, datetime, asyncio.Future[None]]] = []
        self._to_delete: list[int] = []
        self._inserting = 0  # rows in a write not yet committed
        self._flusher: asyncio.Task[None] | None = None
        self._taken: set[int] = set()  # rows in hand, or handled (and not yet known to be deleted)
        self._gone: set[int] = set()  # rows deleted since the last read began
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrived = asyncio.Event()
        self._backlog = 0  # own rows not handled yet (taken in, or adopted)
        self._idle = asyncio.Event()
        self._idle.set()
        self._consumer: asyncio.Task[None] | None = None

    # ----- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt what an earlier run of this adapter left unhandled, then start handling."""
        adopted = await self._adopt(older_than=None)
        if adopted:
            log.warning("%s: %d acknowledged request(s) left by an earlier run", self._name, adopted)
        self._consumer = asyncio.create_task(self._consume(), name=f"inbox-{self._name}")

    async def stop(self) -> None:
        """Stop handling; requests not handled yet stay in the database for the next start."""
        tasks = [t for t in (self._consumer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._consumer = None
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._to_delete:
            await asyncio.gather(self._write(), return_exceptions=True)

    async def wait_idle(self) -> None:
        """Until every request taken so far has been handled."""
        await self._idle.wait()

    def __len__(self) -> int:
        return self._backlog

    # ----- the door ---------------------------------------------------------------------------------

    async def take(self, payload: dict[str, Any]) -> None:
        """Return once `payload` is in the database (so the caller may acknowledge it); raises when it
        could not be stored — then nothing was acknowledged, and the platform will send it again."""
        # ASCII: a lone surrogate (JSON allows "\ud800") must not make the database refuse the text.
        text = json.dumps(payload, separators=(",", ":"))
        while self._backlog >= self._max_backlog:
            self._room.clear()
            await self._room.wait()
        done = asyncio.get_running_loop().create_future()
        self._to_insert.append((text, self._app.clock.now(), done))
        self._backlog += 1  # counted from now: takes waiting for the same write count too
        self._idle.clear()
        self._schedule_write()
        try:
            await asyncio.shield(done)
        except BaseException:
            if not done.done() or done.exception() is not None:
                self._backlog -= 1
                if not (self._backlog or self._to_insert or self._inserting or self._tasks):
                    self._idle.set()  # nothing of ours is waiting to be handled
            self._arrived.set()  # the consumer looks again
            raise

    def _schedule_write(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._write_all(), name=f"inbox-{self._name}-write")

    async def _write_all(self) -> None:
        JUMP_THE_QUEUE.set(True)  # senders wait for these writes (this task's context only)
        while self._to_insert or self._to_delete:
            try:
                await self._write()
            except Exception:  # the senders of the rows it held got the error (a 503: sent again)
                log.exception("%s: could not write the inbox", self._name)
                if not self._to_insert:  # only deletes are left: no hurry, and the database may be down
                    await asyncio.sleep(RETRY_AFTER)

    async def _write(self) -> None:
        """One transaction: the rows waiting to be added, and the handled rows to delete."""
        adding, self._to_insert = self._to_insert, []
        deleting, self._to_delete = self._to_delete, []
        self._inserting = len(adding)
        try:
            async with self._app.engine.begin() as connection:  # Core: no ORM objects to track
                if deleting:
                    await connection.execute(INBOX.delete().where(INBOX.c.id.in_(deleting)))
                if adding:
                    await connection.execute(
                        INBOX.insert(),
                        [
                            {"adapter": self._name, "owner": self.owner, "payload": text, "received_at": at}
                            for text, at, _ in adding
                        ],
                    )
        except BaseException as exc:
            self._to_delete.extend(deleting)  # tried again with the next write
            for _, _, done in adding:
                if not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise
        finally:
            self._inserting = 0
        self._gone.update(deleting)
        if adding:
            self._arrived.set()  # before the senders resume: the consumer must not think all is handled
        for _, _, done in adding:
            if not done.done():
                done.set_result(None)

    # ----- handling ---------------------------------------------------------------------------------

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        next_adoption = loop.time() + ADOPT_EVERY
        while True:
            self._arrived.clear()
            try:
                if loop.time() >= next_adoption:
                    next_adoption = loop.time() + ADOPT_EVERY
                    await self._adopt(older_than=ADOPT_AFTER)
                rows = await self._fetch()
            except Exception:
                log.exception("%s: could not read the inbox; trying again in %ss", self._name, RETRY_AFTER)
                await asyncio.sleep(RETRY_AFTER)
                continue
            if not rows:
                quiet = not (self._tasks or self._to_insert or self._inserting or self._arrived.is_set())
                if quiet:
                    self._backlog = 0  # everything of ours is handled
                    self._room.set()
                    self._idle.set()
                try:
                    async with asyncio.timeout(max(0.0, next_adoption - loop.time())):
                        await self._arrived.wait()
                except TimeoutError:
                    pass
                continue
            for row_id, payload, received_at in rows:
                await self._in_hand.acquire()
                await self._app.foreground.wait_door_idle(DOOR_WAIT, DOOR_QUIET, DOOR_BUSY_BELOW)
                self._taken.add(row_id)
                task = asyncio.create_task(self._handle(row_id, payload, received_at))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _fetch(self) -> list[tuple[int, str, datetime]]:
        """The oldest own rows not in hand (a few more than in hand are read, then filtered)."""
        gone_before = set(self._gone)  # deleted before this read began: it cannot see them
        async with self._app.sessionmaker() as session:
            result = await session.execute(
                select(InboxRow.id, InboxRow.payload, InboxRow.received_at)
                .where(InboxRow.adapter == self._name, InboxRow.owner == self.owner)
                .order_by(InboxRow.id)
                .limit(FETCH + len(self._taken))
            )
            rows = [(row_id, payload, at) for row_id, payload, at in result if row_id not in self._taken]
        self._taken.difference_update(gone_before)
        self._gone.difference_update(gone_before)
        return rows[:FETCH]

    async def _handle(self, row_id: int, payload: str, received_at: datetime) -> None:
        try:
            await self._handler(json.loads(payload), received_at)
        except asyncio.CancelledError:  # stopping: the row stays for the next start
            self._in_hand.release()
            raise
        except Exception:
            log.exception("%s: handling an acknowledged request failed", self._name)
        self._finished(row_id)

    def _finished(self, row_id: int) -> None:
        self._in_hand.release()
        self._to_delete.append(row_id)
        self._schedule_write()
        self._backlog = max(0, self._backlog - 1)
        if self._backlog < self._max_backlog:
            self._room.set()
        if len(self._tasks) <= 1:
            self._arrived.set()  # the consumer looks again, and finds out whether all is handled

    def _grow(self, rows: int) -> None:
        self._backlog += rows
        self._idle.clear()
        self._arrived.set()

    async def _adopt(self, older_than: timedelta | None) -> int:
        """Make rows of other processes ours: at start all of them (an earlier run of ours, or a replica
        that will handle them too — the event-id check keeps one), later only those left too long."""
        statement = update(InboxRow).where(InboxRow.adapter == self._name, InboxRow.owner != self.owner)
        if older_than is not None:
            statement = statement.where(InboxRow.received_at < self._app.clock.now() - older_than)
        async with self._app.sessionmaker() as session:
            result = await session.execute(statement.values(owner=self.owner))
            await session.commit()
        adopted = int(result.rowcount or 0)
        if adopted:
            self._grow(adopted)
        return adopted

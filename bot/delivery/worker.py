"""The delivery worker: sends outbox rows through their adapter, in order per destination, within each
destination's rate limit, with retries.

Order per destination comes from only ever claiming a destination's *head* row (its oldest pending one);
exclusivity across workers from a lease (`claimed_until`), taken under `FOR UPDATE SKIP LOCKED` on
PostgreSQL. A destination that has used up its rate is not claimed at all until its next slot.

The lease is short (`LEASE`) and renewed by a heartbeat while the post is being sent, so the posts of a
replica that died mid-send are taken over by another within `LEASE` plus one poll. A split post's parts
are recorded on the row as they go out (`parts_sent`): whoever sends it next resumes after them, and at
most the part that was in flight when the sender died goes out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Row, Select, Table, Update, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from bot.clock import Clock
from bot.config import DeliveryConfig
from bot.delivery import boards
from bot.delivery.ratelimit import Attempt, RateLimiter, Window, horizon, windows_for
from bot.messages import ChannelRef, OutgoingMessage, without_charts
from bot.metrics import Metrics, counted_by_worker
from bot.ports import Adapter, Capability, DeliveryError, PartProgress
from bot.storage.db import is_postgres, sqlite_in_transaction
from bot.storage.orm import OutboxRow, UTCDateTime
from bot.storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=10)
"""How long a claim holds without renewal: a dead replica's posts wait at most this (plus a poll)."""
HEARTBEATS_PER_LEASE = 3  # renewals per lease: two may be missed (a slow commit) before it lapses
MAX_DIGEST_LINES = 40  # one digest lists at most this many posts; a longer burst makes several digests
GATHER_SECONDS = 0.01  # after a wake, what else falls due this soon is claimed with it (one query, not many)
Folder = Callable[[AsyncSession, list[OutboxRow]], Awaitable[OutgoingMessage]]
"""Builds one digest from the rows being folded (bot.delivery.digest.DealDigestFolder)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    base_backoff: float = 2.0
    max_backoff: float = 600.0

    @classmethod
    def from_config(cls, config: DeliveryConfig) -> RetryPolicy:
        return cls(config.max_attempts, config.base_backoff, config.max_backoff)

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never sooner than the platform's Retry-After."""
        ceiling = min(self.max_backoff, self.base_backoff * (2 ** max(attempts - 1, 0)))
        jittered = random.uniform(ceiling / 2, ceiling)
        return max(jittered, retry_after or 0.0)


class LeaseLost(Exception):
    """The row's lease went to another worker while this one was sending (it stalled past `LEASE`)."""


class _RowProgress:
    """A row's `PartProgress`: each part sent is written to the row (renewing its lease) before the next
    part leaves; if the row is no longer this worker's, the send stops there."""

    def __init__(self, worker: DeliveryWorker, row_id: int, done: int) -> None:
        self._worker = worker
        self._row_id = row_id
        self.done = done

    async def sent(self, parts: int) -> None:
        await self._worker._record_parts(self._row_id, parts)
        self.done = parts


def channel_of(row: OutboxRow) -> ChannelRef:
    return ChannelRef(row.platform, row.workspace, row.channel_id, row.channel_kind)  # type: ignore[arg-type]


class DeliveryWorker:
    """`run_forever(stop)` inside `teambeat run`; `drain()` where a command sends and exits (CLI, console)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        adapters: Mapping[str, Adapter],
        clock: Clock,
        policy: RetryPolicy | None = None,
        batch: int = 50,
        *,
        rates: Mapping[str, float | None] | None = None,
        metrics: Metrics | None = None,
        poll_interval: float = 1.0,
        folder: Folder | None = None,
        images: bool = True,
        lease: timedelta = LEASE,
    ) -> None:
        self._uow_factory = uow_factory
        self._lease = lease
        self._holding: set[int] = set()  # rows claimed and not yet recorded: the heartbeat renews them
        self._images = images  # [images] enabled: off, charts are taken out of posts before sending
        self._folder = folder
        self._adapters = adapters
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._batch = batch
        self._limiter = RateLimiter(rates)
        self._metrics = metrics
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self.worker_id = uuid.uuid4().hex[:12]
        self.next_due: datetime | None = None
        """After each claim: the earliest instant a row not yet due (a retry, a rate slot) becomes due."""
        self._board_messages: dict[int, str | None] = {}  # a claimed board row's message, read by its claim

    @classmethod
    def from_config(
        cls,
        uow_factory: UnitOfWorkFactory,
        adapters: Mapping[str, Adapter],
        clock: Clock,
        config: DeliveryConfig,
        *,
        metrics: Metrics | None = None,
        folder: Folder | None = None,
        images: bool = True,
    ) -> DeliveryWorker:
        """A worker with `[delivery]`'s retry policy, poll interval and per-platform rate overrides."""
        return cls(
            uow_factory,
            adapters,
            clock,
            RetryPolicy.from_config(config),
            rates=config.rates.model_dump(),
            metrics=metrics,
            poll_interval=config.poll_interval,
            folder=folder,
            images=images,
        )

    def wake(self, destinations: Iterable[str] | None = None) -> None:
        """New rows were committed (for `destinations`, if known): look now rather than at the next poll.

        Not when every one of those destinations is known to be at its rate limit: the loop already
        sleeps until the earliest such slot, and a claim now would find nothing it may send (a burst of
        posts to one Slack channel or one robot would otherwise cost a claim query per post).
        """
        if destinations is not None:
            blocked = self._limiter.blocked(self._clock.now())
            if all(destination in blocked for destination in destinations):
                return
        self._wake.set()

    # -- one round at a time (CLI, console, tests) -------------------------------------------------

    async def run_once(self) -> int:
        """Try every row due now (one per destination); the number of rows tried, sent or not."""
        rows = await self._claim(self._batch)
        if rows:
            async with self._heartbeat():
                await asyncio.gather(*(self._send(row) for row in rows))
        return len(rows)

    async def drain(self, max_rounds: int = 100_000) -> int:
        """Keep trying until nothing is due (CLI and console use this); a failed head row no longer
        blocks its destination once it is failed, and a retrying or rate-limited one waits for its time.

        Sends overlap claims, as in `run_forever`: new rows are claimed while half a batch is still in
        flight, rather than after the slowest send of a round, so a platform paced per second (DingTalk's
        app QPS) is kept busy through a 2,000-member fan-out. `max_rounds` bounds the claims.
        """
        async with self._heartbeat():
            return await self._drain(max_rounds)

    async def _drain(self, max_rounds: int) -> int:
        total = 0
        in_flight: set[asyncio.Task[int]] = set()
        try:
            for _ in range(max_rounds):
                rows = await self._claim(self._batch - len(in_flight))
                for row in rows:
                    in_flight.add(asyncio.create_task(self._send(row), name=f"deliver-{row.id}"))
                total += len(rows)
                if not in_flight:
                    break
                # a finished send may make its destination's next row due; claim again then, but
                # not while more than half a batch is in flight (each claim takes the write lock)
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                while len(in_flight) > self._batch // 2:
                    more, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    done |= more
                for task in done:
                    task.result()  # a row whose outcome could not be recorded: fail like run_once
        finally:
            await asyncio.gather(*in_flight, return_exceptions=True)
        return total

    # -- the long-running loop ---------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set, then finish the sends in flight and release every lease held.

        Idle, it looks every `poll_interval` seconds, sooner when `wake()` is called or when a retry or
        rate slot falls due. Each send runs as its own task, so a slow destination holds up no other.
        Cancelled instead of stopped, it abandons the sends in flight (their rows stay pending).
        """
        in_flight: set[asyncio.Task[int]] = set()
        try:
            async with self._heartbeat():
                try:
                    await self._loop(stop, in_flight)
                except asyncio.CancelledError:
                    for task in in_flight:
                        task.cancel()
                    raise
                finally:
                    await asyncio.gather(*in_flight, return_exceptions=True)
        finally:
            await self._release()

    async def _loop(self, stop: asyncio.Event, in_flight: set[asyncio.Task[int]]) -> None:
        def finished(task: asyncio.Task[int]) -> None:
            in_flight.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error(
                    "delivery task failed; its row is retried once its lease expires",
                    exc_info=task.exception(),
                )
            self._wake.set()

        unreachable = False
        while not stop.is_set():
            if self._wake.is_set():  # woken by a commit or a finished send: others usually follow at once
                await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()
            free = self._batch - len(in_flight)
            rows: list[OutboxRow] = []
            if free > 0:
                try:
                    rows = await self._claim(free)
                    unreachable = False
                except Exception:  # the database is unreachable: say so once, and look again after a poll
                    if not unreachable:
                        log.exception("could not claim outbox rows; retrying every %ss", self._poll_interval)
                    unreachable = True
                    self.next_due = None
            for row in rows:
                task = asyncio.create_task(self._send(row), name=f"deliver-{row.id}")
                in_flight.add(task)
                task.add_done_callback(finished)
            if rows and len(rows) == free:
                continue  # more may be due than one batch held (fewer: every row due was claimed)
            await self._sleep(stop, self._idle_timeout(free > 0))

    def _idle_timeout(self, could_claim: bool) -> float:
        if not could_claim or self.next_due is None:
            return self._poll_interval
        until_due = (self.next_due - self._clock.now()).total_seconds()
        return min(self._poll_interval, max(until_due, 0.0))

    async def _sleep(self, stop: asyncio.Event, timeout: float) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # -- the lease ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _heartbeat(self) -> AsyncIterator[None]:
        """While the block runs, renew the lease of every row this worker is sending, a few times per
        lease: a long send (a split post, a slow platform) keeps its row; a dead worker's lapses."""
        beating = asyncio.create_task(self._beat(), name=f"outbox-heartbeat-{self.worker_id}")
        try:
            yield
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _beat(self) -> None:
        interval = self._lease.total_seconds() / HEARTBEATS_PER_LEASE
        while True:
            await asyncio.sleep(interval)
            if not self._holding:
                continue
            try:
                await self._renew(list(self._holding))
            except Exception:  # the database is away: the sends go on; their leases may lapse
                log.warning("could not renew outbox leases", exc_info=True)

    async def _renew(self, row_ids: list[int]) -> int:
        async with self._uow_factory() as uow:
            result = await uow.session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(row_ids), OutboxRow.claimed_by == self.worker_id)
                .values(claimed_until=self._clock.now() + self._lease)
            )
            await uow.session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _record_parts(self, row_id: int, parts: int) -> None:
        """A split post's part `parts` went out: note it on the row and renew the lease, in one write."""
        params = {
            "row_id": row_id,
            "worker": self.worker_id,
            "parts": parts,
            "until": self._clock.now() + self._lease,
        }
        async with self._uow_factory() as uow:
            result = await uow.session.execute(_parts_statement(), params)
            await uow.session.commit()
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(f"outbox row {row_id} was taken over by another worker")

    async def _release(self) -> None:
        """Give back leases still held (a send whose result could not be recorded): others may retry."""
        try:
            async with self._uow_factory() as uow:
                await uow.session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.claimed_by == self.worker_id, OutboxRow.status == "pending")
                    .values(claimed_by=None, claimed_until=None)
                )
                await uow.session.commit()
        except Exception:
            log.exception("could not release outbox leases; they expire within %s", self._lease)

    # -- claiming ----------------------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[OutboxRow]:
        """Lease the head row of each destination that is due and has a free rate slot, up to `limit`."""
        now = self._clock.now()
        claimed: list[OutboxRow] = []
        async with self._uow_factory() as uow:
            session = uow.session
            postgres = is_postgres(session.bind)
            if not postgres:
                # Take SQLite's write lock before reading: two claimers — `teambeat run` beside
                # `teambeat post`, or drain() beside run_forever() — then never read the same unclaimed
                # row. PostgreSQL gets the same from SKIP LOCKED.
                await _begin_immediate(session)
            params: dict[str, Any] = {"now": now, "platforms": list(self._adapters)}
            retry: datetime | None = None
            retry_read = False  # the heads query reads the earliest retry when it finds any head
            while len(claimed) < limit:
                wanted = limit - len(claimed)
                params.update(skip=list(self._limiter.blocked(now)), wanted=wanted)
                heads = (await session.execute(_due_heads(postgres), params)).all()
                if heads:
                    retry, retry_read = heads[0].next_retry, True
                settled = False  # a board row done with unsent: its destination's next row may be due
                taken: list[OutboxRow] = []
                for head in heads:
                    row: OutboxRow = head.OutboxRow
                    if row.board_key is not None and await boards.settle(
                        session, row, self._edits(row), now, head.newest_state
                    ):
                        settled = True
                        continue
                    if await self._take(session, head, now):
                        taken.append(row)
                await self._lease_rows(session, taken, now)  # before any new query: it must not find them
                claimed += taken
                if settled:
                    await session.flush()  # the next query sees the new heads
                elif len(heads) < wanted:
                    break  # every due head row was looked at
            if not retry_read:
                retry = await session.scalar(_next_retry_query(), params)
            self.next_due = self._next_due(retry, now)
            await session.commit()
        self._holding.update(row.id for row in claimed)
        return claimed

    async def _take(self, session: AsyncSession, head: Row[Any], now: datetime) -> bool:
        """Whether the due head row is this worker's to send now (its destination has a free rate slot);
        a 喜报 with more of its kind behind it may be folded into a digest first."""
        row: OutboxRow = head.OutboxRow
        attempts = await self._free_slot(session, row, now)
        if attempts is None:
            return False
        # a half-sent post is not folded: its parts sent belong to its own payload
        if head.foldable and self._folder is not None and not row.parts_sent:
            await self._fold_burst(session, row, attempts, now)
        if row.claimed_by is not None:
            log.warning(
                "taking over outbox row %s from worker %s (its lease lapsed at %s)",
                row.id,
                row.claimed_by,
                row.claimed_until,
            )
        if row.board_key is not None:
            self._board_messages[row.id] = head.board_message
        return True

    async def _lease_rows(self, session: AsyncSession, rows: list[OutboxRow], now: datetime) -> None:
        """Lease the claimed rows to this worker, in one statement."""
        if not rows:
            return
        until = now + self._lease
        params = {"ids": [row.id for row in rows], "worker": self.worker_id, "until": until}
        await session.execute(_lease_statement(), params)
        for row in rows:  # as the database now has them (the rows are not flushed by the ORM)
            set_committed_value(row, "claimed_by", self.worker_id)
            set_committed_value(row, "claimed_until", until)

    async def _free_slot(self, session: AsyncSession, row: OutboxRow, now: datetime) -> list[Attempt] | None:
        """The destination's recent attempts when it may take one more send now (checked against the
        database's log), None when it may not."""
        windows = self._windows(row)
        if not windows:
            return []
        attempts = await self._recent_attempts(session, row, windows, now)
        if self._limiter.next_slot(row.destination, windows, attempts, now) > now:
            return None
        return attempts

    def _edits(self, row: OutboxRow) -> bool:
        adapter = self._adapters.get(row.platform)
        return adapter is not None and boards.editor_for(adapter, channel_of(row)) is not None

    def _windows(self, row: OutboxRow) -> tuple[Window, ...]:
        declared = self._adapters[row.platform].limits_for(channel_of(row))
        return windows_for(self._limiter.limits(row.platform, declared))

    async def _fold_burst(
        self, session: AsyncSession, head: OutboxRow, attempts: list[Attempt], now: datetime
    ) -> None:
        """When a destination has more waiting than its rate lets out now, fold the waiting posts of the
        head's kind (喜报) into one digest sent in the head's place: nothing dropped, the limit kept.

        The folded rows become "folded" (pointing at the head); other posts keep their order.
        `attempts`: the destination's recent attempts, as its rate check read them.
        """
        windows = self._windows(head)
        if not windows:
            return
        behind_head = (
            OutboxRow.destination == head.destination,
            OutboxRow.status == "pending",
            OutboxRow.id != head.id,
        )
        # board refreshes this destination will skip (it cannot edit) take none of its rate
        sent_later = () if self._edits(head) else (OutboxRow.board_quiet.is_(False),)
        # The waiting rows are counted, and only those one digest takes are loaded, and only when it
        # folds: a burst of 喜报 leaves hundreds or thousands waiting, all loaded as entities in one step
        # of the event loop every time the channel's limit let one post out.
        waiting = (
            await session.scalar(select(func.count()).select_from(OutboxRow).where(*behind_head, *sent_later))
            or 0
        )

        def used(window: Window) -> int:
            return sum(1 for a in attempts if a.completed_at > now - timedelta(seconds=window.seconds))

        capacity = min(window.count - used(window) for window in windows)
        if 1 + waiting <= capacity:
            return
        foldable = list(
            await session.scalars(
                select(OutboxRow)
                .where(*behind_head, OutboxRow.fold_kind == head.fold_kind)
                .order_by(OutboxRow.id)
                .limit(MAX_DIGEST_LINES - 1)
            )
        )
        if not foldable:
            return
        group = [head, *foldable]
        assert self._folder is not None
        head.payload = (await self._folder(session, group)).to_json()
        head.fold_kind = None  # a digest is not folded again
        for row in group[1:]:
            row.status, row.folded_into, row.sent_at = "folded", head.id, now
        log.info("folded %d posts to %s into one digest (row %s)", len(group), head.destination, head.id)

    async def _recent_attempts(
        self, session: AsyncSession, row: OutboxRow, windows: tuple[Window, ...], now: datetime
    ) -> list[Attempt]:
        params = {
            "destination": row.destination,
            "since": now - horizon(windows),
            "most": max(w.count for w in windows),
        }
        stored = await session.execute(_attempts_query(), params)
        return [Attempt(row_id, number, at) for row_id, number, at in stored]

    def _next_due(self, retry: datetime | None, now: datetime) -> datetime | None:
        """The earliest future retry (as the claim read it) or rate slot: how long an idle loop may sleep."""
        candidates = [*self._limiter.blocked(now).values(), *([retry] if retry is not None else [])]
        return min(candidates, default=None)

    # -- sending -----------------------------------------------------------------------------------

    async def _send(self, row: OutboxRow) -> int:
        try:
            return await self._send_row(row, self._board_messages.pop(row.id, None))
        finally:
            self._holding.discard(row.id)

    async def _send_row(self, row: OutboxRow, board_message: str | None) -> int:
        """Send the claimed row; `board_message`: a board's message, to edit, as its claim found it."""
        adapter = self._adapters[row.platform]
        error: DeliveryError | None = None
        message_id = None
        progress: PartProgress = _RowProgress(self, row.id, row.parts_sent)
        try:
            message = OutgoingMessage.from_json(row.payload)
            shows = getattr(adapter, "capabilities", Capability.NONE)  # declaring nothing: no pictures
            if not (self._images and Capability.IMAGES in shows):
                message = without_charts(message)  # the text is complete on its own
            editor = boards.editor_for(adapter, channel_of(row)) if row.board_key else None
            with counted_by_worker():  # one count per failed attempt, here (`_observe`), not per call
                if editor is not None:  # a board: an edit of its message (counted like a post)
                    sent = await boards.deliver(
                        adapter, editor, channel_of(row), message, board_message, progress
                    )
                else:
                    sent = await adapter.send(channel_of(row), message, progress)
            message_id = sent.message_id
        except LeaseLost as exc:  # another worker has the row now: it records the outcome
            log.warning("%s; this worker stops sending it", exc)
            return 0
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # an adapter bug or an unexpected network failure: retry, but say so
            log.exception("adapter %s failed sending outbox row %s", row.platform, row.id)
            error = DeliveryError(f"{type(exc).__name__}: {exc}", transient=True)
        completed = self._clock.now()
        self._limiter.record(row.destination, Attempt(row.id, row.attempts + 1, completed))
        if error is None and await self._record_sent(row.id, message_id, completed):
            self._observe(row, None, completed)
        else:
            await self._record(row.id, message_id, error, completed)
        return 1 if error is None else 0

    async def _record_sent(self, row_id: int, message_id: str | None, now: datetime) -> bool:
        """Mark the row sent, in one statement; False when it is not this worker's to mark (no longer
        pending, taken over, deleted): `_record` then says which."""
        params = {"row_id": row_id, "worker": self.worker_id, "at": now, "sent_id": message_id}
        async with self._uow_factory() as uow:
            result = await uow.session.execute(_sent_statement(), params)
            await uow.session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _record(
        self, row_id: int, message_id: str | None, error: DeliveryError | None, now: datetime
    ) -> None:
        """Record the attempt's outcome on the row (a failure, or a send `_record_sent` could not mark)."""
        async with self._uow_factory() as uow:
            row = await uow.session.get(OutboxRow, row_id)
            if row is None:  # deleted while in flight (an operator's cleanup): nothing to record
                return
            if row.status != "pending" or row.claimed_by not in (None, self.worker_id):
                log.warning("outbox row %s was taken over by %s while sent here", row.id, row.claimed_by)
                return
            row.claimed_by = None
            row.claimed_until = None
            row.attempts += 1
            row.last_attempt_at = now
            if error is None:
                row.status, row.sent_at, row.message_id, row.last_error = "sent", now, message_id, None
            elif error.transient and row.attempts < self._policy.max_attempts:
                row.last_error = error.reason
                row.next_attempt_at = now + timedelta(
                    seconds=self._policy.delay(row.attempts, error.retry_after)
                )
                log.info("outbox row %s to %s will be retried: %s", row.id, row.destination, error.reason)
            else:
                row.status, row.last_error = "failed", error.reason
                log.error("outbox row %s to %s failed for good: %s", row.id, row.destination, error.reason)
            await uow.session.commit()
            self._observe(row, error, now)

    def _observe(self, row: OutboxRow, error: DeliveryError | None, now: datetime) -> None:
        if self._metrics is None:
            return
        if error is None:
            self._metrics.delivered(row.platform, (now - row.created_at).total_seconds())
        else:
            self._metrics.send_failed(row.platform, "transient" if error.transient else "permanent")


# -- statements, built once (building one costs more CPU than running it) and run with parameters ----

_TIME = UTCDateTime()


def _outbox() -> Table:
    return OutboxRow.__table__  # type: ignore[return-value]


async def _begin_immediate(session: AsyncSession) -> None:
    """Begin the session's SQLite transaction with the write lock (the sqlite3 module would begin it
    only at the first write)."""
    connection = await session.connection()
    if not sqlite_in_transaction(connection.sync_connection):  # type: ignore[arg-type]
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


@functools.cache
def _due_heads(postgres: bool) -> Select[Any]:
    """The due head rows (parameters `now`, `platforms`, `skip`: destinations at their rate, `wanted`),
    each with what its claim needs: its board's newest pending state and message, whether posts of its
    fold kind wait behind it, and the earliest future retry of all (one query, not one per question).

    The head of a destination is its oldest pending row: one probe of ix_outbox_destination_status_id
    per row, however long the backlog. (Written as "no older pending row exists", PostgreSQL, which
    expects few pending rows, planned it as a scan of every pending row for each one: 2,000 queued DMs
    took seconds per claim.)"""
    older, behind = aliased(OutboxRow), aliased(OutboxRow)
    head = (
        select(func.min(older.id))
        .where(older.destination == OutboxRow.destination, older.status == "pending")
        .scalar_subquery()
    )
    foldable = exists().where(
        behind.destination == OutboxRow.destination,
        behind.status == "pending",
        behind.fold_kind == OutboxRow.fold_kind,
        behind.id > OutboxRow.id,
    )
    now = bindparam("now", type_=_TIME)
    query = (
        select(
            OutboxRow,
            boards.newest_state().label("newest_state"),
            boards.posted_message().label("board_message"),
            foldable.label("foldable"),
            _next_retry(aliased(OutboxRow)).scalar_subquery().label("next_retry"),
        )
        .where(
            OutboxRow.status == "pending",
            OutboxRow.next_attempt_at <= now,
            OutboxRow.platform.in_(bindparam("platforms", expanding=True)),
            or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
            OutboxRow.id == head,
            OutboxRow.destination.not_in(bindparam("skip", expanding=True)),
        )
        .order_by(OutboxRow.id)
        .limit(bindparam("wanted", type_=Integer))
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=OutboxRow)
    return query


def _next_retry(rows: type[OutboxRow]) -> Select[tuple[datetime | None]]:
    """The earliest future retry of a pending row (parameters `now`, `platforms`)."""
    return select(func.min(rows.next_attempt_at)).where(
        rows.status == "pending",
        rows.next_attempt_at > bindparam("now", type_=_TIME),
        rows.platform.in_(bindparam("platforms", expanding=True)),
    )


@functools.cache
def _next_retry_query() -> Select[tuple[datetime | None]]:
    return _next_retry(OutboxRow)


@functools.cache
def _attempts_query() -> Select[tuple[int, int, datetime | None]]:
    """A destination's latest attempts (parameters `destination`, `since`, `most`)."""
    t = _outbox()
    return (
        select(t.c.id, t.c.attempts, t.c.last_attempt_at)
        .where(
            t.c.destination == bindparam("destination"), t.c.last_attempt_at > bindparam("since", type_=_TIME)
        )
        .order_by(t.c.last_attempt_at.desc())
        .limit(bindparam("most", type_=Integer))
    )


@functools.cache
def _lease_statement() -> Update:
    """Lease rows `ids` to `worker` until `until`."""
    t = _outbox()
    return (
        update(t)
        .where(t.c.id.in_(bindparam("ids", expanding=True)))
        .values(claimed_by=bindparam("worker"), claimed_until=bindparam("until", type_=_TIME))
    )


@functools.cache
def _parts_statement() -> Update:
    """Row `row_id`, still leased to `worker`, sent `parts`: recorded, and the lease renewed to `until`."""
    t = _outbox()
    return (
        update(t)
        .where(t.c.id == bindparam("row_id"), t.c.claimed_by == bindparam("worker"))
        .values(parts_sent=bindparam("parts", type_=Integer), claimed_until=bindparam("until", type_=_TIME))
    )


@functools.cache
def _sent_statement() -> Update:
    """Row `row_id` was sent at `at` as `sent_id`, unless it is no longer pending or another's lease."""
    t = _outbox()
    at = bindparam("at", type_=_TIME)
    return (
        update(t)
        .where(
            t.c.id == bindparam("row_id"),
            t.c.status == "pending",
            or_(t.c.claimed_by.is_(None), t.c.claimed_by == bindparam("worker")),
        )
        .values(
            status="sent",
            sent_at=at,
            last_attempt_at=at,
            message_id=bindparam("sent_id"),
            last_error=None,
            attempts=t.c.attempts + 1,
            claimed_by=None,
            claimed_until=None,
        )
    )

"""The delivery worker: sends outbox rows through their adapter, in order per destination, with retries."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.messages import ChannelRef, OutgoingMessage
from bot.ports import Adapter, DeliveryError
from bot.storage.db import is_postgres
from bot.storage.orm import OutboxRow
from bot.storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    base_backoff: float = 2.0
    max_backoff: float = 600.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never sooner than the platform's Retry-After."""
        ceiling = min(self.max_backoff, self.base_backoff * (2 ** max(attempts - 1, 0)))
        jittered = random.uniform(ceiling / 2, ceiling)
        return max(jittered, retry_after or 0.0)


class DeliveryWorker:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        adapters: Mapping[str, Adapter],
        clock: Clock,
        policy: RetryPolicy | None = None,
        batch: int = 50,
    ) -> None:
        self._uow_factory = uow_factory
        self._adapters = adapters
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._batch = batch
        self.worker_id = uuid.uuid4().hex[:12]

    async def _claim(self) -> list[OutboxRow]:
        """The head row of each destination that is due, leased to this worker (SKIP LOCKED on PostgreSQL)."""
        now = self._clock.now()
        older = aliased(OutboxRow)
        async with self._uow_factory() as uow:
            session = uow.session
            query = (
                select(OutboxRow)
                .where(
                    OutboxRow.status == "pending",
                    OutboxRow.next_attempt_at <= now,
                    OutboxRow.platform.in_(list(self._adapters)),
                    or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                    ~exists().where(
                        and_(
                            older.destination == OutboxRow.destination,
                            older.status == "pending",
                            older.id < OutboxRow.id,
                        )
                    ),
                )
                .order_by(OutboxRow.id)
                .limit(self._batch)
            )
            if is_postgres(session.bind):
                query = query.with_for_update(skip_locked=True, of=OutboxRow)
            rows = list(await session.scalars(query))
            for row in rows:
                row.claimed_by = self.worker_id
                row.claimed_until = now + LEASE
            await session.commit()
            return rows

    async def run_once(self) -> int:
        """Try every row due now (one per destination); the number of rows tried, sent or not."""
        rows = await self._claim()
        if rows:
            await asyncio.gather(*(self._send(row) for row in rows))
        return len(rows)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Keep trying until nothing is due (CLI and console use this); a failed head row no longer
        blocks its destination once it is failed, and a retrying one waits for its next attempt."""
        total = 0
        for _ in range(max_rounds):
            tried = await self.run_once()
            if tried == 0:
                break
            total += tried
        return total

    async def _send(self, row: OutboxRow) -> int:
        adapter = self._adapters[row.platform]
        channel = ChannelRef(row.platform, row.workspace, row.channel_id, row.channel_kind)  # type: ignore[arg-type]
        error: DeliveryError | None = None
        message_id = None
        try:
            sent = await adapter.send(channel, OutgoingMessage.from_json(row.payload))
            message_id = sent.message_id
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # an adapter bug or an unexpected network failure: retry, but say so
            log.exception("adapter %s failed sending outbox row %s", row.platform, row.id)
            error = DeliveryError(f"{type(exc).__name__}: {exc}", transient=True)
        await self._record(row.id, message_id, error)
        return 1 if error is None else 0

    async def _record(self, row_id: int, message_id: str | None, error: DeliveryError | None) -> None:
        now = self._clock.now()
        async with self._uow_factory() as uow:
            row = await uow.session.get(OutboxRow, row_id)
            row.claimed_by = None
            row.claimed_until = None
            row.attempts += 1
            if error is None:
                row.status, row.sent_at, row.message_id, row.last_error = "sent", now, message_id, None
            elif error.transient and row.attempts < self._policy.max_attempts:
                row.last_error = error.reason
                row.next_attempt_at = now + timedelta(
                    seconds=self._policy.delay(row.attempts, error.retry_after)
                )
            else:
                row.status, row.last_error = "failed", error.reason
                log.error("outbox row %s to %s failed for good: %s", row.id, row.destination, error.reason)
            await uow.session.commit()

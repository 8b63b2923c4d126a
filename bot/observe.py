"""The figures /metrics reads from the database at scrape time (every replica reports the same ones;
`teambeat_scheduler_leader` is the one each process sets for itself)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.status import oldest_pending_at, parked_count, state_counts
from bot.jobs import queue as jobs_queue
from bot.metrics import Metrics
from bot.services.schedule_health import last_scheduled, missed_posts


async def refresh_gauges(metrics: Metrics, session: AsyncSession, now: datetime) -> None:
    metrics.set_outbox(await state_counts(session))
    metrics.set_parked(await parked_count(session))
    oldest = await oldest_pending_at(session)
    metrics.set_oldest_pending((now - oldest).total_seconds() if oldest is not None else 0.0)
    metrics.set_last_scheduled(await last_scheduled(session))
    metrics.set_missed(len(await missed_posts(session, now)))
    oldest_job = await jobs_queue.oldest_waiting(session)
    metrics.set_jobs(
        await jobs_queue.waiting_count(session),
        (now - oldest_job).total_seconds() if oldest_job is not None else 0.0,
        await jobs_queue.parked_by_kind(session),
    )

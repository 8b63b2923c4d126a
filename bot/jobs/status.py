"""The jobs table for operators: how many wait, how old the oldest is, and which were parked and why
(`teambeat status`). Parked deal announcements are listed with their deals by bot.delivery.status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.status import ERROR_WIDTH, duration, plural
from bot.jobs import queue
from bot.jobs.kinds import ANNOUNCE_DEAL

LATEST_PARKED = 5


@dataclass(frozen=True, slots=True)
class ParkedJob:
    id: int
    kind: str
    team_id: int | None
    attempts: int
    parked_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class JobsStatus:
    waiting: int
    oldest_waiting: datetime | None
    parked: int
    latest_parked: list[ParkedJob]
    """Of every kind but announce_deal (those are shown as deals)."""


async def jobs_status(session: AsyncSession, *, limit: int = LATEST_PARKED) -> JobsStatus:
    rows = [row for row in await queue.parked(session, limit=limit + 50) if row.kind != ANNOUNCE_DEAL][:limit]
    return JobsStatus(
        await queue.waiting_count(session),
        await queue.oldest_waiting(session),
        await queue.parked_count(session),
        [ParkedJob(r.id, r.kind, r.team_id, r.attempts, r.parked_at, r.last_error or "") for r in rows],
    )


def render_jobs(status: JobsStatus, now: datetime) -> str:
    line = f"jobs: {status.waiting} waiting"
    if status.oldest_waiting is not None:
        line += f" (oldest {duration(now - status.oldest_waiting)})"
    line += f" · {status.parked} parked"
    lines = [line]
    for job in status.latest_parked:
        team = f", team #{job.team_id}" if job.team_id is not None else ""
        reason = " ".join(job.reason.split())[:ERROR_WIDTH]
        lines.append(
            f"  job #{job.id} ({job.kind}{team}) parked {duration(now - job.parked_at)} ago"
            f" · {plural(job.attempts, 'attempt')} · {reason}"
        )
    return "\n".join(lines)

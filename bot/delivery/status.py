"""`teambeat status`: what the outbox holds, what is stuck, and why — for an operator at a terminal.

Operator output (like `check-config`), so plain English in code rather than a chat template.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.jobs import queue as jobs_queue
from bot.jobs.kinds import ANNOUNCE_DEAL
from bot.services.schedule_health import MISSED_AFTER, MissedPost, last_scheduled, missed_posts
from bot.storage.db import create_engine, create_sessionmaker, is_postgres
from bot.storage.migrate import check_schema_current
from bot.storage.orm import Deal, OutboxRow, Team

STATES = ("pending", "sent", "folded", "failed")
LATEST_ERRORS = 5
ERROR_WIDTH = 200


@dataclass(frozen=True, slots=True)
class RowView:
    id: int
    destination: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    claimed_until: datetime | None

    @classmethod
    def of(cls, row: OutboxRow) -> RowView:
        return cls(
            row.id,
            row.destination,
            row.status,
            row.attempts,
            row.created_at,
            row.next_attempt_at,
            row.last_attempt_at,
            row.last_error,
            row.claimed_until,
        )


@dataclass(frozen=True, slots=True)
class ParkedDeal:
    """A deal whose announcement failed every attempt and was set aside (its announce_deal job parked)."""

    id: int
    team: str
    external_id: str
    attempts: int
    parked_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    counts: dict[str, int]
    oldest_pending: RowView | None
    latest_errors: list[RowView]
    deals_waiting: int = 0
    """Deals recorded whose announcements are not in the outbox yet (bot.deal_announcements)."""
    parked: int = 0
    latest_parked: list[ParkedDeal] = field(default_factory=list)


async def state_counts(session: AsyncSession) -> dict[str, int]:
    """Rows by state, every state present (0 when none): also what `/metrics` reports."""
    rows = await session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
    counts = dict.fromkeys(STATES, 0)
    counts.update({status: count for status, count in rows})
    return counts


async def outbox_status(session: AsyncSession, *, errors: int = LATEST_ERRORS) -> OutboxStatus:
    oldest = await session.scalar(
        select(OutboxRow).where(OutboxRow.status == "pending").order_by(OutboxRow.id).limit(1)
    )
    failing = await session.scalars(
        select(OutboxRow)
        .where(
            or_(
                OutboxRow.status == "failed",
                (OutboxRow.status == "pending") & OutboxRow.last_error.is_not(None),
            )
        )
        .order_by(func.coalesce(OutboxRow.last_attempt_at, OutboxRow.created_at).desc(), OutboxRow.id.desc())
        .limit(errors)
    )
    waiting = await session.scalar(select(func.count()).where(Deal.announce_pending.is_(True)))
    parked_jobs = await jobs_queue.parked(session, ANNOUNCE_DEAL, errors)
    deal_ids = [int(json.loads(job.payload)["deal_id"]) for job in parked_jobs]
    found = await session.execute(
        select(Deal.id, Deal.external_id, Team.slug)
        .join(Team, Team.id == Deal.team_id)
        .where(Deal.id.in_(deal_ids))
    )
    deals = {deal_id: (external_id, slug) for deal_id, external_id, slug in found}
    return OutboxStatus(
        await state_counts(session),
        RowView.of(oldest) if oldest is not None else None,
        [RowView.of(row) for row in failing],
        int(waiting or 0),
        await parked_count(session),
        [
            ParkedDeal(
                deal_id,
                *deals.get(deal_id, ("?", "?"))[::-1],
                job.attempts,
                job.parked_at,
                job.last_error or "",
            )
            for deal_id, job in zip(deal_ids, parked_jobs, strict=True)
        ],
    )


async def oldest_pending_at(session: AsyncSession) -> datetime | None:
    """When the oldest post still waiting was queued: also what `/metrics` reports (as an age)."""
    return await session.scalar(select(func.min(OutboxRow.created_at)).where(OutboxRow.status == "pending"))


async def parked_count(session: AsyncSession) -> int:
    """Deals whose announcement was set aside: also what `/metrics` reports."""
    return await jobs_queue.parked_count(session, ANNOUNCE_DEAL)


async def print_status(url: str, clock: Clock | None = None) -> int:
    """The `teambeat status` command: read-only, so a database not at the latest schema is refused."""
    now = (clock or SystemClock()).now()
    engine = create_engine(url)
    try:
        if not await check_schema_current(engine):
            print(
                "error: the database is not at the latest schema: run `teambeat db upgrade`", file=sys.stderr
            )
            return 1
        from bot.jobs.status import jobs_status, render_jobs  # it formats with this module's helpers

        async with create_sessionmaker(engine)() as session:
            status = await outbox_status(session)
            jobs = await jobs_status(session)
            cadence = await cadence_status(session, now)
    finally:
        await engine.dispose()
    print(render_status(status, now))
    print(render_jobs(jobs, now))
    print(render_cadence(cadence, now))
    return 0


@dataclass(frozen=True, slots=True)
class CadenceStatus:
    last_by_kind: dict[str, datetime]
    missed: list[MissedPost]
    leader: str
    """Who schedules: the replica holding the lock (PostgreSQL), or the one process (SQLite)."""


async def cadence_status(session: AsyncSession, now: datetime) -> CadenceStatus:
    if is_postgres(session.bind):
        from scheduling.leadership import current_leader  # the lock's details live with the lock

        holder = await current_leader(await session.connection())
        leader = holder or "none (no replica holds the scheduler's lock)"
    else:
        leader = "the one process running on this SQLite file"
    return CadenceStatus(await last_scheduled(session), await missed_posts(session, now), leader)


def render_cadence(status: CadenceStatus, now: datetime) -> str:
    lines = [f"scheduler leader: {status.leader}"]
    if not status.last_by_kind:
        lines.append("last scheduled posts: none yet")
    else:
        lines.append(
            "last scheduled posts: "
            + " · ".join(
                f"{kind} {duration(now - at)} ago" for kind, at in sorted(status.last_by_kind.items())
            )
        )
    if not status.missed:
        lines.append(f"missed scheduled posts: none (due over {duration(MISSED_AFTER)} ago without a post)")
    else:
        lines.append(f"missed scheduled posts: {len(status.missed)}")
        for post in status.missed[:LATEST_ERRORS]:
            lines.append(
                f"  team {post.team} · {post.kind} for {post.period} · due {duration(now - post.due)} ago"
            )
    return "\n".join(lines)


def render_status(status: OutboxStatus, now: datetime) -> str:
    counts = status.counts
    lines = [
        f"outbox: {counts['pending']} pending · {counts['sent']} sent"
        f" · {counts['folded']} folded into digests · {counts['failed']} failed"
    ]
    extra = {k: v for k, v in counts.items() if k not in STATES}
    if extra:  # a state this version does not know: show it rather than hide rows
        lines[0] += "".join(f" · {v} {k}" for k, v in sorted(extra.items()))
    if status.deals_waiting:
        lines.append(f"deals waiting for their announcements: {status.deals_waiting}")
    if status.parked:
        lines.append(
            f"announcements set aside after failing every attempt: {status.parked}"
            " (the deals stay recorded and counted, unannounced)"
        )
        for deal in status.latest_parked:
            lines.append(
                f"  deal #{deal.id} (team {deal.team}, id {_one_line(deal.external_id)})"
                f" {duration(now - deal.parked_at)} ago · {plural(deal.attempts, 'attempt')}"
                f" · {_one_line(deal.reason)}"
            )
    oldest = status.oldest_pending
    if oldest is None:
        lines.append("oldest pending: none")
    else:
        lines.append(f"oldest pending: #{oldest.id} → {oldest.destination}")
        lines.append(
            f"  age {duration(now - oldest.created_at)} · {plural(oldest.attempts, 'attempt')}"
            f" · {_next_attempt(oldest, now)}"
        )
        if oldest.last_error:
            lines.append(f"  last error: {_one_line(oldest.last_error)}")
    if not status.latest_errors:
        lines.append("latest errors: none")
    else:
        lines.append("latest errors:")
        for row in status.latest_errors:
            when = row.last_attempt_at or row.created_at
            lines.append(
                f"  #{row.id} {row.status:<7} {duration(now - when)} ago · {row.destination}"
                f" · {plural(row.attempts, 'attempt')} · {_one_line(row.last_error or '')}"
            )
    return "\n".join(lines)


def _next_attempt(row: RowView, now: datetime) -> str:
    if row.claimed_until is not None and row.claimed_until > now:
        return "being sent now"
    if row.next_attempt_at <= now:
        return "due now"
    return f"next attempt in {duration(row.next_attempt_at - now)}"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= ERROR_WIDTH else flat[: ERROR_WIDTH - 1] + "…"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def duration(delta: timedelta) -> str:
    """A short age: `42s`, `5m 12s`, `3h 05m`, `2d 4h`."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"

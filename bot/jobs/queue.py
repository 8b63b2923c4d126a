"""The jobs table's statements: queue a job in the caller's transaction, claim, renew, finish, fail.

A claimed job is leased to one worker until `lease_until`; the worker renews the lease while the job
runs, so a job whose worker died is claimable again once the lease lapses. `attempts` counts claims, so
a job that kills its worker every time is parked too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Insert, Update, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import is_postgres
from bot.storage.orm import JobRow

REASON_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    team_id: int | None
    attempts: int
    key: str | None
    created_at: datetime


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    team_id: int | None = None,
    run_after: datetime | None = None,
    key: str | None = None,
) -> bool:
    """Queue a job in the caller's transaction (it exists once that commits); True when added — False
    when a job with the same `key` is queued already."""
    values = {
        "kind": kind,
        "key": key,
        "payload": _json(payload),
        "team_id": team_id,
        "run_after": run_after or now,
        "attempts": 0,
        "created_at": now,
    }
    if key is None:
        await session.execute(JobRow.__table__.insert().values(values))
        return True
    insert = pg_insert if is_postgres(session.bind) else sqlite_insert
    statement = insert(JobRow.__table__).values(values).on_conflict_do_nothing(index_elements=["key"])
    return (await session.execute(statement)).rowcount == 1


async def enqueue_leased(
    session: AsyncSession, kind: str, payload: dict[str, Any], *, now: datetime, owner: str, lease: timedelta
) -> Job:
    """Queue a job already leased to `owner`, in the caller's transaction: the process that queues it
    runs it once that commits, without claiming it (another takes it over if the lease lapses)."""
    row = {
        "kind": kind,
        "payload": _json(payload),
        "run_after": now,
        "attempts": 1,
        "created_at": now,
        "lease_owner": owner,
        "lease_until": now + lease,
    }
    job_id = (await session.execute(_leased_insert(), row)).scalar_one()
    return Job(job_id, kind, payload, None, 1, None, now)


@cache
def _leased_insert() -> Insert:
    """Built once: the intake runs it with every request."""
    return JobRow.__table__.insert().returning(JobRow.__table__.c.id)


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


@cache
def _claim_statement(kinds: frozenset[str], postgres: bool) -> Update:
    """The claim, built once per set of kinds (a worker claims the same few over and over)."""
    jobs = JobRow.__table__.c
    now = bindparam("now")
    due = (
        jobs.parked_at.is_(None),
        jobs.run_after <= now,
        or_(jobs.lease_until.is_(None), jobs.lease_until < now),
        jobs.kind.in_(sorted(kinds)),
    )
    candidate = select(jobs.id).where(*due).order_by(jobs.id).limit(1)
    if postgres:
        candidate = candidate.with_for_update(skip_locked=True)
    return (
        update(JobRow.__table__)
        .where(jobs.id == candidate.scalar_subquery(), *due)
        .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"), attempts=jobs.attempts + 1)
        .returning(jobs.id, jobs.kind, jobs.payload, jobs.team_id, jobs.attempts, jobs.key, jobs.created_at)
    )


async def claim(
    session: AsyncSession, owner: str, now: datetime, lease: timedelta, kinds: frozenset[str]
) -> Job | None:
    """Lease the oldest due job of these kinds to `owner` (committed here); None when there is none.

    PostgreSQL: the candidate row is locked with SKIP LOCKED, so concurrent workers take different jobs.
    SQLite: one UPDATE statement is atomic (one writer at a time), and it re-checks the lease."""
    statement = _claim_statement(kinds, is_postgres(session.bind))
    parameters = {"now": now, "owner": owner, "until": now + lease}
    row = (await session.execute(statement, parameters)).first()
    await session.commit()
    if row is None:
        return None
    return Job(row.id, row.kind, json.loads(row.payload), row.team_id, row.attempts, row.key, row.created_at)


async def renew(session: AsyncSession, owner: str, ids: list[int], until: datetime) -> None:
    """The heartbeat: keep the leases of the jobs in hand."""
    jobs = JobRow.__table__.c
    await session.execute(
        update(JobRow.__table__).where(jobs.id.in_(ids), jobs.lease_owner == owner).values(lease_until=until)
    )
    await session.commit()


async def release(session: AsyncSession, owner: str) -> None:
    """A stopping worker lets go of what it still holds; the claim it made does not count."""
    jobs = JobRow.__table__.c
    await session.execute(
        update(JobRow.__table__)
        .where(jobs.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, attempts=jobs.attempts - 1)
    )
    await session.commit()


async def finish(session: AsyncSession, job_ids: list[int]) -> None:
    """Done: the rows go."""
    await session.execute(delete(JobRow.__table__).where(JobRow.__table__.c.id.in_(job_ids)))


async def fail(
    session: AsyncSession, job: Job, reason: str, now: datetime, *, retry_at: datetime | None
) -> None:
    """Let go of a failed job: tried again at `retry_at`, or parked with its reason (None)."""
    jobs = JobRow.__table__.c
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": _short(reason)}
    if retry_at is None:
        values["parked_at"] = now
    else:
        values["run_after"] = retry_at
    await session.execute(update(JobRow.__table__).where(jobs.id == job.id).values(values))


async def parked(session: AsyncSession, kind: str | None = None, limit: int = 5) -> list[JobRow]:
    """The latest parked jobs (of one kind), newest first."""
    query = select(JobRow).where(JobRow.parked_at.is_not(None))
    if kind is not None:
        query = query.where(JobRow.kind == kind)
    return list(await session.scalars(query.order_by(JobRow.parked_at.desc(), JobRow.id.desc()).limit(limit)))


async def parked_count(session: AsyncSession, kind: str | None = None) -> int:
    query = select(func.count()).select_from(JobRow).where(JobRow.parked_at.is_not(None))
    if kind is not None:
        query = query.where(JobRow.kind == kind)
    return int(await session.scalar(query) or 0)


async def parked_by_kind(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(JobRow.kind, func.count()).where(JobRow.parked_at.is_not(None)).group_by(JobRow.kind)
    )
    return {kind: int(count) for kind, count in rows}


async def waiting_count(session: AsyncSession, kind: str | None = None) -> int:
    """Jobs not parked (due, later, or in hand)."""
    query = select(func.count()).select_from(JobRow).where(JobRow.parked_at.is_(None))
    if kind is not None:
        query = query.where(JobRow.kind == kind)
    return int(await session.scalar(query) or 0)


async def oldest_waiting(session: AsyncSession) -> datetime | None:
    """When the oldest job not parked was queued: /metrics shows its age."""
    return await session.scalar(select(func.min(JobRow.created_at)).where(JobRow.parked_at.is_(None)))


def reason_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= REASON_LENGTH else flat[: REASON_LENGTH - 1] + "…"

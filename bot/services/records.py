"""Daily records (破纪录): has today's total of a team or a member beaten every earlier day?"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.periods import PeriodName, local_day, period_containing
from bot.storage.db import is_postgres
from bot.storage.orm import DailyRecord, Deal, Team


async def new_record(
    session: AsyncSession, team: Team, member_id: int | None, today: date, today_total: int
) -> int | None:
    """The record beaten when `today_total` is the first total today to beat every earlier day
    (None otherwise, and None when there was no earlier day to beat). Later gains on the same day
    raise the record silently, so a record is announced at most once a day per subject.

    The row is locked (PostgreSQL) so that concurrent deals see each other's raise.
    """
    subject = "team" if member_id is None else f"member:{member_id}"
    row = await _locked(session, team, subject, member_id, today)
    if today_total <= row.best_minor:
        return None
    previous, set_today = row.best_minor, row.best_day == today
    row.best_minor, row.best_day = today_total, today
    if set_today or previous <= 0:
        return None
    return previous


async def _locked(
    session: AsyncSession, team: Team, subject: str, member_id: int | None, today: date
) -> DailyRecord:
    query = select(DailyRecord).where(DailyRecord.team_id == team.id, DailyRecord.subject == subject)
    postgres = is_postgres(session.bind)
    if postgres:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is not None:
        return row
    best, day = await _best_before(session, team, member_id, today)
    insert = pg_insert if postgres else sqlite_insert
    await session.execute(
        insert(DailyRecord)
        .values(team_id=team.id, subject=subject, best_minor=best, best_day=day)
        .on_conflict_do_nothing()
    )
    return await session.scalar(query.execution_options(populate_existing=True))


async def _best_before(
    session: AsyncSession, team: Team, member_id: int | None, today: date
) -> tuple[int, date | None]:
    """The best day before today, from the history itself: done once per subject, then kept."""
    start, _ = period_containing(PeriodName.TODAY, today).utc_bounds(team.timezone)
    query = select(Deal.closed_at, Deal.amount_minor).where(
        Deal.team_id == team.id, Deal.voided_at.is_(None), Deal.closed_at < start
    )
    if member_id is not None:
        query = query.where(Deal.member_id == member_id)
    totals: dict[date, int] = defaultdict(int)
    for closed_at, amount in await session.execute(query):
        totals[local_day(closed_at, team.timezone)] += amount
    if not totals:
        return 0, None
    day = max(totals, key=lambda d: totals[d])
    return totals[day], day

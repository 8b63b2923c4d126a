"""Daily records (破纪录): has today's total of a team or a member beaten every earlier day?"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, Update, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.periods import PeriodName, local_day, period_containing
from bot.storage.db import is_postgres
from bot.storage.orm import DailyRecord, Deal, Team

Raised = list[dict[str, Any]]
"""Records raised and not yet written (`write`'s rows)."""


async def new_records(
    session: AsyncSession,
    team: Team,
    today: date,
    totals: Sequence[tuple[int | None, int]],
    raised: Raised,
) -> list[int | None]:
    """For each (member id, or None for the team; today's total): the record beaten when that total is
    the first today to beat every earlier day (None otherwise, and None when there was no earlier day to
    beat). Later gains on the same day raise the record silently, so a record is announced at most once
    a day per subject. The raised records go to `raised`, for `write` (with the posts, not before).

    The rows are read in one query and locked (PostgreSQL, the team's first) so that concurrent deals
    see each other's raise.
    """
    subjects = [_subject(member_id) for member_id, _ in totals]
    found = await _locked_rows(session, team.id, subjects)
    beaten = []
    for (member_id, total), subject in zip(totals, subjects, strict=True):
        best = found.get(subject) or await _locked(session, team, subject, member_id, today)
        if total > best[0]:
            raised.append({"of_team": team.id, "of_subject": subject, "best": total, "day": today})
        beaten.append(_beaten(best, today, total))
    return beaten


async def write(session: AsyncSession, raised: Raised) -> None:
    """Write the records `new_records` raised (their rows are locked already on PostgreSQL)."""
    for row in raised:
        await session.execute(_update(), row)


def _subject(member_id: int | None) -> str:
    return "team" if member_id is None else f"member:{member_id}"


def _beaten(best: tuple[int, date | None], today: date, today_total: int) -> int | None:
    previous, day = best
    if today_total <= previous or day == today or previous <= 0:
        return None
    return previous


@cache
def _rows_query(postgres: bool) -> Select:
    """Built once per dialect (it runs with every deal), on the table: a plain Core statement skips the
    ORM's part. "team" sorts after "member:…", so descending locks the team's row first."""
    records = DailyRecord.__table__.c
    query = (
        select(records.subject, records.best_minor, records.best_day)
        .where(
            records.team_id == bindparam("team_id"),
            records.subject.in_(bindparam("subjects", expanding=True)),
        )
        .order_by(records.subject.desc())
    )
    return query.with_for_update() if postgres else query


async def _locked_rows(
    session: AsyncSession, team_id: int, subjects: list[str]
) -> dict[str, tuple[int, date | None]]:
    """subject -> (best day's total, that day) of the subjects that have a row."""
    query = _rows_query(is_postgres(session.bind))
    rows = await session.execute(query, {"team_id": team_id, "subjects": subjects})
    return {subject: (best, day) for subject, best, day in rows}


async def _locked(
    session: AsyncSession, team: Team, subject: str, member_id: int | None, today: date
) -> tuple[int, date | None]:
    """A subject's row that was not there yet: made from the history (and locked, as every row a
    transaction adds), or read (and locked) when a concurrent deal made it first."""
    best, day = await _best_before(session, team, member_id, today)
    row = {"team_id": team.id, "subject": subject, "best_minor": best, "best_day": day}
    added = await session.execute(_insert(is_postgres(session.bind)), row)
    if added.rowcount == 1:
        return best, day
    return (await _locked_rows(session, team.id, [subject]))[subject]


async def _best_before(
    session: AsyncSession, team: Team, member_id: int | None, today: date
) -> tuple[int, date | None]:
    """The best day before today, from the history itself: done once per subject, then kept."""
    start, _ = period_containing(PeriodName.TODAY, today).utc_bounds(team.timezone)
    parameters = {"team_id": team.id, "start": start, "member_id": member_id}
    totals: dict[date, int] = defaultdict(int)
    for closed_at, amount in await session.execute(_history_query(member_id is not None), parameters):
        totals[local_day(closed_at, team.timezone)] += amount
    if not totals:
        return 0, None
    day = max(totals, key=lambda d: totals[d])
    return totals[day], day


@cache
def _history_query(of_member: bool) -> Select:
    """Built once per shape, on the table: a plain Core statement skips the ORM's part."""
    deals = Deal.__table__.c
    query = select(deals.closed_at, deals.amount_minor).where(
        deals.team_id == bindparam("team_id"), deals.voided_at.is_(None), deals.closed_at < bindparam("start")
    )
    return query.where(deals.member_id == bindparam("member_id")) if of_member else query


@cache
def _insert(postgres: bool) -> Insert:
    """Built once per dialect, values bound when it runs."""
    insert = pg_insert if postgres else sqlite_insert
    return insert(DailyRecord.__table__).on_conflict_do_nothing()


@cache
def _update() -> Update:
    """Built once; its parameters are not named after the columns, which an UPDATE reserves."""
    records = DailyRecord.__table__.c
    return (
        update(DailyRecord.__table__)
        .where(records.team_id == bindparam("of_team"), records.subject == bindparam("of_subject"))
        .values(best_minor=bindparam("best"), best_day=bindparam("day"))
    )

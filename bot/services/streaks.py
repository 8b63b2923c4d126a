"""Check-in streaks from the `streaks` table: what the recap, summaries and check-in replies show.

Each member's row is a checkpoint (bot/domain/streaks.py) moved forward when one of their check-ins
completes (`keep_on_commit`, a before-commit hook the check-in path installs). Reading a team's streaks
is then two queries of O(members) rows: the checkpoints, each with its latest done check-in, and the
leave they rest on. History is walked back only for a member whose row is missing (the first read after the
upgrade: that lazy first computation is the backfill), no longer matches its calendar-and-leave basis,
or does not reach back to an earlier day asked about; what it finds is written back in the reader's
transaction, so it is done once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sqlalchemy import CompoundSelect, Insert, Integer, Select, bindparam, cast, func, null, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.calendar import WorkCalendar
from bot.domain.events import CheckinCompleted
from bot.domain.streaks import ONE_DAY, Checkpoint, Excused, basis, carry, rewind
from bot.services.scope import calendar_for
from bot.storage.db import is_postgres
from bot.storage.orm import Checkin, Leave, Member, Streak, Team
from bot.storage.uow import UnitOfWork

FIRST_WINDOW_DAYS = 14  # the first window of history walked back; each next one doubles
SMALL_SET = 64  # up to this many members, queries name them; beyond, they read the team's rows
WRITE_BATCH = 1000  # rows per upsert: 6 parameters each, well under SQLite's 32,766

Leaves = dict[int, list[tuple[date, date]]]


@dataclass(slots=True)
class _Stored:
    point: Checkpoint
    basis: str
    done: list[date]  # done days from point.day on, ascending


@dataclass(slots=True)
class Streaks:
    """Each member's streak as shown on a day, and the checkpoints (with their basis) to write back."""

    lengths: dict[int, int]
    to_write: dict[int, tuple[Checkpoint, str]]


async def current(
    session: AsyncSession, team_id: int, member_ids: Collection[int], today: date, calendar: WorkCalendar
) -> dict[int, int]:
    """member id -> the streak shown on `today`; missing or stale rows are counted and written back."""
    found = await compute(session, team_id, member_ids, today, calendar)
    await write(session, team_id, found.to_write)
    return found.lengths


async def compute(
    session: AsyncSession,
    team_id: int,
    member_ids: Collection[int],
    today: date,
    calendar: WorkCalendar,
    *,
    moved: bool = False,
) -> Streaks:
    """The streaks shown on `today` from the stored rows, walking history only where they cannot say.

    `to_write` holds the checkpoints of members counted from history; with `moved`, also those whose
    stored checkpoint moved forward (what the completion hook keeps).
    """
    ids = set(member_ids)
    if not ids:
        return Streaks({}, {})
    stored = await _stored(session, team_id, ids)
    leaves = await _leaves(session, team_id, ids)
    lengths: dict[int, int] = {}
    to_write: dict[int, tuple[Checkpoint, str]] = {}
    stale = {m for m in ids if m not in stored or not _valid(stored[m], calendar, leaves.get(m, ()))}
    recount = set(stale)
    earlier = {m: row for m, row in stored.items() if m not in stale and row.point.day > today}
    after_today = await _done_counts(session, team_id, today, earlier) if earlier else {}
    for member_id in ids - stale:
        row = stored[member_id]
        if row.point.day == today and row.point.length == 0:
            recount.add(member_id)  # today missed says nothing of yesterday, which today's streak shows
            continue
        if row.point.day > today:
            length = rewind(row.point, after_today.get(member_id, 0), today)
            if length is None:
                recount.add(member_id)
            else:
                lengths[member_id] = length
            continue
        ranges = leaves.get(member_id, ())
        later = [d for d in row.done if row.point.day < d <= today]
        point = carry(row.point, later, today, _excused(calendar, ranges))
        lengths[member_id] = point.length
        if moved and point != row.point:
            to_write[member_id] = (point, _basis(calendar, ranges, point))
    if recount:
        # Counted back past where a stored run began: all of their leave, not just the run's (a member
        # without a row got all of it already).
        leaves.update(await _leaves(session, team_id, recount & stored.keys(), bounded=False))
        counted = await _from_history(session, team_id, recount, today, calendar, leaves)
        for member_id, point in counted.items():
            lengths[member_id] = point.length
            if member_id in stale:
                to_write[member_id] = (point, _basis(calendar, leaves.get(member_id, ()), point))
    return Streaks(lengths, to_write)


async def write(session: AsyncSession, team_id: int, points: dict[int, tuple[Checkpoint, str]]) -> None:
    """Upsert checkpoints with their basis, in the caller's transaction."""
    if not points:
        return
    rows = [
        {
            "member_id": member_id,
            "team_id": team_id,
            "length": points[member_id][0].length,
            "last_day": points[member_id][0].day,
            "since_day": points[member_id][0].since,
            "basis": points[member_id][1],
        }
        for member_id in sorted(points)
    ]
    statement = _upsert(is_postgres(session.bind))
    for start in range(0, len(rows), WRITE_BATCH):
        await session.execute(statement, rows[start : start + WRITE_BATCH])


@cache
def _upsert(postgres: bool) -> Insert:
    """Built once per dialect and run with the rows as parameters: a check-in writes one row, and building
    a VALUES statement for it each time cost as much as running it. A Core INSERT on the table: nothing
    reads the rows back."""
    statement = (pg_insert if postgres else sqlite_insert)(Streak.__table__)
    return statement.on_conflict_do_update(
        index_elements=[Streak.member_id],
        set_={
            name: statement.excluded[name] for name in ("team_id", "length", "last_day", "since_day", "basis")
        },
    )


async def keep_on_commit(uow: UnitOfWork) -> None:
    """Before-commit hook: move the streak of every member whose check-in completed in this unit of work."""
    await _keep(uow)


async def keep_now(uow: UnitOfWork) -> dict[tuple[int, date], int]:
    """The hook's work done now, for a reply that shows the streak just moved: (member id, day) -> the
    streak shown on that day. The hook is taken off, its work done (a completion after this puts it back),
    so the streak is read once, not once for the reply and again at the commit."""
    if keep_on_commit in uow.before_commit:
        uow.before_commit.remove(keep_on_commit)
    return await _keep(uow)


async def _keep(uow: UnitOfWork) -> dict[tuple[int, date], int]:
    session = uow.session
    due: dict[tuple[int, date], set[int]] = defaultdict(set)
    for event in uow.events:
        if isinstance(event, CheckinCompleted):
            checkin = await session.get(Checkin, event.checkin_id)
            if checkin is not None and checkin.status == "done":
                due[(checkin.team_id, checkin.day)].add(checkin.member_id)
    lengths: dict[tuple[int, date], int] = {}
    for (team_id, day), member_ids in due.items():
        team = await session.get(Team, team_id)
        calendar = calendar_for(team)
        found = await compute(session, team_id, member_ids, day, calendar, moved=True)
        await write(session, team_id, found.to_write)
        lengths.update(((member_id, day), length) for member_id, length in found.lengths.items())
    return lengths


def _excused(calendar: WorkCalendar, ranges: Iterable[tuple[date, date]]) -> Excused:
    spans = list(ranges)
    return lambda day: not calendar.is_workday(day) or any(s <= day <= e for s, e in spans)


def _basis(calendar: WorkCalendar, ranges: Iterable[tuple[date, date]], point: Checkpoint) -> str:
    return basis(
        calendar.kind, calendar.extra_holidays, calendar.extra_workdays, ranges, point.since, point.day
    )


def _valid(row: _Stored, calendar: WorkCalendar, ranges: Iterable[tuple[date, date]]) -> bool:
    """Whether a stored checkpoint still holds: same basis, and its day still done (not edited back)."""
    if row.point.length > 0 and (not row.done or row.done[0] != row.point.day):
        return False
    return row.basis == _basis(calendar, ranges, row.point)


def _members(column, team_column, team_id: int, ids: Collection[int]):
    """Rows of these members: named when few, else the team's (filtered afterwards)."""
    return column.in_(sorted(ids)) if len(ids) <= SMALL_SET else team_column == team_id


def _of_members(column, team_column, few: bool):
    """`_members` for a statement built once: run with `_members_parameters`."""
    return column.in_(bindparam("ids", expanding=True)) if few else team_column == bindparam("team_id")


def _members_parameters(team_id: int, ids: Collection[int]) -> tuple[bool, dict[str, object]]:
    """(few, parameters) for a statement built with `_of_members`."""
    if len(ids) <= SMALL_SET:
        return True, {"ids": sorted(ids), "team_id": team_id}
    return False, {"team_id": team_id}


@cache
def _stored_query(few: bool) -> Select:
    """Built once (per way of naming the members): every completed check-in reads it."""
    last = (
        select(func.max(Checkin.day))
        .where(
            Checkin.member_id == Streak.member_id,
            Checkin.day >= Streak.last_day,
            Checkin.status == "done",
        )
        .scalar_subquery()
    )
    return select(
        Streak.member_id, Streak.length, Streak.last_day, Streak.since_day, Streak.basis, last
    ).where(_of_members(Streak.member_id, Streak.team_id, few))


@cache
def _leaves_query(few: bool, bounded: bool) -> Select:
    """Built once (per way of naming the members, and `bounded`): every completed check-in reads it."""
    query = (
        select(Leave.member_id, Leave.start_day, Leave.end_day)
        .join(Member, Member.id == Leave.member_id)
        .where(_of_members(Leave.member_id, Member.team_id, few), Leave.cancelled.is_(False))
    )
    if bounded:
        query = query.outerjoin(Streak, Streak.member_id == Leave.member_id).where(
            Streak.since_day.is_(None) | (Leave.end_day >= Streak.since_day)
        )
    return query


@cache
def _first_and_done_today() -> CompoundSelect:
    """The team's first done day up to `today` (the row without a member) and the members done on
    `today`, in one round trip."""
    done = (Checkin.team_id == bindparam("team_id"), Checkin.status == "done")
    first = select(cast(null(), Integer), func.min(Checkin.day)).where(
        *done, Checkin.day <= bindparam("today")
    )
    today = select(Checkin.member_id, Checkin.day).where(*done, Checkin.day == bindparam("today"))
    return union_all(first, today)


async def _stored(session: AsyncSession, team_id: int, ids: set[int]) -> dict[int, _Stored]:
    """Checkpoints, each with the done days from its own day on.

    Each row brings the last such day by one lookup on the (member_id, day) index: a correlated
    subquery cannot become a join that reads every check-in, as a plain join to "the days after each
    row's day" did on PostgreSQL. Normally that day is the checkpoint's own (still done, nothing after);
    for the rare row where it is not, the days are fetched to see which.
    """
    few, parameters = _members_parameters(team_id, ids)
    rows = await session.execute(_stored_query(few), parameters)
    out: dict[int, _Stored] = {}
    unsure: dict[int, date] = {}
    for member_id, length, last_day, since_day, fingerprint, last_done in rows:
        if member_id not in ids:
            continue
        done = [last_day] if last_done == last_day else []
        out[member_id] = _Stored(Checkpoint(last_day, length, since_day), fingerprint, done)
        if last_done is not None and last_done != last_day:
            unsure[member_id] = last_day
    if unsure:
        found = await session.execute(
            select(Checkin.member_id, Checkin.day).where(
                _members(Checkin.member_id, Checkin.team_id, team_id, unsure),
                Checkin.status == "done",
                Checkin.day >= min(unsure.values()),
            )
        )
        for member_id, day in found:
            if member_id in unsure and day >= unsure[member_id]:
                out[member_id].done.append(day)
        for member_id in unsure:
            out[member_id].done.sort()
    return out


async def _leaves(
    session: AsyncSession, team_id: int, ids: Collection[int], *, bounded: bool = True
) -> Leaves:
    """Each member's leave (not cancelled); `bounded`: only what their stored run and the days after
    it cover (all of it for a member without a row, whose streak is about to be counted from history).
    """
    if not ids:
        return {}
    few, parameters = _members_parameters(team_id, ids)
    rows = await session.execute(_leaves_query(few, bounded), parameters)
    out: Leaves = {}
    for member_id, start_day, end_day in rows:
        if member_id in ids:
            out.setdefault(member_id, []).append((start_day, end_day))
    return out


async def _done_counts(
    session: AsyncSession, team_id: int, today: date, rows: dict[int, _Stored]
) -> dict[int, int]:
    """Done days after `today` up to each stored checkpoint's day (asked about an earlier day)."""
    last = max(row.point.day for row in rows.values())
    found = await session.execute(
        select(Checkin.member_id, Checkin.day).where(
            _members(Checkin.member_id, Checkin.team_id, team_id, rows),
            Checkin.team_id == team_id,
            Checkin.status == "done",
            Checkin.day > today,
            Checkin.day <= last,
        )
    )
    counts: dict[int, int] = defaultdict(int)
    for member_id, day in found:
        row = rows.get(member_id)
        if row is not None and day <= row.point.day:
            counts[member_id] += 1
    return counts


async def _from_history(
    session: AsyncSession, team_id: int, ids: set[int], today: date, calendar: WorkCalendar, leaves: Leaves
) -> dict[int, Checkpoint]:
    """Checkpoints as of `today` counted back through history, in doubling windows.

    The walk stops once every member's run has broken, so it touches as much history as the longest
    streak among them; a member still unbroken below the team's first check-in has no earlier one.
    """
    first, done_today = await _first_day_and_done_today(session, team_id, today)
    floor = min(first, today) - ONE_DAY if first is not None else today - ONE_DAY
    count = dict.fromkeys(ids, 0)
    latest: dict[int, date] = {}
    since: dict[int, date] = {}
    alive = set(ids)
    hi, size = today - ONE_DAY, FIRST_WINDOW_DAYS
    while alive and hi > floor:
        lo = max(floor + ONE_DAY, hi - timedelta(days=size - 1))
        query = select(Checkin.member_id, Checkin.day).where(
            Checkin.team_id == team_id, Checkin.status == "done", Checkin.day >= lo, Checkin.day <= hi
        )
        if len(alive) <= SMALL_SET:
            query = query.where(Checkin.member_id.in_(sorted(alive)))
        did: dict[date, set[int]] = defaultdict(set)
        for member_id, day in await session.execute(query):
            did[day].add(member_id)
        day = hi
        while day >= lo and alive:
            who = did.get(day, set())
            workday = calendar.is_workday(day)
            for member_id in list(alive):
                if member_id in who:
                    count[member_id] += 1
                    latest.setdefault(member_id, day)
                elif workday and not any(s <= day <= e for s, e in leaves.get(member_id, ())):
                    alive.discard(member_id)
                    since[member_id] = day
            day -= ONE_DAY
        hi, size = lo - ONE_DAY, size * 2
    return {
        member_id: _checkpoint(
            today,
            count[member_id],
            latest.get(member_id),
            since.get(member_id, floor),
            member_id in done_today,
        )
        for member_id in ids
    }


async def _first_day_and_done_today(
    session: AsyncSession, team_id: int, today: date
) -> tuple[date | None, set[int]]:
    """The team's first done day (None before any) and who is done today, in one statement."""
    first: date | None = None
    done_today: set[int] = set()
    for member_id, day in await session.execute(
        _first_and_done_today(), {"team_id": team_id, "today": today}
    ):
        if member_id is None:
            first = day
        else:
            done_today.add(member_id)
    return first, done_today


def _checkpoint(today: date, count: int, latest: date | None, start: date, done_today: bool) -> Checkpoint:
    """A member's checkpoint from the walk: `count` done days before today, the latest of them."""
    if done_today:
        return Checkpoint(today, count + 1, start)
    if latest is not None:
        return Checkpoint(latest, count, start)
    return Checkpoint(start, 0, start)

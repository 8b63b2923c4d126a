"""Check-in streaks as a recurrence, so that a stored streak can be carried forward instead of recounted.

Counted back from a day t, a member's streak walk(t) counts done check-ins; a day that is not a workday,
or that the member is on leave, neither counts nor breaks it; a missed workday ends it. Read forwards,
that is walk(t) = walk(t-1) + 1 on a done day, walk(t-1) on an excused day and 0 on a missed workday.
So one checkpoint (day, length, since) and the done days after it give the streak of any later day, and
the done days between two days give an earlier one while that day lies inside the same unbroken run.

The streak shown on day D is walk(D) once D's check-in is done, else walk(D-1): a check-in still open
today breaks nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)

# True for a day that neither counts nor breaks a streak: not a workday, or on leave.
Excused = Callable[[date], bool]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """walk(day) == length, for a run that began after `since`.

    `since` is the missed workday the run followed (or a day before which the member has no done
    check-in at all). With length > 0, `day` is a done day; with length 0, `day` is `since`.
    """

    day: date
    length: int
    since: date


def latest_miss(after: date, before: date, excused: Excused) -> date | None:
    """The latest day strictly between `after` and `before` that is not excused, if any."""
    day = before - ONE_DAY
    while day > after:
        if not excused(day):
            return day
        day -= ONE_DAY
    return None


def advance(point: Checkpoint, done_after: Iterable[date], until: date, excused: Excused) -> Checkpoint:
    """The checkpoint as of `until` (>= point.day), given every done day in (point.day, until], ascending.

    It sits on the last done day unless a missed workday came after that day, then on the miss.
    """
    day, length, since = point.day, point.length, point.since
    for done in done_after:
        miss = latest_miss(day, done, excused)
        if miss is not None:
            length, since = 0, miss
        day, length = done, length + 1
    miss = latest_miss(day, until + ONE_DAY, excused)
    if miss is not None:
        return Checkpoint(miss, 0, miss)
    return Checkpoint(day, length, since)


def carry(point: Checkpoint, done_after: Sequence[date], today: date, excused: Excused) -> Checkpoint:
    """The checkpoint as of `today` (point.day <= today): its length is the streak shown today.

    `done_after` holds every done day in (point.day, today], ascending; today counts once done, and
    while it is open neither counts nor breaks. A checkpoint on today must be a done one: a miss today
    says nothing of yesterday.
    """
    if point.day >= today:
        if point.day > today or point.length == 0:
            raise ValueError(f"cannot carry {point} to {today}")
        return point
    if done_after and done_after[-1] == today:
        return advance(point, done_after, today, excused)
    return advance(point, done_after, today - ONE_DAY, excused)


def rewind(point: Checkpoint, done_since_day: int, day: date) -> int | None:
    """The streak shown on `day` (< point.day), knowing the number of done days in (day, point.day].

    Only answerable while `day` lies inside the checkpoint's run; None otherwise (count from history).
    """
    if point.length == 0 or day <= point.since:
        return None
    return point.length - done_since_day


def basis(
    kind: str,
    extra_holidays: Collection[date],
    extra_workdays: Collection[date],
    leaves: Collection[tuple[date, date]],
    since: date,
    day: date,
) -> str:
    """A short fingerprint of what a run from `since` to `day` rests on besides the check-ins.

    That is the calendar and the member's leave over those days. A stored checkpoint whose basis no
    longer matches (leave filed or cancelled for past days, holidays reconfigured) is recounted.
    """
    parts = [kind]
    if extra_holidays:
        parts += sorted(f"h{d.isoformat()}" for d in extra_holidays if since <= d <= day)
    if extra_workdays:
        parts += sorted(f"w{d.isoformat()}" for d in extra_workdays if since <= d <= day)
    if leaves:
        parts += sorted(
            f"l{max(start, since).isoformat()}/{min(end, day).isoformat()}"
            for start, end in leaves
            if start <= day and end >= since
        )
    return hashlib.blake2b("|".join(parts).encode(), digest_size=8).hexdigest()

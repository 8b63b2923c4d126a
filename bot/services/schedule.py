"""A team's schedule as slots: what is due when, in the team's own timezone and work calendar.

The stored schedule (`team.schedule`, written by the config seed and `/team schedule`) is a small JSON
object: `checkin`, `reminders`, `morning`, `evening` as `HH:MM`, `weekly` as `fri 18:30`, `monthly` as
`last 18:30` or `25 18:30`. Times may carry seconds (`HH:MM:SS`); only tests use that, to fire soon.
The scheduler, the catch-up after a restart and `teambeat post --date` all read the schedule through
this module, so that they agree on when a post was due.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.calendar import WorkCalendar

log = logging.getLogger(__name__)

DEFAULT_SCHEDULE: dict[str, Any] = {
    "checkin": "09:00",
    "reminders": ["10:30"],
    "morning": "09:30",
    "evening": "18:00",
    "weekly": "fri 18:30",
    "monthly": "last 18:30",
}
POST_KINDS = ("checkin", "reminder", "morning", "recap", "weekly", "monthly", "insights")
_SCHEDULE_KEY = {"checkin": "checkin", "morning": "morning", "recap": "evening"}
# Slots that are off until the schedule names a time for them.
_OPTIONAL_KEY = {"insights": "insights"}
# Their time for `teambeat post KIND --date D` while the schedule has none.
OPTIONAL_DEFAULT = {"insights": "18:15"}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


@dataclass(frozen=True, slots=True)
class Slot:
    """One recurring post: its kind, its local time of day, and on which days it is due.

    `number` is the reminder's 1-based position; `weekday` (0 = Monday) is for the weekly summary;
    `month_day` is the monthly summary's day (None: the last workday of the month).
    """

    kind: str
    at: time
    number: int = 0
    weekday: int | None = None
    month_day: int | None = None

    @property
    def key(self) -> str:
        """Stable within a team: names the scheduler's job."""
        return f"{self.kind}{self.number or ''}@{self.at.isoformat()}"


def parse_clock(text: str) -> time:
    """`09:30` (or `09:30:15`) -> time; ValueError otherwise."""
    match = _CLOCK.match(str(text).strip())
    if match is None:
        raise ValueError(f"not a time of day: {text!r}")
    return time(int(match[1]), int(match[2]), int(match[3] or 0))


def schedule_of(raw: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULT_SCHEDULE, **(raw or {})}


def team_slots(raw_schedule: dict[str, Any] | None, team_label: str = "") -> list[Slot]:
    """Every slot of a schedule; an entry that cannot be read is left out with a warning, not fatal."""
    schedule = schedule_of(raw_schedule)
    slots: list[Slot] = []
    for kind, key in _SCHEDULE_KEY.items():
        try:
            slots.append(Slot(kind, parse_clock(schedule[key])))
        except ValueError:
            log.warning("team %s: %s=%r is not a time; not scheduled", team_label, key, schedule[key])
    for kind, key in _OPTIONAL_KEY.items():
        if not schedule.get(key):
            continue
        try:
            slots.append(Slot(kind, parse_clock(schedule[key])))
        except ValueError:
            log.warning("team %s: %s=%r is not a time; not scheduled", team_label, key, schedule[key])
    try:
        reminders = sorted({parse_clock(r) for r in schedule.get("reminders") or []})
    except ValueError:
        log.warning("team %s: reminders %r unreadable; none scheduled", team_label, schedule["reminders"])
        reminders = []
    slots.extend(Slot("reminder", at, number=n) for n, at in enumerate(reminders, start=1))
    for kind in ("weekly", "monthly"):
        try:
            slots.append(_periodic_slot(kind, str(schedule[kind])))
        except ValueError:
            log.warning("team %s: schedule %s=%r unreadable; not scheduled", team_label, kind, schedule[kind])
    return slots


def reminder_count(raw_schedule: dict[str, Any] | None) -> int:
    """How many reminders a day the team allows: one per configured reminder time."""
    return sum(1 for slot in team_slots(raw_schedule) if slot.kind == "reminder")


def _periodic_slot(kind: str, text: str) -> Slot:
    parts = text.lower().split()
    if len(parts) != 2:
        raise ValueError(text)
    at = parse_clock(parts[1])
    if kind == "weekly":
        if parts[0][:3] not in _WEEKDAYS:
            raise ValueError(text)
        return Slot(kind, at, weekday=_WEEKDAYS.index(parts[0][:3]))
    if parts[0] == "last":
        return Slot(kind, at)
    if parts[0].isdigit() and 1 <= int(parts[0]) <= 31:
        return Slot(kind, at, month_day=int(parts[0]))
    raise ValueError(text)


def slot_for(raw_schedule: dict[str, Any] | None, kind: str, number: int = 1) -> Slot:
    """The slot of one kind (the `number`th reminder); KeyError if the schedule has none."""
    for slot in team_slots(raw_schedule):
        if slot.kind == kind and (kind != "reminder" or slot.number == number):
            return slot
    raise KeyError(kind)


def is_due(slot: Slot, day: date, calendar: WorkCalendar) -> bool:
    """Whether the slot's post belongs to `day` at all (the workday rule is the post's own check).

    Weekly: the configured weekday. Monthly: the last workday of the month, or the configured day
    (the month's last day when the month is shorter). Every other slot: every day.
    """
    if slot.kind == "weekly":
        return day.weekday() == slot.weekday
    if slot.kind == "monthly":
        if slot.month_day is None:
            try:
                return day == calendar.last_workday_of_month(day.year, day.month)
            except ValueError:
                return False
        next_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return day.day == min(slot.month_day, (next_month - timedelta(days=1)).day)
    return True


def local_fire(day: date, at: time, tz: str) -> datetime:
    """The instant of `at` on local `day` in `tz`.

    fold=0: a wall time that happens twice (autumn) means the first; one skipped by a spring-forward
    gap is read with the offset before the gap, which lands just after it (02:30 -> 03:30).
    """
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


def latest_fire(at: time, tz: str, now: datetime) -> datetime:
    """The most recent instant, at or before `now`, when the local clock in `tz` showed `at`."""
    today = now.astimezone(ZoneInfo(tz)).date()
    fire = local_fire(today, at, tz)
    if fire > now:
        fire = local_fire(today - timedelta(days=1), at, tz)
    return fire

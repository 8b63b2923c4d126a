"""Reporting periods (today, week, month, quarter) and the dates people type.

Periods are calendar ranges of *local* days in the team's timezone; `utc_bounds` turns them into the
half-open UTC instants that database queries need, correctly across DST changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import MINYEAR, UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo


class PeriodName(StrEnum):
    TODAY = "today"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


_PERIOD_WORDS: Mapping[str, PeriodName] = MappingProxyType(
    {
        **dict.fromkeys(
            ("today", "day", "daily", "今天", "今日", "当天", "当日", "本日", "日"), PeriodName.TODAY
        ),
        **dict.fromkeys(("week", "weekly", "wk", "本周", "这周", "周", "本週"), PeriodName.WEEK),
        **dict.fromkeys(("month", "monthly", "本月", "这个月", "这月", "月"), PeriodName.MONTH),
        **dict.fromkeys(
            ("quarter", "quarterly", "q", "本季", "本季度", "这季度", "这个季度", "季度", "季"),
            PeriodName.QUARTER,
        ),
    }
)


def parse_period(word: str) -> PeriodName | None:
    """The period a word names (`week`, `本月`, `Q`…), or None when it names none."""
    return _PERIOD_WORDS.get(word.strip().lower())


@dataclass(frozen=True)
class Period:
    """A named range of local days, `end` inclusive."""

    name: PeriodName
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period cannot end before it starts")

    @property
    def key(self) -> str:
        """Stable id of the period: `2026-11-22`, `2026-W47` (ISO week), `2026-11`, `2026-Q4`."""
        match self.name:
            case PeriodName.TODAY:
                return self.start.isoformat()
            case PeriodName.WEEK:
                iso = self.start.isocalendar()
                return f"{iso.year}-W{iso.week:02d}"
            case PeriodName.MONTH:
                return f"{self.start.year}-{self.start.month:02d}"
            case PeriodName.QUARTER:
                return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        raise AssertionError(self.name)  # pragma: no cover - StrEnum is exhaustive

    def days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def previous(self) -> Period:
        """The period of the same kind just before this one (for "vs last week")."""
        if self.start == date.min:
            raise ValueError(f"no period before {self.key}: it starts on the first day of the calendar")
        return period_containing(self.name, self.start - timedelta(days=1))

    def next(self) -> Period:
        if self.end == date.max:
            raise ValueError(f"no period after {self.key}: it ends on the last day of the calendar")
        return period_containing(self.name, self.end + timedelta(days=1))

    def utc_bounds(self, tz: str) -> tuple[datetime, datetime]:
        """[local midnight of start, local midnight after end) as aware UTC datetimes; at the ends of
        the calendar (year 1, year 9999) the bounds are clamped to the first and last instants."""
        zone = ZoneInfo(tz)
        if self.end == date.max:
            end = _LAST_INSTANT
        else:
            end = _local_midnight_utc(self.end + timedelta(days=1), zone)
        return _local_midnight_utc(self.start, zone), end


_FIRST_INSTANT = datetime.min.replace(tzinfo=UTC)
_LAST_INSTANT = datetime.max.replace(tzinfo=UTC)


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    # Where midnight does not exist (DST starting at 00:00), fold=0 resolves to the pre-gap offset,
    # which lands on the first real instant of the day.
    try:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError:  # midnight of 0001-01-01 east of UTC is in year 0
        return _FIRST_INSTANT if day.year == MINYEAR else _LAST_INSTANT


def period_containing(name: PeriodName, day: date) -> Period:
    """The period of kind `name` containing `day`: weeks start Monday, quarters in Jan/Apr/Jul/Oct."""
    match PeriodName(name):
        case PeriodName.TODAY:
            return Period(PeriodName.TODAY, day, day)
        case PeriodName.WEEK:
            start = day - timedelta(days=day.weekday())  # 0001-01-01 is a Monday: never before it
            end = date.max if date.max - start < timedelta(days=6) else start + timedelta(days=6)
            return Period(PeriodName.WEEK, start, end)
        case PeriodName.MONTH:
            return Period(PeriodName.MONTH, day.replace(day=1), _month_end(day.year, day.month))
        case PeriodName.QUARTER:
            first_month = (day.month - 1) // 3 * 3 + 1
            return Period(
                PeriodName.QUARTER, date(day.year, first_month, 1), _month_end(day.year, first_month + 2)
            )
    raise AssertionError(name)  # pragma: no cover - StrEnum is exhaustive


def _month_end(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)


def local_day(now: datetime, tz: str) -> date:
    """The calendar day it is in `tz` at the aware instant `now`; an instant whose local day is outside
    the calendar (0001-01-01 00:00 UTC west of UTC) gets the calendar's first or last day."""
    if now.tzinfo is None:
        raise ValueError("local_day needs a timezone-aware datetime")
    try:
        return now.astimezone(ZoneInfo(tz)).date()
    except OverflowError:
        return date.min if now.year == MINYEAR else date.max


class InvalidDay(ValueError):
    """A date that cannot be understood; `code` is "malformed", "impossible" or "reversed"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_RELATIVE_DAYS: Mapping[str, int] = MappingProxyType(
    {
        "today": 0,
        "今天": 0,
        "今日": 0,
        "tomorrow": 1,
        "明天": 1,
        "明日": 1,
        "yesterday": -1,
        "昨天": -1,
        "昨日": -1,
        "后天": 2,
        "前天": -2,
    }
)

_FULL_DATE = re.compile(
    r"^(?P<y>[0-9]{4})(?:[-/.](?P<m>[0-9]{1,2})[-/.]|年(?P<m2>[0-9]{1,2})月)(?P<d>[0-9]{1,2})[日号]?$"
)
_SHORT_DATE = re.compile(r"^(?P<m>[0-9]{1,2})(?:[-/.]|月)(?P<d>[0-9]{1,2})[日号]?$")
_RANGE_SEPARATOR = re.compile(r"\s*(?:\.\.|~|～|至|到)\s*")


def _parse_day(text: str, today: date) -> tuple[date, bool]:
    """The day and whether its year was written out (relative words count as explicit)."""
    word = text.strip().lower()
    if word in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[word]), True
    if (full := _FULL_DATE.match(word)) is not None:
        year, month, day_of_month = int(full["y"]), int(full["m"] or full["m2"]), int(full["d"])
        explicit = True
    elif (short := _SHORT_DATE.match(word)) is not None:
        year, month, day_of_month = today.year, int(short["m"]), int(short["d"])
        explicit = False
    else:
        raise InvalidDay("malformed")
    try:
        return date(year, month, day_of_month), explicit
    except ValueError:
        raise InvalidDay("impossible") from None


def parse_day(text: str, today: date) -> date:
    """`2026-11-23`, `2026/11/23`, `11-23`, `11/23`, `11月23日` (this year), `today`/`明天`/`昨天`…"""
    return _parse_day(text, today)[0]


def parse_day_range(text: str, today: date) -> tuple[date, date]:
    """`A..B`, `A~B`, `A至B`, `A到B` or a single day, both ends inclusive.

    A year-less end in January after a December start means next January (`12-29..1-2`); any other
    end before its start is refused as "reversed".
    """
    parts = _RANGE_SEPARATOR.split(text.strip(), maxsplit=1)
    if len(parts) == 1:
        day = parse_day(parts[0], today)
        return day, day
    start = parse_day(parts[0], today)
    end, explicit = _parse_day(parts[1], today)
    if end < start and not explicit and start.month == 12 and end.month == 1:
        end = end.replace(year=start.year + 1)
    if end < start:
        raise InvalidDay("reversed")
    return start, end


def day_bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """[local midnight of start, local midnight after end) in UTC, the same way periods are bounded."""
    zone = ZoneInfo(tz)
    return (
        datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC),
    )

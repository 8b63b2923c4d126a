"""Which days are workdays: scheduled posts, check-ins, streaks and goal pace all depend on it.

`cn` follows mainland China's statutory holidays *and* make-up workdays (调休) from the
`chinese_calendar` package. That data ends with each release's last year; for a year it does not know
we fall back to Monday–Friday and say so once (through the callback, or a log warning).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, timedelta

import chinese_calendar

KINDS = ("cn", "weekdays", "everyday")

_ONE_DAY = timedelta(days=1)


def _cn_is_workday(day: date) -> bool | None:
    """chinese_calendar's answer, or None when it has no data for the year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def cn_years_without_data(years: Iterable[int]) -> list[int]:
    """The years (sorted, unique) for which the `cn` calendar would fall back to Monday–Friday."""
    return sorted({year for year in years if _cn_is_workday(date(year, 6, 1)) is None})


class WorkCalendar:
    """A team's work calendar: a kind plus the team's own extra holidays and extra workdays."""

    def __init__(
        self,
        kind: str,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        on_missing_data: Callable[[int], None] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown work calendar {kind!r}; expected one of {', '.join(KINDS)}")
        self.kind = kind
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self._on_missing_data = on_missing_data
        self._reported_years: set[int] = set()

    def __repr__(self) -> str:
        return (
            f"WorkCalendar({self.kind!r}, extra_holidays={len(self.extra_holidays)},"
            f" extra_workdays={len(self.extra_workdays)})"
        )

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.kind == "everyday":
            return True
        if self.kind == "cn":
            answer = _cn_is_workday(day)
            if answer is not None:
                return answer
            self._report_missing(day.year)
        return day.weekday() < 5

    def _report_missing(self, year: int) -> None:
        if year in self._reported_years:
            return
        self._reported_years.add(year)
        if self._on_missing_data is not None:
            self._on_missing_data(year)
        else:
            logging.getLogger(__name__).warning(
                "no Chinese holiday data for %d: treating Monday-Friday as workdays", year
            )

    def workdays(self, start: date, end: date) -> list[date]:
        """Workdays from start to end, both inclusive (empty when end is before start)."""
        days: list[date] = []
        day = start
        while day <= end:
            if self.is_workday(day):
                days.append(day)
            day += _ONE_DAY
        return days

    def count_workdays(self, start: date, end: date) -> int:
        return len(self.workdays(start, end))

    def previous_workday(self, day: date) -> date:
        """The nearest workday strictly before `day`."""
        day -= _ONE_DAY
        while not self.is_workday(day):
            day -= _ONE_DAY
        return day

    def next_workday(self, day: date) -> date:
        """The nearest workday strictly after `day`."""
        day += _ONE_DAY
        while not self.is_workday(day):
            day += _ONE_DAY
        return day

    def last_workday_of_month(self, year: int, month: int) -> date:
        """For `monthly = "last"`; ValueError if overrides leave the month without any workday."""
        first = date(year, month, 1)
        day = date(year + 1, 1, 1) - _ONE_DAY if month == 12 else date(year, month + 1, 1) - _ONE_DAY
        while day >= first:
            if self.is_workday(day):
                return day
            day -= _ONE_DAY
        raise ValueError(f"no workday in {year}-{month:02d}")

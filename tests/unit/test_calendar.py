import logging
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.calendar import WorkCalendar, cn_years_without_data

# A year chinese_calendar will not have data for in any foreseeable release.
NO_DATA_YEAR = 2090


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkCalendar("moon")


# --- cn ---------------------------------------------------------------------------------------------


def test_cn_national_day_holiday_and_make_up_workday() -> None:
    cal = WorkCalendar("cn")
    assert not cal.is_workday(date(2026, 10, 1))  # National Day, a Thursday
    assert not cal.is_workday(date(2026, 10, 7))
    assert date(2026, 10, 10).weekday() == 5
    assert cal.is_workday(date(2026, 10, 10))  # Saturday make-up workday (调休)
    assert cal.is_workday(date(2026, 10, 9))


def test_cn_spring_festival_2026() -> None:
    cal = WorkCalendar("cn")
    assert not cal.is_workday(date(2026, 2, 17))  # 春节
    assert cal.is_workday(date(2026, 2, 14))  # Saturday make-up workday
    assert cal.is_workday(date(2026, 2, 28))  # Saturday make-up workday


def test_cn_ordinary_weekdays_and_weekends() -> None:
    cal = WorkCalendar("cn")
    assert cal.is_workday(date(2026, 11, 23))  # Monday
    assert not cal.is_workday(date(2026, 11, 22))  # Sunday


def test_cn_workdays_around_national_day() -> None:
    cal = WorkCalendar("cn")
    days = cal.workdays(date(2026, 9, 28), date(2026, 10, 11))
    assert date(2026, 10, 10) in days
    assert not any(date(2026, 10, 1) <= d <= date(2026, 10, 7) for d in days)
    assert cal.count_workdays(date(2026, 9, 28), date(2026, 10, 11)) == len(days)
    assert cal.previous_workday(date(2026, 10, 8)) == date(2026, 9, 30)
    assert cal.next_workday(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.next_workday(date(2026, 10, 9)) == date(2026, 10, 10)


# --- fallback ---------------------------------------------------------------------------------------


def test_year_without_data_falls_back_to_weekdays_and_reports_once() -> None:
    reported: list[int] = []
    cal = WorkCalendar("cn", on_missing_data=reported.append)
    monday = date(NO_DATA_YEAR, 1, 2)
    while monday.weekday() != 0:
        monday += timedelta(days=1)
    assert cal.is_workday(monday)
    assert not cal.is_workday(monday + timedelta(days=5))
    assert cal.count_workdays(date(NO_DATA_YEAR, 1, 1), date(NO_DATA_YEAR, 12, 31)) > 250
    assert reported == [NO_DATA_YEAR]
    cal.is_workday(date(NO_DATA_YEAR + 1, 3, 3))
    assert reported == [NO_DATA_YEAR, NO_DATA_YEAR + 1]


def test_fallback_is_reported_once_per_instance() -> None:
    first: list[int] = []
    second: list[int] = []
    WorkCalendar("cn", on_missing_data=first.append).workdays(date(2030, 1, 1), date(2030, 2, 1))
    cal = WorkCalendar("cn", on_missing_data=second.append)
    cal.workdays(date(2030, 1, 1), date(2030, 2, 1))
    cal.previous_workday(date(2030, 6, 1))
    assert first == [2030]
    assert second == [2030]


def test_year_with_data_is_not_reported() -> None:
    reported: list[int] = []
    WorkCalendar("cn", on_missing_data=reported.append).workdays(date(2026, 1, 1), date(2026, 12, 31))
    assert reported == []


def test_fallback_logs_once_without_callback(caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkCalendar("cn")
    with caplog.at_level(logging.WARNING, logger="bot.domain.calendar"):
        cal.workdays(date(2030, 1, 1), date(2030, 1, 31))
        cal.is_workday(date(2030, 5, 5))
    warnings = [r for r in caplog.records if r.name == "bot.domain.calendar"]
    assert len(warnings) == 1
    assert "2030" in warnings[0].getMessage()


def test_callback_replaces_the_log(caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkCalendar("cn", on_missing_data=lambda year: None)
    with caplog.at_level(logging.WARNING, logger="bot.domain.calendar"):
        cal.is_workday(date(2030, 1, 7))
    assert not [r for r in caplog.records if r.name == "bot.domain.calendar"]


def test_other_kinds_never_report_missing_data() -> None:
    reported: list[int] = []
    for kind in ("weekdays", "everyday"):
        WorkCalendar(kind, on_missing_data=reported.append).workdays(date(2030, 1, 1), date(2030, 1, 31))
    assert reported == []


def test_overrides_need_no_data() -> None:
    reported: list[int] = []
    cal = WorkCalendar("cn", extra_workdays=[date(2030, 1, 5)], on_missing_data=reported.append)
    assert cal.is_workday(date(2030, 1, 5))
    assert reported == []


def test_cn_years_without_data() -> None:
    assert cn_years_without_data([2026, 2030, 2025, 2030, NO_DATA_YEAR]) == [2030, NO_DATA_YEAR]
    assert cn_years_without_data([2024, 2025, 2026]) == []
    assert cn_years_without_data([]) == []


# --- weekdays / everyday / overrides ----------------------------------------------------------------


def test_weekdays_ignores_chinese_holidays() -> None:
    cal = WorkCalendar("weekdays")
    assert cal.is_workday(date(2026, 10, 1))
    assert not cal.is_workday(date(2026, 10, 10))


def test_everyday() -> None:
    cal = WorkCalendar("everyday")
    assert all(cal.is_workday(date(2026, 10, 1) + timedelta(days=i)) for i in range(14))
    assert cal.previous_workday(date(2026, 1, 1)) == date(2025, 12, 31)
    assert cal.count_workdays(date(2026, 1, 1), date(2026, 12, 31)) == 365


def test_extra_holidays_and_workdays() -> None:
    cal = WorkCalendar(
        "weekdays",
        extra_holidays=[date(2026, 11, 23), date(2026, 11, 28)],
        extra_workdays=[date(2026, 11, 22), date(2026, 11, 28)],
    )
    assert not cal.is_workday(date(2026, 11, 23))  # a Monday made a holiday
    assert cal.is_workday(date(2026, 11, 22))  # a Sunday made a workday
    assert cal.is_workday(date(2026, 11, 28))  # in both lists: the extra workday wins


def test_overrides_beat_the_cn_data() -> None:
    cal = WorkCalendar("cn", extra_holidays=[date(2026, 10, 10)], extra_workdays=[date(2026, 10, 2)])
    assert not cal.is_workday(date(2026, 10, 10))
    assert cal.is_workday(date(2026, 10, 2))


def test_overrides_on_everyday() -> None:
    cal = WorkCalendar("everyday", extra_holidays=[date(2026, 2, 17)])
    assert not cal.is_workday(date(2026, 2, 17))
    assert cal.next_workday(date(2026, 2, 16)) == date(2026, 2, 18)


def test_overrides_accept_any_iterable() -> None:
    cal = WorkCalendar("weekdays", extra_holidays=(d for d in [date(2026, 11, 23)]))
    assert not cal.is_workday(date(2026, 11, 23))
    assert not cal.is_workday(date(2026, 11, 23))  # a generator is not consumed twice


# --- ranges and neighbours --------------------------------------------------------------------------


def test_workdays_range_is_inclusive_and_empty_when_reversed() -> None:
    cal = WorkCalendar("weekdays")
    assert cal.workdays(date(2026, 11, 23), date(2026, 11, 23)) == [date(2026, 11, 23)]
    assert cal.workdays(date(2026, 11, 23), date(2026, 11, 22)) == []
    assert cal.count_workdays(date(2026, 11, 16), date(2026, 11, 22)) == 5


def test_previous_and_next_workday_are_strict() -> None:
    cal = WorkCalendar("weekdays")
    monday = date(2026, 11, 23)
    assert cal.previous_workday(monday) == date(2026, 11, 20)
    assert cal.next_workday(monday) == date(2026, 11, 24)
    assert cal.next_workday(date(2026, 11, 20)) == monday


def test_previous_workday_across_new_year_holiday_and_weekend() -> None:
    cal = WorkCalendar("cn")
    # 2026-01-01..03 is the New Year holiday and 2026-01-04 (Sunday) a make-up workday
    assert cal.is_workday(date(2026, 1, 4))
    assert cal.previous_workday(date(2026, 1, 4)) == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("kind", "year", "month", "day"),
    [
        ("weekdays", 2026, 10, date(2026, 10, 30)),  # 31st is a Saturday
        ("weekdays", 2026, 11, date(2026, 11, 30)),
        ("weekdays", 2026, 12, date(2026, 12, 31)),
        ("everyday", 2026, 2, date(2026, 2, 28)),
        ("cn", 2026, 2, date(2026, 2, 28)),  # a Saturday make-up workday
        ("cn", 2026, 5, date(2026, 5, 29)),
    ],
)
def test_last_workday_of_month(kind: str, year: int, month: int, day: date) -> None:
    assert WorkCalendar(kind).last_workday_of_month(year, month) == day


def test_last_workday_of_month_without_any_workday() -> None:
    holidays = [date(2026, 2, 1) + timedelta(days=i) for i in range(28)]
    with pytest.raises(ValueError):
        WorkCalendar("everyday", extra_holidays=holidays).last_workday_of_month(2026, 2)


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31)),
    st.sampled_from(["cn", "weekdays", "everyday"]),
)
def test_neighbours_are_workdays_with_none_between(day: date, kind: str) -> None:
    cal = WorkCalendar(kind, on_missing_data=lambda year: None)
    before, after = cal.previous_workday(day), cal.next_workday(day)
    assert before < day < after
    assert cal.is_workday(before) and cal.is_workday(after)
    assert cal.workdays(before + timedelta(days=1), day - timedelta(days=1)) == []
    assert cal.workdays(day + timedelta(days=1), after - timedelta(days=1)) == []


@given(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31)),
    st.integers(min_value=0, max_value=60),
    st.sampled_from(["cn", "weekdays", "everyday"]),
)
def test_count_matches_is_workday(start: date, length: int, kind: str) -> None:
    cal = WorkCalendar(kind, on_missing_data=lambda year: None)
    end = start + timedelta(days=length)
    expected = [start + timedelta(days=i) for i in range(length + 1)]
    assert cal.workdays(start, end) == [d for d in expected if cal.is_workday(d)]
    assert cal.count_workdays(start, end) <= length + 1

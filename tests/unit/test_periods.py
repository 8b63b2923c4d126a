from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.periods import (
    InvalidDay,
    Period,
    PeriodName,
    local_day,
    parse_day,
    parse_day_range,
    parse_period,
    period_containing,
)

TODAY = date(2026, 11, 22)  # a Sunday


# --- parse_period ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "name"),
    [
        *[(w, PeriodName.TODAY) for w in ("today", "day", "daily", "今天", "今日", "当天", "日", "TODAY")],
        *[(w, PeriodName.WEEK) for w in ("week", "weekly", "Week", "本周", "这周", "周")],
        *[(w, PeriodName.MONTH) for w in ("month", "monthly", "MONTH", "本月", "这个月", "月")],
        *[
            (w, PeriodName.QUARTER)
            for w in ("quarter", "q", "Q", "本季", "本季度", "季度", "季", " quarter ")
        ],
    ],
)
def test_parse_period(word: str, name: PeriodName) -> None:
    assert parse_period(word) is name


@pytest.mark.parametrize("word", ["", "year", "年", "tomorrow", "weeks ago", "quarters2"])
def test_parse_period_unknown(word: str) -> None:
    assert parse_period(word) is None


def test_period_name_is_a_string() -> None:
    assert PeriodName.WEEK == "week"
    assert f"{PeriodName.QUARTER}" == "quarter"


# --- period_containing and keys --------------------------------------------------------------------


def test_today() -> None:
    p = period_containing(PeriodName.TODAY, TODAY)
    assert (p.start, p.end, p.key) == (TODAY, TODAY, "2026-11-22")


def test_week_starts_monday_and_uses_iso_key() -> None:
    p = period_containing(PeriodName.WEEK, TODAY)
    assert p.start == date(2026, 11, 16)
    assert p.start.weekday() == 0
    assert p.end == date(2026, 11, 22)
    assert p.key == "2026-W47"
    assert period_containing(PeriodName.WEEK, date(2026, 11, 16)) == p


@pytest.mark.parametrize(
    ("day", "start", "end", "key"),
    [
        # 2026-12-31 is a Thursday: its week is ISO 2026-W53 and runs into 2027
        (date(2027, 1, 1), date(2026, 12, 28), date(2027, 1, 3), "2026-W53"),
        (date(2026, 12, 31), date(2026, 12, 28), date(2027, 1, 3), "2026-W53"),
        # 2024-12-30 (Monday) belongs to ISO 2025-W01
        (date(2024, 12, 31), date(2024, 12, 30), date(2025, 1, 5), "2025-W01"),
        (date(2026, 1, 1), date(2025, 12, 29), date(2026, 1, 4), "2026-W01"),
        (date(2028, 2, 29), date(2028, 2, 28), date(2028, 3, 5), "2028-W09"),
    ],
)
def test_week_across_year_boundaries(day: date, start: date, end: date, key: str) -> None:
    p = period_containing(PeriodName.WEEK, day)
    assert (p.start, p.end, p.key) == (start, end, key)


@pytest.mark.parametrize(
    ("day", "start", "end", "key"),
    [
        (date(2026, 11, 22), date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
        (date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31), "2026-12"),
        (date(2028, 2, 10), date(2028, 2, 1), date(2028, 2, 29), "2028-02"),
        (date(2026, 2, 10), date(2026, 2, 1), date(2026, 2, 28), "2026-02"),
    ],
)
def test_month(day: date, start: date, end: date, key: str) -> None:
    p = period_containing(PeriodName.MONTH, day)
    assert (p.start, p.end, p.key) == (start, end, key)


@pytest.mark.parametrize(
    ("day", "start", "end", "key"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 3, 31), "2026-Q1"),
        (date(2026, 3, 31), date(2026, 1, 1), date(2026, 3, 31), "2026-Q1"),
        (date(2026, 4, 1), date(2026, 4, 1), date(2026, 6, 30), "2026-Q2"),
        (date(2026, 8, 15), date(2026, 7, 1), date(2026, 9, 30), "2026-Q3"),
        (date(2026, 11, 22), date(2026, 10, 1), date(2026, 12, 31), "2026-Q4"),
    ],
)
def test_quarter(day: date, start: date, end: date, key: str) -> None:
    p = period_containing(PeriodName.QUARTER, day)
    assert (p.start, p.end, p.key) == (start, end, key)


def test_period_containing_accepts_plain_strings() -> None:
    assert period_containing("month", TODAY) == period_containing(PeriodName.MONTH, TODAY)  # type: ignore[arg-type]


def test_previous_crosses_year_boundaries() -> None:
    q1 = period_containing(PeriodName.QUARTER, date(2026, 2, 1))
    assert q1.previous().key == "2025-Q4"
    assert q1.previous().end == date(2025, 12, 31)
    assert period_containing(PeriodName.MONTH, date(2026, 1, 5)).previous().key == "2025-12"
    assert period_containing(PeriodName.WEEK, date(2026, 1, 1)).previous().key == "2025-W52"
    assert period_containing(PeriodName.TODAY, date(2026, 1, 1)).previous().key == "2025-12-31"
    assert period_containing(PeriodName.MONTH, date(2026, 3, 31)).previous().end == date(2026, 2, 28)


def test_next_is_the_inverse_of_previous() -> None:
    for name in PeriodName:
        p = period_containing(name, TODAY)
        assert p.next().previous() == p
        assert p.next().start == p.end + timedelta(days=1)


def test_days_and_contains() -> None:
    week = period_containing(PeriodName.WEEK, TODAY)
    days = list(week.days())
    assert days == [date(2026, 11, 16) + timedelta(days=i) for i in range(7)]
    assert week.contains(date(2026, 11, 16))
    assert week.contains(date(2026, 11, 22))
    assert not week.contains(date(2026, 11, 23))
    assert not week.contains(date(2026, 11, 15))
    assert len(list(period_containing(PeriodName.QUARTER, TODAY).days())) == 92


def test_period_cannot_be_reversed() -> None:
    with pytest.raises(ValueError):
        Period(PeriodName.TODAY, date(2026, 1, 2), date(2026, 1, 1))


# --- time zones ------------------------------------------------------------------------------------


def test_utc_bounds_shanghai() -> None:
    start, end = period_containing(PeriodName.TODAY, TODAY).utc_bounds("Asia/Shanghai")
    assert start == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)


def test_utc_bounds_new_york_spring_forward_day_is_23_hours() -> None:
    start, end = period_containing(PeriodName.TODAY, date(2026, 3, 8)).utc_bounds("America/New_York")
    assert start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # EST, -05:00
    assert end == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # EDT, -04:00
    assert end - start == timedelta(hours=23)


def test_utc_bounds_new_york_fall_back_day_is_25_hours() -> None:
    start, end = period_containing(PeriodName.TODAY, date(2026, 11, 1)).utc_bounds("America/New_York")
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=25)


def test_utc_bounds_week_spanning_dst_change() -> None:
    week = period_containing(PeriodName.WEEK, date(2026, 3, 8))  # Mon 2 Mar .. Sun 8 Mar
    start, end = week.utc_bounds("America/New_York")
    assert end - start == timedelta(days=7) - timedelta(hours=1)


def test_utc_bounds_where_midnight_does_not_exist() -> None:
    # Chile springs forward at 00:00 local: the day starts at 01:00 (-03:00), i.e. 04:00 UTC.
    start, end = period_containing(PeriodName.TODAY, date(2026, 9, 6)).utc_bounds("America/Santiago")
    assert start == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert end == datetime(2026, 9, 7, 3, 0, tzinfo=UTC)


def test_local_day() -> None:
    late_utc = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert local_day(late_utc, "Asia/Shanghai") == date(2026, 11, 23)
    assert local_day(late_utc, "UTC") == date(2026, 11, 22)
    assert local_day(datetime(2026, 11, 22, 3, 0, tzinfo=UTC), "America/New_York") == date(2026, 11, 21)
    with pytest.raises(ValueError):
        local_day(datetime(2026, 11, 22, 3, 0), "UTC")


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London", "America/Santiago", "UTC"]),
    st.sampled_from(list(PeriodName)),
)
def test_now_falls_inside_the_bounds_of_its_local_period(now: datetime, tz: str, name: PeriodName) -> None:
    period = period_containing(name, local_day(now, tz))
    start, end = period.utc_bounds(tz)
    assert start <= now < end
    # consecutive periods tile time without gaps or overlaps
    assert period.next().utc_bounds(tz)[0] == end


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)), st.sampled_from(list(PeriodName)))
def test_period_containing_properties(day: date, name: PeriodName) -> None:
    p = period_containing(name, day)
    assert p.contains(day)
    assert p.previous().end + timedelta(days=1) == p.start
    assert all(period_containing(name, d) == p for d in (p.start, p.end))
    assert p.previous().key != p.key


# --- parse_day -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-11-23", date(2026, 11, 23)),
        ("2026/11/23", date(2026, 11, 23)),
        ("2026.1.5", date(2026, 1, 5)),
        ("2027-01-05", date(2027, 1, 5)),
        ("2026年11月23日", date(2026, 11, 23)),
        ("11-23", date(2026, 11, 23)),
        ("11/23", date(2026, 11, 23)),
        ("1/5", date(2026, 1, 5)),
        ("11月23日", date(2026, 11, 23)),
        ("11月23号", date(2026, 11, 23)),
        ("11月23", date(2026, 11, 23)),
        ("today", TODAY),
        ("Today", TODAY),
        ("今天", TODAY),
        ("tomorrow", date(2026, 11, 23)),
        ("明天", date(2026, 11, 23)),
        ("yesterday", date(2026, 11, 21)),
        ("昨天", date(2026, 11, 21)),
        (" 2026-11-23 ", date(2026, 11, 23)),
    ],
)
def test_parse_day(text: str, day: date) -> None:
    assert parse_day(text, TODAY) == day


def test_relative_days_cross_year() -> None:
    assert parse_day("tomorrow", date(2026, 12, 31)) == date(2027, 1, 1)
    assert parse_day("昨天", date(2027, 1, 1)) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "malformed"),
        ("next week", "malformed"),
        ("2026-11", "malformed"),
        ("26-11-23", "malformed"),
        ("2026-11-23x", "malformed"),
        ("11-23-2026", "malformed"),
        ("2026-02-30", "impossible"),
        ("2026-13-01", "impossible"),
        ("2026-00-10", "impossible"),
        ("2/29", "impossible"),  # 2026 is not a leap year
        ("13月1日", "impossible"),
        ("11-31", "impossible"),
    ],
)
def test_parse_day_errors(text: str, code: str) -> None:
    with pytest.raises(InvalidDay) as err:
        parse_day(text, TODAY)
    assert err.value.code == code


def test_leap_day_in_a_leap_year() -> None:
    assert parse_day("2/29", date(2028, 1, 1)) == date(2028, 2, 29)


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_parse_day_round_trips_iso(day: date) -> None:
    assert parse_day(day.isoformat(), TODAY) == day
    assert parse_day(f"{day.year}年{day.month}月{day.day}日", TODAY) == day


# --- parse_day_range -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23..2026-11-25",
        "2026-11-23~2026-11-25",
        "2026-11-23 ~ 2026-11-25",
        "11-23..11-25",
        "11月23日至11月25日",
        "11月23日到11月25日",
        "2026/11/23 .. 11/25",
        "明天..11-25",
    ],
)
def test_parse_day_range(text: str) -> None:
    assert parse_day_range(text, TODAY) == (date(2026, 11, 23), date(2026, 11, 25))


def test_single_day_range() -> None:
    assert parse_day_range("2026-11-23", TODAY) == (date(2026, 11, 23), date(2026, 11, 23))
    assert parse_day_range("today", TODAY) == (TODAY, TODAY)
    assert parse_day_range("11-23..11-23", TODAY) == (date(2026, 11, 23), date(2026, 11, 23))


def test_reversed_range() -> None:
    with pytest.raises(InvalidDay) as err:
        parse_day_range("2026-11-25..2026-11-23", TODAY)
    assert err.value.code == "reversed"
    with pytest.raises(InvalidDay) as err:
        parse_day_range("11-25..11-23", TODAY)
    assert err.value.code == "reversed"
    with pytest.raises(InvalidDay) as err:  # explicit year: no guessing
        parse_day_range("2026-12-30..2026-01-02", TODAY)
    assert err.value.code == "reversed"


def test_year_less_range_wraps_from_december_into_january() -> None:
    assert parse_day_range("12-29..1-2", TODAY) == (date(2026, 12, 29), date(2027, 1, 2))
    assert parse_day_range("12月30日到1月3日", TODAY) == (date(2026, 12, 30), date(2027, 1, 3))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("..", "malformed"),
        ("11-23..", "malformed"),
        ("11-23..x", "malformed"),
        ("11-23..11-31", "impossible"),
    ],
)
def test_range_errors(text: str, code: str) -> None:
    with pytest.raises(InvalidDay) as err:
        parse_day_range(text, TODAY)
    assert err.value.code == code


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=0, max_value=400),
    st.sampled_from(["..", "~", "至", "到", " .. "]),
)
def test_range_round_trips(start: date, length: int, sep: str) -> None:
    end = start + timedelta(days=length)
    assert parse_day_range(f"{start.isoformat()}{sep}{end.isoformat()}", TODAY) == (start, end)


# --- the ends of the calendar (issue 19 item 4) -----------------------------------------------------------


@pytest.mark.parametrize("tz", ["America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati", "UTC"])
def test_local_day_of_the_calendars_first_and_last_instants_does_not_overflow(tz: str) -> None:
    first = datetime.min.replace(tzinfo=UTC)
    last = datetime.max.replace(tzinfo=UTC)
    assert local_day(first, tz) in (date.min, date(1, 1, 2))
    assert local_day(last, tz) in (date.max, date(9999, 12, 30))


@pytest.mark.parametrize("tz", ["America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"])
@pytest.mark.parametrize("name", list(PeriodName))
@pytest.mark.parametrize("day", [date.min, date.max])
def test_periods_at_the_ends_of_the_calendar_have_clamped_bounds(
    tz: str, name: PeriodName, day: date
) -> None:
    period = period_containing(name, day)
    assert period.contains(day)
    start, end = period.utc_bounds(tz)
    assert start < end
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_no_period_before_the_first_or_after_the_last_day_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="no period before"):
        period_containing(PeriodName.TODAY, date.min).previous()
    with pytest.raises(ValueError, match="no period after"):
        period_containing(PeriodName.WEEK, date.max).next()

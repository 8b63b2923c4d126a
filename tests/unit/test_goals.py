from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.calendar import WorkCalendar
from bot.domain.goals import GoalProgress, crossed_thresholds, goal_progress
from bot.domain.periods import PeriodName, period_containing

WEEKDAYS = WorkCalendar("weekdays")
CN = WorkCalendar("cn")
NOV_2026 = period_containing(PeriodName.MONTH, date(2026, 11, 1))  # 21 weekdays


# --- goal_progress ------------------------------------------------------------------------------------


def test_progress_mid_month() -> None:
    # Monday 23 Nov 2026: 23..27 and 30 Nov are left = 6 workdays
    p = goal_progress(30_000_000, 12_000_000, NOV_2026, date(2026, 11, 23), WEEKDAYS)
    assert p == GoalProgress(
        target=30_000_000,
        actual=12_000_000,
        ratio=0.4,
        remaining=18_000_000,
        workdays_left=6,
        daily_pace=3_000_000,
        reached=False,
    )


def test_daily_pace_rounds_up() -> None:
    p = goal_progress(1000, 0, NOV_2026, date(2026, 11, 23), WEEKDAYS)
    assert p.workdays_left == 6
    assert p.daily_pace == 167  # 166.67 rounded up: pacing at 166 would miss the goal
    assert p.daily_pace * p.workdays_left >= p.remaining


def test_today_counts_when_it_is_a_workday_but_not_on_a_weekend() -> None:
    assert goal_progress(100, 0, NOV_2026, date(2026, 11, 27), WEEKDAYS).workdays_left == 2  # Fri + Mon 30
    assert goal_progress(100, 0, NOV_2026, date(2026, 11, 28), WEEKDAYS).workdays_left == 1  # Sat: Mon 30
    assert goal_progress(100, 0, NOV_2026, date(2026, 11, 30), WEEKDAYS).workdays_left == 1


def test_reached_goal_has_no_pace() -> None:
    p = goal_progress(1000, 1000, NOV_2026, date(2026, 11, 23), WEEKDAYS)
    assert (p.reached, p.remaining, p.daily_pace, p.ratio) == (True, 0, None, 1.0)
    over = goal_progress(1000, 1500, NOV_2026, date(2026, 11, 23), WEEKDAYS)
    assert (over.reached, over.remaining, over.daily_pace, over.ratio) == (True, 0, None, 1.5)


def test_after_the_period_nothing_is_left() -> None:
    p = goal_progress(1000, 400, NOV_2026, date(2026, 12, 1), WEEKDAYS)
    assert (p.workdays_left, p.daily_pace, p.remaining, p.reached) == (0, None, 600, False)


def test_before_the_period_counts_all_its_workdays() -> None:
    p = goal_progress(2100, 0, NOV_2026, date(2026, 10, 20), WEEKDAYS)
    assert p.workdays_left == 21
    assert p.daily_pace == 100


def test_cn_calendar_pace_over_national_day() -> None:
    week = period_containing(PeriodName.WEEK, date(2026, 10, 5))  # Mon 5 .. Sun 11 Oct
    # 5..7 are holidays; Thu 8, Fri 9 and Saturday 10 (调休) are workdays
    p = goal_progress(90, 0, week, date(2026, 10, 5), CN)
    assert p.workdays_left == 3
    assert p.daily_pace == 30


def test_period_with_no_workday_left() -> None:
    weekend = period_containing(PeriodName.TODAY, date(2026, 11, 22))  # a Sunday
    p = goal_progress(500, 100, weekend, date(2026, 11, 22), WEEKDAYS)
    assert (p.workdays_left, p.daily_pace, p.reached) == (0, None, False)


def test_deals_goal() -> None:
    today = period_containing(PeriodName.TODAY, date(2026, 11, 23))
    p = goal_progress(5, 3, today, date(2026, 11, 23), WEEKDAYS)
    assert (p.remaining, p.workdays_left, p.daily_pace, p.ratio) == (2, 1, 2, 0.6)


def test_target_must_be_positive() -> None:
    with pytest.raises(ValueError):
        goal_progress(0, 0, NOV_2026, date(2026, 11, 23), WEEKDAYS)
    with pytest.raises(ValueError):
        crossed_thresholds(-1, 0, 1)


@given(
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=2 * 10**12),
    st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 1, 10)),
    st.sampled_from(["cn", "weekdays", "everyday"]),
)
def test_progress_properties(target: int, actual: int, today: date, kind: str) -> None:
    cal = WorkCalendar(kind, on_missing_data=lambda year: None)
    period = period_containing(PeriodName.MONTH, date(2026, 11, 15))
    p = goal_progress(target, actual, period, today, cal)
    assert p.remaining == max(target - actual, 0)
    assert p.reached is (actual >= target)
    assert 0 <= p.workdays_left <= 30
    if p.daily_pace is None:
        assert p.remaining == 0 or p.workdays_left == 0
    else:
        # the smallest whole pace that reaches the goal (ceil, in exact integer arithmetic)
        assert (p.daily_pace - 1) * p.workdays_left < p.remaining <= p.daily_pace * p.workdays_left
    if today > period.end:
        assert p.workdays_left == 0


# --- crossed_thresholds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "before", "after", "crossed"),
    [
        (1000, 0, 100, []),
        (1000, 400, 500, [50]),  # reaching exactly 50 % crosses it
        (1000, 500, 600, []),  # already there
        (1000, 499, 1000, [50, 100]),
        (1000, 0, 5000, [50, 100]),
        (1000, 999, 1000, [100]),
        (1000, 1000, 1200, []),
        (1000, 600, 400, []),  # a void moves backwards: nothing to celebrate
        (3, 1, 2, [50]),  # 50 % of 3 is 1.5: exact integer comparison
        (3, 0, 1, []),
    ],
)
def test_crossed_thresholds(target: int, before: int, after: int, crossed: list[int]) -> None:
    assert crossed_thresholds(target, before, after) == crossed


def test_custom_thresholds_are_sorted() -> None:
    assert crossed_thresholds(100, 0, 100, thresholds=(100, 25, 75, 50)) == [25, 50, 75, 100]
    assert crossed_thresholds(100, 30, 80, thresholds=[75, 25, 50, 50]) == [50, 75]
    assert crossed_thresholds(100, 100, 210, thresholds=(150, 200)) == [150, 200]


@given(
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=0, max_value=2 * 10**9),
    st.integers(min_value=0, max_value=2 * 10**9),
    st.integers(min_value=0, max_value=2 * 10**9),
)
def test_thresholds_are_crossed_once_along_a_path(target: int, a: int, b: int, c: int) -> None:
    start, middle, end = sorted((a, b, c))
    # going up in two steps crosses each threshold exactly as going up in one step does
    two_steps = crossed_thresholds(target, start, middle) + crossed_thresholds(target, middle, end)
    assert two_steps == crossed_thresholds(target, start, end)
    for t in crossed_thresholds(target, start, end):
        assert start * 100 < t * target <= end * 100


def test_pace_grows_as_days_run_out() -> None:
    paces = []
    day = date(2026, 11, 2)
    while day <= NOV_2026.end:
        p = goal_progress(2_100_000, 0, NOV_2026, day, WEEKDAYS)
        if p.daily_pace is not None:
            paces.append(p.daily_pace)
        day += timedelta(days=1)
    assert paces == sorted(paces)
    assert paces[-1] == 2_100_000

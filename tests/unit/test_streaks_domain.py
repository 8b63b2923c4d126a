"""The streak recurrence: a checkpoint carried forward, or rewound, agrees with counting back by the rule."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.calendar import WorkCalendar
from bot.domain.streaks import Checkpoint, advance, basis, carry, rewind

START = date(2026, 9, 21)  # the span crosses National Day and its make-up workdays
SPAN = 40
DAYS = [START + timedelta(days=i) for i in range(SPAN)]
BEFORE = START - timedelta(days=1)  # no check-in before START: a run cannot reach back past it


def walk(day: date, done: set[date], excused) -> int:
    """The rule, counted back from `day`: done counts, excused days pass, a missed workday ends it."""
    count = 0
    while day >= START:
        if day in done:
            count += 1
        elif not excused(day):
            break
        day -= timedelta(days=1)
    return count


def shown(today: date, done: set[date], excused) -> int:
    return walk(today if today in done else today - timedelta(days=1), done, excused)


@st.composite
def histories(draw):
    kind = draw(st.sampled_from(["cn", "weekdays", "everyday"]))
    holidays = draw(st.sets(st.sampled_from(DAYS), max_size=3))
    calendar = WorkCalendar(kind, extra_holidays=holidays)
    rate = draw(st.sampled_from([0.5, 0.9, 1.0]))
    done = {d for d in DAYS if draw(st.floats(0, 1)) < rate}
    leaves = []
    for _ in range(draw(st.integers(0, 2))):
        first = draw(st.sampled_from(DAYS))
        leaves.append((first, first + timedelta(days=draw(st.integers(0, 6)))))

    def excused(day: date) -> bool:
        return not calendar.is_workday(day) or any(s <= day <= e for s, e in leaves)

    return done, excused


def checkpoint_at(day: date, done: set[date], excused) -> Checkpoint:
    """Built forward from before any check-in, as the stored streak is."""
    return advance(Checkpoint(BEFORE, 0, BEFORE), sorted(d for d in done if d <= day), day, excused)


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from(DAYS), st.sampled_from(DAYS))
def test_a_checkpoint_carried_forward_shows_the_streak_counted_back(history, first, second):
    done, excused = history
    early, today = sorted((first, second))
    point = checkpoint_at(early, done, excused)
    assert point.length == walk(early, done, excused)
    assert point.length == 0 or (point.day in done and point.since < point.day)
    if point.length == 0:
        assert point.day == point.since
    if point.day == today and point.length == 0:
        return  # a miss today says nothing of yesterday: the store counts such a member again
    later = sorted(d for d in done if point.day < d <= today)
    assert carry(point, later, today, excused).length == shown(today, done, excused)


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from(DAYS), st.sampled_from(DAYS))
def test_a_checkpoint_rewound_to_an_earlier_day_inside_its_run_shows_that_days_streak(history, first, second):
    done, excused = history
    earlier, later = sorted((first, second))
    point = checkpoint_at(later, done, excused)
    if point.day <= earlier:
        return
    between = sum(1 for d in done if earlier < d <= point.day)
    length = rewind(point, between, earlier)
    if point.length > 0 and earlier > point.since:
        assert length == shown(earlier, done, excused)
    else:
        assert length is None


def test_basis_changes_with_the_leave_and_holidays_inside_the_run_only():
    since, day = date(2026, 10, 9), date(2026, 10, 20)

    def of(leaves=(), holidays=()):
        return basis("cn", frozenset(holidays), frozenset(), list(leaves), since, day)

    plain = of()
    assert of([(date(2026, 10, 1), date(2026, 10, 3))]) == plain  # over before the run
    assert of([(date(2026, 10, 21), date(2026, 10, 25))]) == plain  # after its day: read live
    assert of([(date(2026, 10, 8), date(2026, 10, 9))]) != plain  # covers the missed day itself
    assert of([(date(2026, 10, 15), date(2026, 10, 30))]) != plain
    # Only the part inside the run counts: extending a leave past the checkpoint's day changes nothing.
    inside = of([(date(2026, 10, 15), date(2026, 10, 25))])
    assert of([(date(2026, 10, 15), date(2026, 10, 28))]) == inside
    assert of(holidays=[date(2026, 10, 12)]) != plain
    assert of(holidays=[date(2026, 11, 2)]) == plain
    assert basis("weekdays", frozenset(), frozenset(), [], since, day) != plain

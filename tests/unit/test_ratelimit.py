"""The sliding-window limiter: whatever the timing of sends, no platform window ever holds one too many."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.ratelimit import (
    Attempt,
    RateLimiter,
    Window,
    earliest_start,
    effective_limits,
    windows_for,
)
from bot.ports import ChannelLimits
from tests.support.fake_platform import busiest_window

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def limits(rate: float, burst: int = 1, per_hour: int | None = None) -> ChannelLimits:
    return ChannelLimits(max_message_bytes=4000, rate_per_minute=rate, burst=burst, per_hour=per_hour)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_windows_of_common_platforms():
    assert windows_for(limits(20, burst=20)) == (Window(20, 60.0),)  # a DingTalk / WeCom group robot
    assert windows_for(limits(60, burst=3)) == (Window(60, 60.0), Window(3, 3.0))  # Slack-like
    assert windows_for(limits(30.5, burst=1)) == (Window(30, 60.0), Window(1, 60 / 30.5))
    assert windows_for(limits(0.5)) == (Window(1, 120.0),)  # slower than one a minute
    assert windows_for(limits(20, burst=20, per_hour=300)) == (Window(20, 60.0), Window(300, 3600.0))
    assert windows_for(limits(float("inf"))) == ()


def test_a_config_override_only_ever_lowers_the_rate():
    declared = limits(20, burst=20)
    assert effective_limits(declared, 10).rate_per_minute == 10
    assert effective_limits(declared, 100) == declared
    assert effective_limits(declared, None) == declared


def test_the_next_slot_is_the_nth_latest_completion_plus_the_window():
    windows = windows_for(limits(3, burst=3))
    completions = [at(0), at(10), at(20)]
    assert earliest_start(completions[:2], windows, at(21)) == at(21)  # room for a third
    assert earliest_start(completions, windows, at(21)) == at(60)  # the 0 s send must leave the window
    assert earliest_start(completions, windows, at(75)) == at(75)


def test_the_limiter_merges_the_database_log_with_its_own_attempts():
    limiter = RateLimiter()
    windows = windows_for(limits(3, burst=3))
    stored = [Attempt(1, 1, at(0)), Attempt(2, 1, at(5))]
    # The same attempt known both ways counts once; a failed earlier attempt the database forgot counts.
    limiter.record("d", Attempt(2, 1, at(5)))
    assert limiter.next_slot("d", windows, stored, at(6)) == at(6)
    limiter.record("d", Attempt(3, 1, at(6)))  # failed: the database only remembers row 3's later attempt
    assert limiter.next_slot("d", windows, [*stored, Attempt(3, 2, at(7))], at(8)) == at(65)
    assert limiter.blocked(at(8)) == {"d": at(65)}
    assert limiter.blocked(at(65)) == {}


SENDS = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=30, allow_nan=False),  # idle time before the next post is due
        st.floats(min_value=0, max_value=3, allow_nan=False),  # how long the send takes
        st.floats(min_value=0, max_value=1, allow_nan=False),  # where in that time the platform counts it
    ),
    min_size=1,
    max_size=80,
)
LIMITS = st.builds(
    limits,
    rate=st.sampled_from([0.5, 1, 6, 20, 30.5, 60, 600]),
    burst=st.integers(min_value=1, max_value=25),
    per_hour=st.one_of(st.none(), st.integers(min_value=1, max_value=200)),
)


@settings(max_examples=300, deadline=None)
@given(sends=SENDS, declared=LIMITS, restarts=st.sets(st.integers(min_value=0, max_value=79)))
def test_no_window_ever_holds_too_many_wherever_the_platform_counts(sends, declared, restarts):
    """Posts to one destination one after another, each started as soon as the limiter allows; the
    platform counts each at any instant between its start and completion. Every window of every limit
    holds at most its count, even across restarts that forget the in-process log."""
    windows = windows_for(declared)
    limiter = RateLimiter()
    stored: list[Attempt] = []
    arrivals: list[datetime] = []
    now = T0
    for row_id, (idle, duration, fraction) in enumerate(sends):
        if row_id in restarts:
            limiter = RateLimiter()  # a restart: only the database remembers
        due = now + timedelta(seconds=idle)
        start = limiter.next_slot("d", windows, stored, due)
        assert start >= due
        done = start + timedelta(seconds=duration)
        arrivals.append(start + (done - start) * fraction)
        attempt = Attempt(row_id, 1, done)
        limiter.record("d", attempt)
        stored.append(attempt)
        now = done
    for window in windows:
        assert busiest_window(arrivals, window.seconds) <= window.count


@settings(max_examples=100, deadline=None)
@given(declared=LIMITS, count=st.integers(min_value=1, max_value=120))
def test_a_backlog_goes_out_as_fast_as_the_limits_allow(declared, count):
    """Instant sends, all due at once: a send held back would have overfilled some window a moment sooner."""
    windows = windows_for(declared)
    limiter = RateLimiter()
    sent: list[datetime] = []
    for row_id in range(count):
        start = limiter.next_slot("d", windows, [], T0)
        if start > T0:
            sooner = start - timedelta(milliseconds=1)
            assert any(
                sum(1 for t in sent if sooner - timedelta(seconds=w.seconds) < t <= sooner) >= w.count
                for w in windows
            )
        limiter.record("d", Attempt(row_id, 1, start))
        sent.append(start)
    for window in windows:
        assert busiest_window(sent, window.seconds) <= window.count

"""The adapter's own guard: WeCom's per-destination windows, minute and hour, never overfilled."""

from __future__ import annotations

import pytest

from adapters.wecom.adapter import DM_LIMITS, ROBOT_LIMITS
from adapters.wecom.ratelimit import SlidingWindows


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_robot_takes_20_in_any_minute_then_waits_for_the_oldest():
    clock = Ticker()
    windows = SlidingWindows(clock)
    for i in range(20):
        clock.now = 1000.0 + i
        assert windows.reserve("robot", ROBOT_LIMITS) == 0.0
    assert windows.reserve("robot", ROBOT_LIMITS) == pytest.approx(41.0)  # the first leaves at 1060
    clock.now = 1060.0
    assert windows.reserve("robot", ROBOT_LIMITS) == 0.0
    assert windows.reserve("other-robot", ROBOT_LIMITS) == 0.0  # windows are per destination


def test_a_member_takes_1000_an_hour_even_when_each_minute_is_within_30():
    clock = Ticker()
    windows = SlidingWindows(clock)
    sent = 0
    while clock.now < 1000.0 + 3600:
        if windows.reserve("dm:bob", DM_LIMITS) == 0.0:
            sent += 1
        clock.now += 1.5  # 40 attempts a minute
    assert sent == 1000


def test_refused_reservations_record_nothing_and_idle_windows_are_forgotten():
    clock = Ticker()
    windows = SlidingWindows(clock)
    for _ in range(30):
        assert windows.reserve("dm:bob", DM_LIMITS) == 0.0
    assert windows.reserve("dm:bob", DM_LIMITS) == pytest.approx(60.0)
    clock.now += 59.5
    assert windows.reserve("dm:bob", DM_LIMITS) == pytest.approx(0.5)  # the refusals did not count
    clock.now += 3601
    windows.forget_idle()
    assert windows.reserve("dm:bob", DM_LIMITS) == 0.0

"""Reading a team's schedule into slots, and when each slot is due — pure, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.domain.calendar import WorkCalendar
from bot.services.schedule import Slot, is_due, latest_fire, local_fire, parse_clock, team_slots
from bot.services.summaries import summary_period
from scheduling.scheduler import trigger_for

NY = "America/New_York"


def test_default_schedule_has_every_kind_in_local_time():
    slots = {(s.kind, s.number): s for s in team_slots({})}
    assert slots["checkin", 0].at == time(9, 0)
    assert slots["reminder", 1].at == time(10, 30)
    assert slots["morning", 0].at == time(9, 30)
    assert slots["recap", 0].at == time(18, 0)
    assert slots["weekly", 0] == Slot("weekly", time(18, 30), weekday=4)
    assert slots["monthly", 0] == Slot("monthly", time(18, 30), month_day=None)


def test_reminders_are_numbered_in_time_order_and_bad_entries_are_left_out(caplog):
    slots = team_slots({"reminders": ["14:00", "9:05"], "morning": "25:00", "monthly": "15 17:00"}, "east")
    reminders = [(s.number, s.at) for s in slots if s.kind == "reminder"]
    assert reminders == [(1, time(9, 5)), (2, time(14, 0))]
    assert not any(s.kind == "morning" for s in slots)
    assert "morning" in caplog.text and "east" in caplog.text
    assert Slot("monthly", time(17, 0), month_day=15) in slots


def test_clock_accepts_seconds_but_nothing_else():
    assert parse_clock("09:30:15") == time(9, 30, 15)
    for bad in ("9.30", "24:00", "09:60", "", "noon"):
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_weekly_and_monthly_due_days():
    cn = WorkCalendar("cn")
    weekly = Slot("weekly", time(18, 30), weekday=4)
    assert is_due(weekly, date(2026, 11, 27), cn)  # a Friday
    assert not is_due(weekly, date(2026, 11, 26), cn)
    last = Slot("monthly", time(18, 30))
    assert is_due(last, date(2026, 11, 30), cn)  # Monday, the last workday of November 2026
    assert not is_due(last, date(2026, 11, 27), cn)
    # September 2026 ends on a Wednesday; the 30th is a workday before the National Day holiday.
    assert is_due(last, date(2026, 9, 30), cn)
    day31 = Slot("monthly", time(9, 0), month_day=31)
    assert is_due(day31, date(2027, 2, 28), cn)  # a short month posts on its last day
    assert not is_due(day31, date(2027, 2, 27), cn)
    assert is_due(Slot("morning", time(9, 30)), date(2026, 10, 1), cn)  # the calendar check comes later


def test_latest_fire_is_local_and_never_in_the_future():
    now = datetime(2026, 11, 23, 1, 45, tzinfo=UTC)  # 09:45 in Shanghai
    assert latest_fire(time(9, 30), "Asia/Shanghai", now) == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert latest_fire(time(18, 0), "Asia/Shanghai", now) == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_new_york_keeps_its_local_time_across_both_dst_switches():
    # Spring forward 2026-03-08, fall back 2026-11-01: 09:30 local is 14:30Z in winter, 13:30Z in summer.
    assert local_fire(date(2026, 3, 6), time(9, 30), NY).astimezone(UTC).hour == 14
    assert local_fire(date(2026, 3, 9), time(9, 30), NY).astimezone(UTC).hour == 13
    trigger = trigger_for(Slot("morning", time(9, 30)), NY)
    fires, at = [], datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    for _ in range(3):
        at = trigger.get_next_fire_time(None, at)
        fires.append(at.astimezone(UTC))
        at = at.astimezone(UTC).replace(second=1)
    assert fires == [
        datetime(2026, 3, 7, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 13, 30, tzinfo=UTC),
        datetime(2026, 3, 9, 13, 30, tzinfo=UTC),
    ]
    autumn = trigger.get_next_fire_time(None, datetime(2026, 10, 31, 14, 0, tzinfo=UTC))
    assert autumn.astimezone(UTC) == datetime(2026, 11, 1, 14, 30, tzinfo=UTC)
    # A time inside the spring-forward gap fires just after it instead of never.
    gap = local_fire(date(2026, 3, 8), time(2, 30), NY)
    assert gap.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_weekly_trigger_fires_only_on_its_weekday():
    trigger = trigger_for(Slot("weekly", time(18, 30), weekday=4), "Asia/Shanghai")
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    assert fire.date() == date(2026, 11, 27) and fire.hour == 18 and fire.minute == 30


def test_summary_reviews_this_period_late_in_it_and_the_previous_one_early():
    assert summary_period("weekly", date(2026, 11, 27)).key == "2026-W48"  # Friday: this week
    assert summary_period("weekly", date(2026, 11, 23)).key == "2026-W47"  # Monday 周会: last week
    assert summary_period("monthly", date(2026, 11, 30)).key == "2026-11"
    assert summary_period("monthly", date(2026, 12, 1)).key == "2026-11"  # 1st: last month
    assert summary_period("monthly", date(2027, 1, 4)).key == "2026-12"

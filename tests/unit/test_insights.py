"""The leader's insights and the week's 标杆, judged from plain data without a database."""

from __future__ import annotations

from datetime import date, timedelta

from bot.domain.insights import (
    Day,
    MemberData,
    PkGroup,
    Thresholds,
    WeekFigures,
    benchmarks,
    insights,
    missed_run,
)

START = date(2026, 10, 1)


def days(n: int = 25, **per_day) -> tuple[Day, ...]:
    """n days; keyword lists (or single values) give each day's fields, defaults: checked in, 40 calls."""
    out = []
    for i in range(n):
        fields = {"expected": True, "checked_in": True, "calls": 40, "amount_minor": 1_000_000, "deals": 1}
        for key, value in per_day.items():
            fields[key] = value[i] if isinstance(value, list) else value
        fields.setdefault("deal_minor", fields["deals"] * 100_000)
        if not fields["checked_in"]:
            fields["calls"] = fields["amount_minor"] = None
        out.append(Day(START + timedelta(days=i), **fields))
    return tuple(out)


def member(mid: int = 1, name: str = "alice", group: int | None = 1, streak: int = 0, **per_day):
    return MemberData(mid, name, name, group, days(**per_day), streak)


def kinds(found) -> list[tuple[str, str]]:
    return [(i.kind, i.name) for i in found]


def test_a_steady_member_is_a_quiet_day() -> None:
    assert insights([member(), member(2, "bob")]) == []


def test_calls_that_fell_for_a_week_are_named_with_both_levels() -> None:
    calls = [40] * 20 + [20] * 5
    found = insights([member(calls=calls), member(2, "bob")])
    assert kinds(found) == [("calls_down", "alice")]
    numbers = found[0].numbers
    assert numbers["week_avg"] == 20 and numbers["level_avg"] == 40 and numbers["change"] == -0.5
    assert found[0].suggestion == "review_calls"


def test_a_small_dip_is_not_a_fall() -> None:
    assert insights([member(calls=[40] * 20 + [35] * 5)]) == []


def test_missed_check_ins_run_skips_leave_days_and_needs_three() -> None:
    checked = [True] * 20 + [False, False, True, False, False]
    assert missed_run(member(checked_in=checked)) == 2
    assert insights([member(checked_in=checked)]) == []
    # a day on leave between misses neither counts nor breaks the run
    checked = [True] * 20 + [False, False, False, False, False]
    expected = [True] * 20 + [True, True, False, False, True]
    found = insights([member(checked_in=checked, expected=expected)])
    assert ("missed", "alice") in kinds(found)
    assert found[0].numbers["days"] == 3 and found[0].numbers["last"] == (START + timedelta(19)).isoformat()


def test_someone_on_leave_today_is_not_named() -> None:
    away = [True] * 18 + [False] * 7
    assert insights([member(checked_in=away, expected=away, deals=0)]) == []


def test_no_deal_for_n_workdays_pairs_with_the_strongest_colleague_of_the_group() -> None:
    dry = member(deals=[1] * 19 + [0] * 6)
    strong = member(2, "bob", group=1, deals=2)
    stronger_elsewhere = member(3, "carol", group=2, deals=3)
    found = insights([dry, strong, stronger_elsewhere])
    assert kinds(found) == [("no_deal", "alice")]
    assert found[0].numbers == {"days": 6, "last": (START + timedelta(18)).isoformat()}
    assert found[0].suggestion == "pair" and found[0].partner == "bob"
    assert insights([dry], limits=Thresholds(no_deal_days=7)) == []


def test_a_streak_that_today_broke() -> None:
    found = insights([member(streak=8, checked_in=[True] * 24 + [False])])
    assert kinds(found) == [("streak_broken", "alice")] and found[0].numbers == {"days": 8}


def test_a_group_behind_its_pk_pace() -> None:
    pk = [
        PkGroup("十一月冲刺", 2, "虎队", 60_000, "狼队", 100_000),
        PkGroup("十一月冲刺", 3, "鹰队", 80_000, "狼队", 100_000),
    ]
    found = insights([], pk)
    assert kinds(found) == [("pk_behind", "虎队")]
    assert found[0].numbers["ratio"] == 0.6 and found[0].suggestion == "plan_with_lead"


def figures(mid, name, deals=0, calls=0, amount=0, level=0, streak=0) -> WeekFigures:
    return WeekFigures(mid, name, name, deals, calls, amount, level, streak)


def test_benchmarks_need_a_minimum_of_calls_and_say_why() -> None:
    people = [
        figures(1, "lucky", deals=1, calls=1),  # one lucky call does not win
        figures(2, "bob", deals=3, calls=60, amount=300, level=100, streak=4),
        figures(3, "carol", deals=4, calls=100, amount=500, level=400, streak=9),
    ]
    found = {b.kind: b for b in benchmarks(people)}
    assert found["conversion"].name == "bob" and found["conversion"].numbers["ratio"] == 3 / 60
    assert found["improved"].name == "bob" and found["improved"].numbers["change"] == 2.0
    assert found["streak"].name == "carol" and found["streak"].numbers == {"days": 9}
    assert benchmarks([figures(1, "lucky", deals=1, calls=1)]) == []


def test_the_insights_slot_is_off_until_a_time_is_set(caplog) -> None:
    from datetime import time

    from bot.config import TeamConfig
    from bot.services.schedule import Slot, team_slots
    from bot.services.seed import _schedule

    assert not [s for s in team_slots({}) if s.kind == "insights"]
    assert Slot("insights", time(18, 15)) in team_slots({"insights": "18:15"})
    assert not [s for s in team_slots({"insights": "6pm"}, "east") if s.kind == "insights"]
    assert "insights='6pm' is not a time" in caplog.text
    team = {"id": "east", "name": "华东一部", "platform": "console"}
    assert "insights" not in _schedule(TeamConfig(**team))
    assert _schedule(TeamConfig(**team, schedule={"insights": "18:15"}))["insights"] == "18:15"

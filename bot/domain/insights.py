"""Private insights for a leader, and the week's 标杆 — pure functions of plain data, no database.

Everything is counted over the member's own workdays (a day on leave, or before they joined, is not
one of them), so that each number can be checked against /rank, /recap, /me or `teambeat export`.
An empty result is a quiet day: the caller then says nothing at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

# How many of the latest workdays make "a week", and how many before them "their own level".
WEEK_DAYS = 5
LEVEL_DAYS = 20


@dataclass(frozen=True, slots=True)
class Thresholds:
    missed_days: int = 3  # workdays running without a check-in
    no_deal_days: int = 5  # workdays running without a deal
    drop_ratio: float = 0.8  # a week's average at or below this share of their level has fallen
    min_week_answers: int = 3  # answered days needed in the week to compare at all
    min_level_answers: int = 5  # answered days needed in the four weeks before
    streak_broken: int = 3  # a streak at least this long that today's miss ends is worth a word
    pk_behind_ratio: float = 0.7  # a PK group below this share of the leader's score is behind
    min_calls: int = 20  # planned calls a week below which no conversion is judged


@dataclass(frozen=True, slots=True)
class Day:
    """One workday of one member. `expected`: a workday they were in the team and not on leave."""

    day: date
    expected: bool
    checked_in: bool = False
    calls: int | None = None  # planned calls from the day's check-in, if answered
    amount_minor: int | None = None  # planned amount from the day's check-in, if answered
    deals: int = 0
    deal_minor: int = 0


@dataclass(frozen=True, slots=True)
class MemberData:
    id: int
    user_id: str
    name: str
    group_id: int | None
    days: tuple[Day, ...]  # workdays ascending; the last is today
    streak: int = 0  # the check-in streak as /me shows it today


@dataclass(frozen=True, slots=True)
class PkGroup:
    """A group's standing in a running 小组PK, its score in the PK's metric."""

    competition: str
    group_id: int
    name: str
    score: int
    leader_name: str
    leader_score: int


@dataclass(frozen=True, slots=True)
class Insight:
    """One thing a leader should know. `kind` picks the wording; `numbers` are what it quotes."""

    kind: str  # missed | calls_down | amount_down | no_deal | streak_broken | pk_behind
    subject_id: int  # a member's or a group's id
    name: str
    user_id: str = ""
    numbers: dict[str, object] = field(default_factory=dict)
    suggestion: str = "encourage"  # encourage | pair | review_calls | plan_with_lead
    partner: str = ""  # the colleague to pair with, for `pair`


def _expected(member: MemberData) -> list[Day]:
    return [d for d in member.days if d.expected]


def missed_run(member: MemberData) -> int:
    """Expected workdays running, up to today, without a check-in."""
    run = 0
    for day in reversed(_expected(member)):
        if day.checked_in:
            break
        run += 1
    return run


def days_without_deal(member: MemberData) -> tuple[int, date | None]:
    """Expected workdays running, up to today, without a deal; and the day of the last deal seen."""
    run = 0
    for day in reversed(member.days):
        if day.deals:
            return run, day.day
        if day.expected:
            run += 1
    return run, None


def _average(values: Sequence[int]) -> float:
    return sum(values) / len(values)


def plan_drop(member: MemberData, what: str, limits: Thresholds) -> dict[str, object] | None:
    """The week's average planned `calls` or `amount_minor` per answered day against the four weeks
    before, when it fell to `drop_ratio` or less; None when it did not or there is too little to say."""
    days = member.days
    week, level = days[-WEEK_DAYS:], days[-WEEK_DAYS - LEVEL_DAYS : -WEEK_DAYS]
    recent = [v for d in week if d.checked_in and (v := getattr(d, what)) is not None]
    before = [v for d in level if d.checked_in and (v := getattr(d, what)) is not None]
    if len(recent) < limits.min_week_answers or len(before) < limits.min_level_answers:
        return None
    now, then = _average(recent), _average(before)
    if then <= 0 or now > then * limits.drop_ratio:
        return None
    return {
        "week_avg": round(now),
        "level_avg": round(then),
        "week_days": len(recent),
        "level_days": len(before),
        "change": now / then - 1,
        "since": week[0].day.isoformat(),
    }


def strongest(members: Sequence[MemberData], besides: MemberData) -> MemberData | None:
    """Whom to pair `besides` with: the most deal amount over the window, their own group first."""

    def total(m: MemberData) -> int:
        return sum(d.deal_minor for d in m.days)

    others = [m for m in members if m.id != besides.id and total(m) > 0]
    if not others:
        return None
    same = [m for m in others if besides.group_id is not None and m.group_id == besides.group_id]
    return max(same or others, key=lambda m: (total(m), -m.id))


def insights(
    members: Sequence[MemberData],
    pk: Sequence[PkGroup] = (),
    limits: Thresholds = Thresholds(),
) -> list[Insight]:
    """What a leader should know today about `members` (already cut to what they may see).

    A member not expected today (on leave, a holiday) is left out of the day-by-day rules entirely:
    the leader is not told about someone who is away.
    """
    found: list[Insight] = []
    for m in members:
        if not m.days or not m.days[-1].expected:
            continue
        base = {"subject_id": m.id, "name": m.name, "user_id": m.user_id}
        missed = missed_run(m)
        if missed >= limits.missed_days:
            last = next((d.day for d in reversed(m.days) if d.checked_in), None)
            numbers = {"days": missed, "last": last.isoformat() if last else None}
            found.append(Insight("missed", numbers=numbers, suggestion="encourage", **base))
        elif missed and m.streak >= limits.streak_broken:
            numbers = {"days": m.streak}
            found.append(Insight("streak_broken", numbers=numbers, suggestion="encourage", **base))
        partner = strongest(members, m)
        for what, kind in (("calls", "calls_down"), ("amount_minor", "amount_down")):
            drop = plan_drop(m, what, limits)
            if drop is not None:
                suggestion = "review_calls" if kind == "calls_down" else "encourage"
                found.append(Insight(kind, numbers=drop, suggestion=suggestion, **base))
        dry, last_deal = days_without_deal(m)
        if dry >= limits.no_deal_days:
            numbers = {"days": dry, "last": last_deal.isoformat() if last_deal else None}
            found.append(
                Insight(
                    "no_deal",
                    numbers=numbers,
                    suggestion="pair" if partner else "review_calls",
                    partner=partner.name if partner else "",
                    **base,
                )
            )
    for g in pk:
        if g.leader_score > 0 and g.score < g.leader_score * limits.pk_behind_ratio:
            numbers = {
                "competition": g.competition,
                "score": g.score,
                "leader": g.leader_name,
                "leader_score": g.leader_score,
                "ratio": g.score / g.leader_score,
            }
            found.append(
                Insight("pk_behind", g.group_id, g.name, numbers=numbers, suggestion="plan_with_lead")
            )
    return found


# ----- 标杆 of the week -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekFigures:
    """One member's week for the 标杆: deals and planned calls this week, amounts by week."""

    id: int
    user_id: str
    name: str
    deals: int
    calls: int  # planned calls summed over the week's check-ins
    amount_minor: int
    level_minor: int  # their average weekly amount over the four weeks before
    streak: int


@dataclass(frozen=True, slots=True)
class Benchmark:
    kind: str  # conversion | improved | streak
    id: int
    user_id: str
    name: str
    numbers: dict[str, object]


def benchmarks(people: Sequence[WeekFigures], limits: Thresholds = Thresholds()) -> list[Benchmark]:
    """Best conversion (deals ÷ planned calls, at least `min_calls` calls), most improved against their
    own four-week level, longest streak; ties go to the earlier member (by id) for a stable pick."""
    chosen: list[Benchmark] = []
    converters = [p for p in people if p.calls >= limits.min_calls and p.deals > 0]
    if converters:
        best = max(converters, key=lambda p: (p.deals / p.calls, p.deals, -p.id))
        numbers = {
            "deals": best.deals,
            "calls": best.calls,
            "ratio": best.deals / best.calls,
            "min_calls": limits.min_calls,
        }
        chosen.append(Benchmark("conversion", best.id, best.user_id, best.name, numbers))
    improved = [p for p in people if p.level_minor > 0 and p.amount_minor > p.level_minor]
    if improved:
        best = max(improved, key=lambda p: (p.amount_minor / p.level_minor, -p.id))
        numbers = {
            "amount_minor": best.amount_minor,
            "level_minor": best.level_minor,
            "change": best.amount_minor / best.level_minor - 1,
        }
        chosen.append(Benchmark("improved", best.id, best.user_id, best.name, numbers))
    streakers = [p for p in people if p.streak >= 2]
    if streakers:
        best = min(streakers, key=lambda p: (-p.streak, p.name, p.id))  # as the streak list orders
        chosen.append(Benchmark("streak", best.id, best.user_id, best.name, {"days": best.streak}))
    return chosen

"""Weekly (周会) and monthly (月会) summaries: goal completion, champions, trend, participation, streaks."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import insights as judge
from bot.domain.periods import Period, PeriodName, day_bounds, local_day, period_containing
from bot.rendering.engine import Renderer

# The module, not its function: insights -> competitions -> charts -> summaries imports it back.
from bot.services import checkins, insights, standings, stats
from bot.services.scope import TeamScope, person
from bot.services.views import format_goal_value, goal_view
from bot.storage.orm import Checkin, Goal, Leave, Member

SUMMARY_PERIODS = {"weekly": PeriodName.WEEK, "monthly": PeriodName.MONTH}
# A summary held early in a period (a Monday 周会, a 月会 on the 3rd) reviews the period before;
# one held late (Thursday onwards, from the 15th) reviews the period it is in.
_LATE_WEEKDAY = 3
_LATE_MONTH_DAY = 15


def summary_period(kind: str, day: date) -> Period:
    """The period a weekly or monthly summary held on `day` reviews."""
    name = SUMMARY_PERIODS[kind]
    current = period_containing(name, day)
    late = day.weekday() >= _LATE_WEEKDAY if name is PeriodName.WEEK else day.day >= _LATE_MONTH_DAY
    return current if late else current.previous()


async def participation_over(
    session: AsyncSession, scope: TeamScope, members, start: date, end: date
) -> dict[str, Any] | None:
    """Done check-ins out of member-workdays expected (active, not on leave), from start to end.

    A member is expected from the day they joined (or their first check-in, for history imported
    before it): a new team is not held to the days before it existed.
    """
    workdays = scope.calendar.workdays(start, end)
    ids = {m.id for m in members}
    if not workdays or not ids:
        return None
    leaves = list(
        await session.execute(
            select(Leave.member_id, Leave.start_day, Leave.end_day).where(
                Leave.member_id.in_(ids),
                Leave.cancelled.is_(False),
                Leave.start_day <= end,
                Leave.end_day >= start,
            )
        )
    )

    def away(member_id: int, day: date) -> bool:
        return any(m == member_id and s <= day <= e for m, s, e in leaves)

    done_rows = list(
        await session.execute(
            select(Checkin.member_id, Checkin.day).where(
                Checkin.team_id == scope.team.id,
                Checkin.status == "done",
                Checkin.day >= start,
                Checkin.day <= end,
            )
        )
    )
    first = {
        member_id: local_day(joined, scope.team.timezone)
        for member_id, joined in await session.execute(
            select(Member.id, Member.joined_at).where(Member.id.in_(ids))
        )
    }
    for member_id, day in done_rows:
        if member_id in first and day < first[member_id]:
            first[member_id] = day

    def expected(member_id: int, day: date) -> bool:
        return day >= first.get(member_id, start) and not away(member_id, day)

    workday_set = set(workdays)
    done = sum(1 for m, d in done_rows if m in ids and d in workday_set and expected(m, d))
    total = sum(1 for d in workdays for m in ids if expected(m, d))
    if not total:
        return None
    return {"done": done, "total": total, "ratio": done / total}


async def summary_context(
    session: AsyncSession, renderer: Renderer, scope: TeamScope, kind: str
) -> dict[str, Any]:
    """Everything the `summary` template shows for the period a summary held today reviews."""
    day = scope.today
    period = summary_period(kind, day)
    roster = await standings.roster(session, scope.team)
    last = min(period.end, day)
    board = await standings.board(session, scope, Period(period.name, period.start, last), roster)
    previous = await standings.board(session, scope, period.previous(), roster)
    goals = list(
        await session.scalars(
            select(Goal)
            .where(
                Goal.team_id == scope.team.id,
                Goal.period == period.name.value,
                Goal.period_start == period.start,
            )
            .order_by(Goal.id)
        )
    )
    shared = [g for g in goals if g.member_id is None]
    shared.sort(key=lambda g: (g.group_id is not None, g.id))
    personal = [g for g in goals if g.member_id is not None]
    met = []
    for goal in personal:
        actual = board.actual_for(goal)
        member = next((m for m in board.members if m.id == goal.member_id), None)
        if member is not None and actual >= goal.target:
            met.append(
                {
                    "member": person(member),
                    "actual": format_goal_value(scope, goal.metric, actual),
                    "target": format_goal_value(scope, goal.metric, goal.target),
                }
            )
    champion_person = champion_group = None
    if board.team_amount:
        top = board.people("amount")[0]
        member = board.member_by_key(top.standing.key)
        if member is not None:
            champion_person = {"member": person(member), "amount": scope.money(top.standing.amount_minor)}
        groups = board.group_rows("amount")
        if groups and groups[0].standing.amount_minor:
            champion_group = {
                "name": groups[0].standing.name,
                "amount": scope.money(groups[0].standing.amount_minor),
            }
    leaders = await checkins.streak_leaders(
        session, scope.team.id, board.members, last, scope.calendar, limit=5
    )
    prev_total = previous.team_amount
    return {
        "kind": kind,
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "total": scope.money(board.team_amount),
        "deals": board.team_deals,
        "goals": [goal_view(renderer, scope, g, board) for g in shared],
        "previous_total": scope.money(prev_total) if prev_total else None,
        "change_ratio": (board.team_amount - prev_total) / prev_total if prev_total else None,
        "champion_person": champion_person,
        "champion_group": champion_group,
        "participation": await participation_over(session, scope, board.members, period.start, last),
        "streaks": [{"member": person(m), "days": days} for m, days in leaders],
        "personal_met": met,
        "personal_total": len(personal),
        "benchmarks": await week_benchmarks(session, scope, board, last) if kind == "weekly" else [],
    }


LEVEL_WEEKS = 4


async def week_benchmarks(
    session: AsyncSession, scope: TeamScope, board: standings.Board, last: date
) -> list[dict[str, Any]]:
    """The week's 标杆 (best conversion, most improved, longest streak), each with the numbers that chose
    them: deals from the summary's own board, planned calls from the week's check-ins (as exported),
    their level from the four weeks before (as /rank shows each week)."""
    start = board.period.start
    plans = await insights.planned(session, scope.team, start, last)
    calls: dict[int, int] = {}
    for (member_id, _), (status, planned_calls, _) in plans.items():
        if status == "done" and planned_calls is not None:
            calls[member_id] = calls.get(member_id, 0) + planned_calls
    first, after = day_bounds(
        start - timedelta(weeks=LEVEL_WEEKS), start - timedelta(days=1), scope.team.timezone
    )
    before = await stats.member_totals(session, scope.team.id, first, after)
    streaks = await checkins.team_streaks(session, scope.team.id, list(board.members), last, scope.calendar)
    people = [
        judge.WeekFigures(
            id=m.id,
            user_id=m.user_id,
            name=m.name,
            deals=board.totals.get(m.id, (0, 0))[1],
            calls=calls.get(m.id, 0),
            amount_minor=board.totals.get(m.id, (0, 0))[0],
            level_minor=before.get(m.id, (0, 0))[0] // LEVEL_WEEKS,
            streak=streaks.get(m.id, 0),
        )
        for m in board.members
    ]
    by_id = {m.id: m for m in board.members}
    out = []
    for pick in judge.benchmarks(people):
        numbers = dict(pick.numbers)
        for key in ("amount_minor", "level_minor"):
            if key in numbers:
                numbers[key.removesuffix("_minor")] = scope.money(int(numbers.pop(key)))
        out.append({"kind": pick.kind, "member": person(by_id[pick.id]), "numbers": numbers})
    return out


def period_key(kind: str, day: date) -> str:
    return summary_period(kind, day).key

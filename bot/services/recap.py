"""The recap (夕会 / on demand): the period's total vs goal and plan, people, groups, kudos, participation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.periods import Period
from bot.rendering.engine import Renderer
from bot.services import checkins, checkouts, standings
from bot.services.scope import TeamScope, person
from bot.services.views import goal_view, group_views
from bot.storage.orm import Checkin, CheckinAnswer, Goal, Kudos, Leave, Member, Team

KUDOS_MARGIN = timedelta(days=2)


async def planned_amounts(session: AsyncSession, team_id: int, period: Period) -> dict[int, int]:
    """Each member's planned amount from the period's check-ins (their `amount` answers).

    Each check-in's amounts are summed by a correlated subquery, one index lookup per check-in of the
    period: joined instead, PostgreSQL hashes the answers of every check-in ever made.
    """
    amounts = (
        select(func.sum(CheckinAnswer.amount_minor))
        .where(CheckinAnswer.checkin_id == Checkin.id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Checkin.member_id, amounts).where(
            Checkin.team_id == team_id, Checkin.day >= period.start, Checkin.day <= period.end
        )
    )
    planned: dict[int, int] = {}
    for member_id, amount in rows:
        if amount is not None:  # no amount answered
            planned[member_id] = planned.get(member_id, 0) + int(amount)
    return planned


async def on_leave_ids(session: AsyncSession, team_id: int, day) -> set[int]:
    rows = await session.scalars(
        select(Leave.member_id)
        .join(Member, Member.id == Leave.member_id)
        .where(
            Member.team_id == team_id,
            Leave.cancelled.is_(False),
            Leave.start_day <= day,
            Leave.end_day >= day,
        )
    )
    return set(rows)


async def participation(
    session: AsyncSession, scope: TeamScope, members: list[standings.TeamMember], day
) -> dict[str, Any]:
    """Who checked in on a day, out of those expected to (active and not on leave)."""
    away = await on_leave_ids(session, scope.team.id, day)
    expected = [m for m in members if m.id not in away]
    done = set(
        await session.scalars(
            select(Checkin.member_id).where(
                Checkin.team_id == scope.team.id, Checkin.day == day, Checkin.status == "done"
            )
        )
    )
    count = sum(1 for m in expected if m.id in done)
    return {
        "done": count,
        "total": len(expected),
        "ratio": (count / len(expected)) if expected else 0.0,
        "missing": [m for m in expected if m.id not in done],
        "on_leave": [m for m in members if m.id in away],
    }


def names_in_channel(team: Team) -> bool:
    """`missing_names = "channel"`: who has not checked in is named in the channel (else to leaders only)."""
    return (team.settings or {}).get("missing_names", "leaders") == "channel"


async def recap_context(
    session: AsyncSession, renderer: Renderer, scope: TeamScope, period: Period, *, private: bool = False
) -> dict:
    """The recap of `period`; `private` (a leader's own DM) names who has not checked in whatever
    `missing_names` says."""
    roster = await standings.roster(session, scope.team)
    board = await standings.board(session, scope, period, roster)
    team_goals = [g for g in await standings.goals_covering(session, scope) if g.subject == "team"]
    goals = [g for g in team_goals if g.period == period.name.value]
    planned = await planned_amounts(session, scope.team.id, period)
    people_rows = board.people("amount")
    people = []
    for row in people_rows:
        member = board.member_by_key(row.standing.key)
        if member is None or (row.value == 0 and member.id not in planned):
            continue
        people.append(
            {
                "member": person(member),
                "planned": scope.money(planned[member.id]) if member.id in planned else None,
                "actual": scope.money(row.standing.amount_minor),
                "deals": row.standing.deals,
            }
        )
    groups = group_views(scope, board)
    # `day` decides; the instants around the period (a margin for a team whose timezone changed) let
    # the (team_id, created_at) index start at the period instead of at the team's first kudos.
    first, after = period.utc_bounds(scope.team.timezone)
    kudos_rows = await session.scalars(
        select(Kudos)
        .where(
            Kudos.team_id == scope.team.id,
            Kudos.created_at >= first - KUDOS_MARGIN,
            Kudos.created_at < after + KUDOS_MARGIN,
            Kudos.day >= period.start,
            Kudos.day <= period.end,
        )
        .order_by(Kudos.created_at, Kudos.id)
        .limit(20)
    )
    by_id = {m.id: m for m in board.members}
    kudos = [
        {
            "giver": person(by_id[k.giver_id]) if k.giver_id in by_id else {"user_id": "", "name": "?"},
            "receivers": [person(by_id[k.receiver_id])] if k.receiver_id in by_id else [],
            "reason": k.reason,
        }
        for k in kudos_rows
    ]
    planned_total = sum(planned.values())
    part = None
    daily: dict[str, Any] = {}
    if period.name.value == "today":
        raw = await participation(session, scope, board.members, period.start)
        part = {
            "done": raw["done"],
            "total": raw["total"],
            "ratio": raw["ratio"],
            "missing": [person(m) for m in raw["missing"]] if private or names_in_channel(scope.team) else [],
        }
        daily = await _day_extras(session, renderer, scope, roster, team_goals)
        amounts = {}
        for row in people_rows:
            member = board.member_by_key(row.standing.key)
            if member is not None:
                amounts[member.id] = row.standing.amount_minor
        shared = await checkouts.best_answers(
            session, scope.team, period.start, {m.id: m for m in board.members}, amounts
        )
        daily["sharing"] = checkouts.shared_views(shared)
    return {
        "period": period.name.value,
        "period_label": renderer.render(
            "period_label",
            scope.locale,
            period=period.name.value,
            start=period.start.isoformat(),
            end=period.end.isoformat(),
        ).fallback_text,
        "total": scope.money(board.team_amount),
        "deals": board.team_deals,
        "goal": goal_view(renderer, scope, goals[0], board) if goals else None,
        "planned_total": scope.money(planned_total) if planned else None,
        "vs_plan_ratio": (board.team_amount / planned_total) if planned_total else None,
        "people": people,
        "groups": groups,
        "kudos": kudos,
        "participation": part,
        **daily,
    }


async def _day_extras(
    session: AsyncSession,
    renderer: Renderer,
    scope: TeamScope,
    roster: standings.Roster,
    team_goals: list[Goal],
) -> dict[str, Any]:
    """What only the day's recap adds: week and month pace (against goals when set), streak leaders."""
    pace = []
    for name in ("week", "month"):
        wider = await standings.board(session, scope, scope.so_far(scope.period(name)), roster)
        goals = [g for g in team_goals if g.period == name]
        view = goal_view(renderer, scope, goals[0], wider) if goals else None
        pace.append(
            {
                "period": name,
                "total": scope.money(wider.team_amount),
                "deals": wider.team_deals,
                "goal": view,
            }
        )
    leaders = await checkins.streak_leaders(
        session, scope.team.id, roster.members, scope.today, scope.calendar
    )
    return {"pace": pace, "streaks": [{"member": person(m), "days": days} for m, days in leaders]}

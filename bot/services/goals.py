"""Goal rows: a subject's goals for a period, setting one and clearing them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.domain.events import GoalSet
from bot.domain.periods import Period
from bot.storage.orm import Goal, Group, Member, Team
from bot.storage.uow import UnitOfWork


def subject_key(subject: str, group: Group | None, member: Member) -> str:
    """How a goal names what it is for: the team, a group or a member."""
    if subject == "team":
        return "team"
    if subject == "group":
        return f"group:{group.id if group else ''}"
    return f"member:{member.id}"


async def goals_of(
    uow: UnitOfWork, team: Team, subject: str, period: Period, metric: str | None
) -> list[Goal]:
    """The subject's goals for the period: the one of `metric`, or every metric's when None."""
    query = select(Goal).where(
        Goal.team_id == team.id,
        Goal.subject == subject,
        Goal.period == period.name.value,
        Goal.period_start == period.start,
    )
    if metric is not None:
        query = query.where(Goal.metric == metric)
    return list(await uow.session.scalars(query.order_by(Goal.id)))


async def set_goal(
    uow: UnitOfWork, team: Team, wanted: Goal, period: Period, target: int, by: Member, now: datetime
) -> tuple[Goal, int | None]:
    """Store `wanted` (a Goal not yet stored, naming subject, metric and period) with `target`, or change
    the stored one's target (`period` is the one `wanted` names); the goal, and its previous target when
    that changed."""
    found = await goals_of(uow, team, wanted.subject, period, wanted.metric)
    goal = found[0] if found else None
    previous = goal.target if goal is not None and goal.target != target else None
    if goal is None:
        goal = wanted
        goal.team_id, goal.created_at = team.id, now
        uow.session.add(goal)
    goal.target = target
    goal.set_by_id = by.id
    await uow.session.flush()
    uow.add_event(GoalSet(team_id=team.id, goal_id=goal.id))
    return goal, previous


async def clear(uow: UnitOfWork, goals: list[Goal]) -> None:
    for goal in goals:
        await uow.session.delete(goal)
    await uow.session.flush()

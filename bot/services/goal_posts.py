"""Posting one goal, with its progress, to the team's channel (a leader's "post to channel")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.delivery.outbox import enqueue
from bot.rendering.engine import Renderer
from bot.services import standings
from bot.services.directory import team_channel
from bot.services.scope import TeamScope, person
from bot.services.views import goal_view
from bot.storage.orm import Goal, Member
from bot.storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class GoalPost:
    view: dict[str, Any]  # the goal as templates show it
    posted: bool  # False: the same goal with the same progress is in the channel already


async def post_goal(
    uow: UnitOfWork, renderer: Renderer, scope: TeamScope, goal: Goal, poster: Member, now: datetime
) -> GoalPost:
    """The goal and its progress now, queued for the team's channel in the caller's transaction.

    Keyed by the goal, its target and its progress: a second click (or a second leader) while nothing
    has moved adds nothing; after a deal moves it, it may be posted again."""
    board = await standings.board(uow.session, scope, scope.period(goal.period, goal.period_start))
    view = goal_view(renderer, scope, goal, board)
    message = renderer.render("goal_post", scope.team.locale, goal=view, poster=person(poster))
    posted = await enqueue(
        uow.session,
        channel=team_channel(scope.team),
        message=message,
        dedupe_key=f"goal-post:{goal.id}:{goal.target}:{board.actual_for(goal)}",
        now=now,
        team_id=scope.team.id,
    )
    return GoalPost(view, posted)

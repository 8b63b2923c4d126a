"""Template contexts built from the database: the shape every post and reply template expects."""

from __future__ import annotations

from typing import Any

from bot.domain.goals import GoalProgress
from bot.domain.leaderboard import RankRow, per_capita
from bot.rendering.engine import Renderer
from bot.services.scope import TeamScope
from bot.services.standings import Board, progress_of
from bot.storage.orm import Goal


def goal_label(renderer: Renderer, scope: TeamScope, goal: Goal, board: Board) -> str:
    """'本月团队目标' / 'Team goal this month' — words from the goal_label template."""
    subject_name = ""
    if goal.member_id is not None:
        member = next((m for m in board.members if m.id == goal.member_id), None)
        subject_name = member.name if member else "?"
    elif goal.group_id is not None:
        group = next((g for g in board.groups if g.id == goal.group_id), None)
        subject_name = group.name if group else "?"
    kind = goal.subject.split(":")[0]
    message = renderer.render(
        "goal_label", scope.locale, kind=kind, name=subject_name, period=goal.period, metric=goal.metric
    )
    return message.fallback_text


def format_goal_value(scope: TeamScope, metric: str, value: int) -> str:
    return scope.money(value) if metric == "amount" else str(value)


def goal_view(renderer: Renderer, scope: TeamScope, goal: Goal, board: Board) -> dict[str, Any]:
    actual = board.actual_for(goal)
    progress: GoalProgress = progress_of(goal, actual, scope)
    return {
        "label": goal_label(renderer, scope, goal, board),
        "actual": format_goal_value(scope, goal.metric, actual),
        "target": format_goal_value(scope, goal.metric, goal.target),
        "ratio": progress.ratio,
        "pace": (
            format_goal_value(scope, goal.metric, progress.daily_pace)
            if progress.daily_pace is not None
            else None
        ),
        "workdays_left": progress.workdays_left,
        "reached": progress.reached,
    }


def group_views(scope: TeamScope, board: Board) -> list[dict[str, Any]]:
    """The group race of a post, best first; a group with nothing yet has no place (no medals at ¥0)."""
    views = []
    for row in board.group_rows("amount"):
        view = group_view(scope, board, row)
        if row.value <= 0:
            view["rank"] = None
        views.append(view)
    return views


def group_view(scope: TeamScope, board: Board, row: RankRow) -> dict[str, Any]:
    """One group on a board, as the morning post, recap and deal announcement show it (小组PK)."""
    group = board.group_by_key(row.standing.key)
    return {
        "rank": row.rank,
        "name": row.standing.name,
        "slogan": group.slogan if group else "",
        "total": scope.money(row.standing.amount_minor),
        "per_capita": scope.money(per_capita(row.standing.amount_minor, row.standing.members)),
    }

"""/goal — show goals with progress, or set a SMART one (a number, a metric and a period)."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.commands.context import CommandContext
from bot.commands.deals import may_act_for, parse_money_argument
from bot.commands.errors import InvalidArgument, PermissionDenied
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.domain.events import GoalSet
from bot.domain.periods import Period, PeriodName, parse_period
from bot.messages import OutgoingMessage
from bot.services import directory, standings
from bot.services.views import format_goal_value, goal_label, goal_view
from bot.storage.orm import Goal, Group, Member

TEAM_WORDS = {"team", "团队", "全队", "全团队", "部门"}
GROUP_WORDS = {"group", "小组", "组"}
SELF_WORDS = {"me", "my", "mine", "myself", "我", "自己", "个人"}
DEAL_WORDS = {"deals", "deal", "orders", "单", "笔", "单数", "单量"}
AMOUNT_WORDS = {"amount", "金额", "业绩", "销售额"}
CLEAR_WORDS = {"clear", "remove", "delete", "none", "清除", "删除", "取消"}
_COUNT_WITH_UNIT = re.compile(r"^(\d+)(单|笔)$")
_ZERO = re.compile(r"^[¥￥$]?0+(\.0*)?(万|w|k|千|单|笔)?$")


async def goal_command(ctx: CommandContext) -> OutgoingMessage:
    if not ctx.args:
        return await show_goals(ctx)
    return await set_goal(ctx)


async def show_goals(ctx: CommandContext) -> OutgoingMessage:
    scope = ctx.scope
    goals = await standings.goals_covering(ctx.session, scope)
    views = []
    boards: dict[tuple[str, object], standings.Board] = {}
    for goal in goals:
        key = (goal.period, goal.period_start)
        if key not in boards:
            boards[key] = await standings.board(
                ctx.session, scope, scope.period(goal.period, goal.period_start)
            )
        views.append(goal_view(ctx.core.renderer, scope, goal, boards[key]))
    return ctx.reply("goal_list", goals=views)


async def set_goal(ctx: CommandContext) -> OutgoingMessage:
    args = list(ctx.args)
    head = args[0].lower()
    subject, group, member = "member", None, ctx.member
    if head in TEAM_WORDS:
        subject = "team"
        args.pop(0)
        ctx.require("leader")
    elif head in GROUP_WORDS:
        args.pop(0)
        if not args:
            raise InvalidArgument("group", "", "group.unknown")
        name = args.pop(0)
        group = await directory.group_named(ctx.session, ctx.team, name)
        if group is None:
            raise InvalidArgument("group", name, "group.unknown")
        subject = "group"
        if not (ctx.is_at_least("leader") or (ctx.member.role == "lead" and ctx.member.group_id == group.id)):
            raise PermissionDenied(command="goal", required="lead")
    elif head in SELF_WORDS:
        args.pop(0)
    elif (other := await ctx.take_member(args)) is not None:
        member = other
        if not may_act_for(ctx.member, member):
            raise PermissionDenied(command="goal", required="lead")

    number, metric, period, named_metric, clear = None, "amount", None, False, False
    for token in args:
        low = token.lower()
        counted = _COUNT_WITH_UNIT.match(low)
        if parse_period(low) is not None and period is None:
            period = parse_period(low)
        elif low in DEAL_WORDS:
            metric, named_metric = "deals", True
        elif low in AMOUNT_WORDS:
            metric, named_metric = "amount", True
        elif low in CLEAR_WORDS or (number is None and _ZERO.match(low)):
            clear = True
        elif counted and number is None:
            number, metric = counted.group(1), "deals"
        elif number is None and any(ch.isdigit() for ch in token):
            number = token
        else:
            raise InvalidArgument("goal", token, "goal.vague")
    if clear and period is not None:
        return await _clear_goals(ctx, subject, group, member, period, metric if named_metric else None)
    if number is None or period is None:
        raise InvalidArgument("goal", ctx.rest, "goal.vague")
    if metric == "deals":
        if not number.isdigit() or int(number) <= 0:
            raise InvalidArgument("target", number, "amount.not_positive")
        target = int(number)
    else:
        target = parse_money_argument(ctx, number, "target").minor

    scope = ctx.scope
    period_obj = scope.period(period)
    subject_key = _subject_key(subject, group, member)
    found = await _goals_of(ctx, subject_key, period_obj, metric)
    goal = found[0] if found else None
    previous = goal.target if goal is not None and goal.target != target else None
    if goal is None:
        goal = Goal(
            team_id=ctx.team.id,
            subject=subject_key,
            group_id=group.id if group else None,
            member_id=member.id if subject == "member" else None,
            metric=metric,
            period=period_obj.name.value,
            period_start=period_obj.start,
            period_end=period_obj.end,
            target=target,
            created_at=ctx.now,
        )
        ctx.session.add(goal)
    goal.target = target
    goal.set_by_id = ctx.member.id
    await ctx.session.flush()
    ctx.uow.add_event(GoalSet(team_id=ctx.team.id, goal_id=goal.id))
    board = await standings.board(ctx.session, scope, period_obj)
    view = goal_view(ctx.core.renderer, scope, goal, board)
    return ctx.reply(
        "goal_set",
        goal=view,
        label=goal_label(ctx.core.renderer, scope, goal, board),
        previous=format_goal_value(scope, metric, previous) if previous is not None else None,
    )


def _subject_key(subject: str, group: Group | None, member: Member) -> str:
    return {
        "team": "team",
        "group": f"group:{group.id if group else ''}",
        "member": f"member:{member.id}",
    }[subject]


async def _goals_of(ctx: CommandContext, subject_key: str, period: Period, metric: str | None) -> list[Goal]:
    """The subject's goals for the period: the one of `metric`, or every metric's when None."""
    query = select(Goal).where(
        Goal.team_id == ctx.team.id,
        Goal.subject == subject_key,
        Goal.period == period.name.value,
        Goal.period_start == period.start,
    )
    if metric is not None:
        query = query.where(Goal.metric == metric)
    return list(await ctx.session.scalars(query.order_by(Goal.id)))


async def _clear_goals(
    ctx: CommandContext,
    subject: str,
    group: Group | None,
    member: Member,
    period: PeriodName,
    metric: str | None,
) -> OutgoingMessage:
    """`/goal team 0 month`, `/goal team clear month`: remove the goal(s), saying which and what they were."""
    scope = ctx.scope
    period_obj = scope.period(period)
    subject_key = _subject_key(subject, group, member)
    found = await _goals_of(ctx, subject_key, period_obj, metric)
    board = await standings.board(ctx.session, scope, period_obj)
    renderer = ctx.core.renderer
    removed = [
        {
            "label": goal_label(renderer, scope, g, board),
            "target": format_goal_value(scope, g.metric, g.target),
        }
        for g in found
    ]
    for goal in found:
        await ctx.session.delete(goal)
    await ctx.session.flush()
    # Nothing to remove: the label of the goal that was asked for, from one not stored.
    wanted = Goal(
        subject=subject_key,
        group_id=group.id if group else None,
        member_id=member.id if subject == "member" else None,
        metric=metric or "amount",
        period=period_obj.name.value,
    )
    return ctx.reply("goal_cleared", removed=removed, label=goal_label(renderer, scope, wanted, board))


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("goal", ("目标", "goals", "target"), goal_command))

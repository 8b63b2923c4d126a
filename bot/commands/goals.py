"""/goal — show goals with progress, set a SMART one (a number, a metric and a period), or post one to
the team channel (`/goal post ID`, the "post to channel" button under a goal)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.commands.arguments import ABSENT, MEMBER, METRIC_WORDS, Arg, find_group, money_of
from bot.commands.context import CommandContext
from bot.commands.deals import may_act_for
from bot.commands.errors import InvalidArgument, MissingArgument, PermissionDenied, Refused
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.domain.periods import PeriodName, parse_period
from bot.messages import OutgoingMessage
from bot.services import goal_posts, goals, standings
from bot.services.views import format_goal_value, goal_label, goal_view
from bot.storage.orm import Goal, Group, Member

TEAM_WORDS = {"team", "团队", "全队", "全团队", "部门"}
GROUP_WORDS = {"group", "小组", "组"}
SELF_WORDS = {"me", "my", "mine", "myself", "我", "自己", "个人"}
POST_WORDS = ("post", "share", "发布", "公布", "发群", "分享")
CLEAR_WORDS = {"clear", "remove", "delete", "none", "清除", "删除", "取消"}
_COUNT_WITH_UNIT = re.compile(r"^(\d+)(单|笔)$")
_ZERO = re.compile(r"^[¥￥$]?0+(\.0*)?(万|w|k|千|单|笔)?$")


@dataclass(frozen=True, slots=True)
class Subject:
    """What a goal is for: the team, a group, or a member (the speaker unless someone is named)."""

    kind: str  # "team", "group" or "member"
    group: Group | None = None
    member: Member | None = None


@dataclass(frozen=True, slots=True)
class Terms:
    """The rest of a goal in any order: a number, a metric, a period, or clear."""

    number: str | None = None
    metric: str = "amount"
    named_metric: bool = False
    period: PeriodName | None = None
    clear: bool = False


class SubjectArg:
    kind = "subject"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        head = tokens[0].lower() if tokens else ""
        if head in TEAM_WORDS:
            tokens.pop(0)
            return Subject("team")
        if head in GROUP_WORDS:
            tokens.pop(0)
            if not tokens:
                raise MissingArgument("group")
            return Subject("group", group=await find_group(ctx, tokens.pop(0)))
        if head in SELF_WORDS:
            tokens.pop(0)
            return Subject("member", member=ctx.member)
        other = await MEMBER.take(ctx, tokens, "member", False)
        return ABSENT if other is ABSENT else Subject("member", member=other)  # type: ignore[arg-type]


class GoalId:
    """A goal's number, as its "post to channel" button carries it: 7 or #7."""

    kind = "id"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        raw = tokens[0].lstrip("#")
        if not raw.isdigit():
            raise InvalidArgument(name, tokens[0], "goal.id")
        tokens.pop(0)
        return int(raw)


class TermsArg:
    kind = "goal"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        terms = read_terms(tokens)
        tokens.clear()
        return terms


def _term(terms: Terms, token: str) -> Terms | None:
    """`terms` with one more word read into it, or None when the word says nothing a goal can use."""
    low = token.lower()
    counted = _COUNT_WITH_UNIT.match(low)
    metric = METRIC_WORDS.get(low)
    if parse_period(low) is not None and terms.period is None:
        return Terms(terms.number, terms.metric, terms.named_metric, parse_period(low), terms.clear)
    if metric in ("amount", "deals"):
        return Terms(terms.number, metric, True, terms.period, terms.clear)
    if low in CLEAR_WORDS or (terms.number is None and _ZERO.match(low)):
        return Terms(terms.number, terms.metric, terms.named_metric, terms.period, True)
    if terms.number is None and counted:
        return Terms(counted.group(1), "deals", terms.named_metric, terms.period, terms.clear)
    if terms.number is None and any(ch.isdigit() for ch in token):
        return Terms(token, terms.metric, terms.named_metric, terms.period, terms.clear)
    return None


def read_terms(tokens: list[str]) -> Terms:
    """A number, a metric and a period in any order (`30万 本月`, `50 单 month`); a word that is none of
    them makes the goal vague."""
    terms = Terms()
    for token in tokens:
        found = _term(terms, token)
        if found is None:
            raise InvalidArgument("goal", token, "goal.vague")
        terms = found
    return terms


def check_subject(ctx: CommandContext, subject: Subject) -> None:
    """Leaders set the team's goals; a group's lead their group's; a lead their group's members'."""
    if subject.kind == "team":
        ctx.require("leader")
    elif subject.kind == "group":
        assert subject.group is not None
        own_group = ctx.member.role == "lead" and ctx.member.group_id == subject.group.id
        if not (ctx.is_at_least("leader") or own_group):
            raise PermissionDenied(command="goal", required="lead")
    elif subject.member is not None and not may_act_for(ctx.member, subject.member):
        raise PermissionDenied(command="goal", required="lead")


async def may_post(ctx: CommandContext, goal: Goal) -> bool:
    """Posting a goal speaks for the team: leaders post any goal, a group's lead their group's and their
    group members' goals; members none (not even their own)."""
    if not ctx.is_at_least("lead"):
        return False
    if ctx.is_at_least("leader"):
        return True
    if goal.member_id is not None:
        owner = await ctx.session.get(Member, goal.member_id)
        return owner is not None and may_act_for(ctx.member, owner)
    return goal.group_id is not None and goal.group_id == ctx.member.group_id


async def post_goal(ctx: CommandContext, goal_id: int) -> OutgoingMessage:
    """`/goal post ID`: the goal with its progress now, in the team channel."""
    goal = await ctx.session.get(Goal, goal_id)
    if goal is None or goal.team_id != ctx.team.id:
        raise Refused("goal_not_found")
    if not await may_post(ctx, goal):
        raise PermissionDenied(command="goal post", required="leader" if goal.subject == "team" else "lead")
    if goal.period_end < ctx.scope.today:  # a button from an earlier period: its label says "this month"
        raise Refused("goal_over")
    post = await goal_posts.post_goal(ctx.uow, ctx.core.renderer, ctx.scope, goal, ctx.member, ctx.now)
    view = post.view
    return ctx.reply(
        "goal_posted", posted=post.posted, label=view["label"], actual=view["actual"], target=view["target"]
    )


async def goal_command(ctx: CommandContext, subject: Subject | None, terms: Terms | None) -> OutgoingMessage:
    if subject is None and terms is None:
        return await show_goals(ctx)
    subject = subject or Subject("member", member=ctx.member)
    check_subject(ctx, subject)
    terms = terms or Terms()
    if terms.clear and terms.period is not None:
        return await clear_goals(ctx, subject, terms.period, terms.metric if terms.named_metric else None)
    if terms.number is None or terms.period is None:
        raise InvalidArgument("goal", ctx.rest, "goal.vague")
    return await set_goal(ctx, subject, terms.period, terms.metric, target_of(ctx, terms))


def target_of(ctx: CommandContext, terms: Terms) -> int:
    """The target in the goal's unit: deals counted, or an amount in minor units."""
    assert terms.number is not None
    if terms.metric != "deals":
        return money_of(ctx, terms.number, "target").minor
    if not terms.number.isdigit() or int(terms.number) <= 0:
        raise InvalidArgument("target", terms.number, "amount.not_positive")
    return int(terms.number)


async def show_goals(ctx: CommandContext) -> OutgoingMessage:
    scope = ctx.scope
    views = []
    boards: dict[tuple[str, object], standings.Board] = {}
    for goal in await standings.goals_covering(ctx.session, scope):
        key = (goal.period, goal.period_start)
        if key not in boards:
            boards[key] = await standings.board(
                ctx.session, scope, scope.period(goal.period, goal.period_start)
            )
        view = goal_view(ctx.core.renderer, scope, goal, boards[key])
        views.append({**view, "id": goal.id, "postable": await may_post(ctx, goal)})
    return ctx.reply("goal_list", goals=views)


def _wanted(ctx: CommandContext, subject: Subject, period: PeriodName, metric: str | None) -> Goal:
    """The goal asked for, not stored: what is set, or named when there is nothing to clear."""
    span = ctx.scope.period(period)
    member = subject.member or ctx.member
    return Goal(
        subject=goals.subject_key(subject.kind, subject.group, member),
        group_id=subject.group.id if subject.group else None,
        member_id=member.id if subject.kind == "member" else None,
        metric=metric or "amount",
        period=span.name.value,
        period_start=span.start,
        period_end=span.end,
    )


async def set_goal(
    ctx: CommandContext, subject: Subject, period: PeriodName, metric: str, target: int
) -> OutgoingMessage:
    scope = ctx.scope
    span = scope.period(period)
    wanted = _wanted(ctx, subject, period, metric)
    goal, previous = await goals.set_goal(ctx.uow, ctx.team, wanted, span, target, ctx.member, ctx.now)
    board = await standings.board(ctx.session, scope, span)
    view = goal_view(ctx.core.renderer, scope, goal, board)
    return ctx.reply(
        "goal_set",
        goal={**view, "id": goal.id, "postable": await may_post(ctx, goal)},
        label=goal_label(ctx.core.renderer, scope, goal, board),
        previous=format_goal_value(scope, metric, previous) if previous is not None else None,
    )


async def clear_goals(
    ctx: CommandContext, subject: Subject, period: PeriodName, metric: str | None
) -> OutgoingMessage:
    """`/goal team 0 month`, `/goal team clear month`: remove the goal(s), saying which and what they were."""
    scope = ctx.scope
    span = scope.period(period)
    wanted = _wanted(ctx, subject, period, metric)
    found = await goals.goals_of(ctx.uow, ctx.team, wanted.subject, span, metric)
    board = await standings.board(ctx.session, scope, span)
    renderer = ctx.core.renderer
    removed = [
        {
            "label": goal_label(renderer, scope, g, board),
            "target": format_goal_value(scope, g.metric, g.target),
        }
        for g in found
    ]
    await goals.clear(ctx.uow, found)
    return ctx.reply("goal_cleared", removed=removed, label=goal_label(renderer, scope, wanted, board))


SPEC = command(
    "goal",
    ("目标", "goals", "target"),
    # Members are refused before the id is read: the same clear line whichever button they click.
    Form(
        POST_WORDS,
        (Arg("goal_id", GoalId(), label="id"),),
        post_goal,
        min_role="lead",
        denied_as="goal post",
    ),
    Form(
        (),
        (
            Arg("subject", SubjectArg(), optional=True),
            Arg("terms", TermsArg(), optional=True, label="goal", bracket=False),
        ),
        goal_command,
    ),
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

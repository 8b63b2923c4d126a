"""/team pk — a leader starts, lists and stops named group competitions; /rank pk shows one's standings."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, MissingArgument, PermissionDenied, Refused
from bot.domain.periods import InvalidDay, parse_day_range
from bot.messages import OutgoingMessage
from bot.services import competitions, directory
from bot.storage.orm import Competition, Group

START_WORDS = {"start", "new", "create", "开始", "发起", "创建", "新建"}
STOP_WORDS = {"stop", "end", "cancel", "结束", "停止", "取消"}
LIST_WORDS = {"list", "ls", "show", "列表", "查看"}
METRIC_WORDS = {
    "amount": "amount",
    "金额": "amount",
    "业绩": "amount",
    "per-capita": "per_capita",
    "per_capita": "per_capita",
    "percapita": "per_capita",
    "人均": "per_capita",
    "deals": "deals",
    "单数": "deals",
    "单量": "deals",
}
MAX_NAME = 100
STAKE_WORDS = {"stake", "赌注", "奖惩", "彩头"}
MAX_STAKE = 200


async def competition_action(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    """`pk start NAME RANGE [GROUP…] [人均|单数] [stake "PRIZE OR FORFEIT"]`, `pk stop NAME`, `pk list`
    (the default)."""
    action = args[0].lower() if args else "list"
    rest = args[1:]
    if action in LIST_WORDS:
        return await list_competitions(ctx)
    if action in START_WORDS:
        _leader_only(ctx, "team pk start")
        return await start(ctx, rest)
    if action in STOP_WORDS:
        _leader_only(ctx, "team pk stop")
        return await stop(ctx, rest)
    raise InvalidArgument("action", args[0], "subject.unknown")


def _leader_only(ctx: CommandContext, command: str) -> None:
    if not ctx.is_at_least("leader"):
        raise PermissionDenied(command=command, required="leader")


async def start(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    if not args:
        raise MissingArgument("competition")
    name = args[0][:MAX_NAME]
    if len(args) < 2:
        raise MissingArgument("dates")
    today = ctx.scope.today
    try:
        first, last = parse_day_range(args[1], today)
    except InvalidDay as error:
        raise InvalidArgument("dates", args[1], f"day.{error.code}") from None
    if last < today:
        raise InvalidArgument("dates", args[1], "pk.past")
    metric = "amount"
    stake = ""
    wanted: list[str] = []
    tokens = iter(args[2:])
    for token in tokens:
        if token.lower() in METRIC_WORDS:
            metric = METRIC_WORDS[token.lower()]
        elif token.lower() in STAKE_WORDS:
            stake = next(tokens, "").strip()[:MAX_STAKE]
            if not stake:
                raise MissingArgument("stake")
        else:
            wanted.append(token)
    groups = await _groups(ctx, wanted)
    if len(groups) < 2:
        raise InvalidArgument("groups", " ".join(g.name for g in groups), "pk.too_few_groups")
    if any(c.name.lower() == name.lower() for c in await competitions.active_of(ctx.session, ctx.team)):
        raise Refused("pk_name_taken", name=name)
    competition = competitions.create(
        ctx.session,
        ctx.team,
        name=name,
        start=first,
        end=last,
        groups=groups,
        metric=metric,
        by=ctx.member,
        now=ctx.now,
        stake=stake,
    )
    return ctx.reply(
        "pk_started",
        competition=competitions.competition_view(competition, today),
        groups=[{"name": g.name, "slogan": g.slogan} for g in groups],
    )


async def _groups(ctx: CommandContext, names: list[str]) -> list[Group]:
    """The named groups in the order given (each once), or all the team's groups when none is named."""
    if not names:
        return await directory.groups_of(ctx.session, ctx.team)
    chosen: list[Group] = []
    for name in names:
        group = await directory.group_named(ctx.session, ctx.team, name)
        if group is None:
            raise InvalidArgument("group", name, "group.unknown")
        if group not in chosen:
            chosen.append(group)
    return chosen


async def stop(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    if not args:
        raise MissingArgument("competition")
    competition = await _active_named(ctx, " ".join(args))
    competitions.stop(competition, ctx.now)
    return ctx.reply("pk_stopped", competition=competitions.competition_view(competition, ctx.scope.today))


async def _active_named(ctx: CommandContext, name: str) -> Competition:
    for competition in await competitions.active_of(ctx.session, ctx.team):
        if competition.name.lower() == name.lower():
            return competition
    raise InvalidArgument("competition", name, "pk.unknown")


async def list_competitions(ctx: CommandContext) -> OutgoingMessage:
    today = ctx.scope.today
    groups = {g.id: g.name for g in await directory.groups_of(ctx.session, ctx.team)}

    def view(competition: Competition) -> dict:
        return {
            **competitions.competition_view(competition, today),
            "groups": [groups[i] for i in competition.group_ids if i in groups],
        }

    return ctx.reply(
        "pk_list",
        active=[view(c) for c in await competitions.active_of(ctx.session, ctx.team)],
        ended=[view(c) for c in await competitions.recent_ended(ctx.session, ctx.team)],
    )


async def competition_board(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    """`/rank pk [NAME]`: the named competition, or the running one ending first; anyone may look."""
    session, team = ctx.session, ctx.team
    running = await competitions.active_of(session, team)
    if args:
        name = " ".join(args)
        competition = await competitions.named(session, team, name)
        if competition is None:
            raise InvalidArgument("competition", name, "pk.unknown")
    elif running:
        competition = running[0]
    else:
        return ctx.reply("pk_board", competition=None, rows=[], own=None, others=[])
    scope = ctx.scope
    board = await competitions.board_of(session, team, competition)
    rows = competitions.row_views(scope, board, board.rows())
    own_key = f"group:{ctx.member.group_id}" if ctx.member.group_id else None
    return ctx.reply(
        "pk_board",
        competition=competitions.competition_view(competition, scope.today),
        rows=rows,
        own=next((r for r in rows if r["key"] == own_key), None),
        others=[c.name for c in running if c.id != competition.id],
    )

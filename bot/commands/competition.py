"""/team pk — a leader starts, lists and stops named group competitions; /rank pk shows one's standings."""

from __future__ import annotations

from datetime import date

from bot.commands.arguments import WORDS, Arg, Dates, Text
from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, MissingArgument, Refused
from bot.commands.forms import Form
from bot.messages import OutgoingMessage
from bot.services import competitions, directory
from bot.storage.orm import Competition, Group

START_WORDS = ("start", "new", "create", "开始", "发起", "创建", "新建")
STOP_WORDS = ("stop", "end", "cancel", "结束", "停止", "取消")
LIST_WORDS = ("list", "ls", "show", "列表", "查看")
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


async def list_or_refuse(ctx: CommandContext, extra: list[str] | None) -> OutgoingMessage:
    """`pk` alone lists; a word no form knows is refused, not taken for `list`."""
    if extra:
        raise InvalidArgument("action", extra[0], "subject.unknown")
    return await list_competitions(ctx)


def read_options(tokens: list[str]) -> tuple[str, str, list[str]]:
    """`[GROUP…] [人均|单数] [stake "PRIZE"]` in any order: the metric, the stake and the group names."""
    metric, stake, wanted = "amount", "", []
    words = iter(tokens)
    for token in words:
        if token.lower() in METRIC_WORDS:
            metric = METRIC_WORDS[token.lower()]
        elif token.lower() in STAKE_WORDS:
            stake = next(words, "").strip()[:MAX_STAKE]
            if not stake:
                raise MissingArgument("stake")
        else:
            wanted.append(token)
    return metric, stake, wanted


async def start(
    ctx: CommandContext, competition: str, dates: tuple[date, date], options: list[str] | None
) -> OutgoingMessage:
    first, last = dates
    metric, stake, wanted = read_options(options or [])
    groups = await _groups(ctx, wanted)
    if len(groups) < 2:
        raise InvalidArgument("groups", " ".join(g.name for g in groups), "pk.too_few_groups")
    if any(
        c.name.lower() == competition.lower() for c in await competitions.active_of(ctx.session, ctx.team)
    ):
        raise Refused("pk_name_taken", name=competition)
    created = competitions.create(
        ctx.session,
        ctx.team,
        name=competition,
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
        competition=competitions.competition_view(created, ctx.scope.today),
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


async def stop(ctx: CommandContext, competition: str) -> OutgoingMessage:
    found = await _active_named(ctx, competition)
    competitions.stop(found, ctx.now)
    return ctx.reply("pk_stopped", competition=competitions.competition_view(found, ctx.scope.today))


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


async def competition_board(ctx: CommandContext, name: str | None) -> OutgoingMessage:
    """`/rank pk [NAME]`: the named competition, or the running one ending first; anyone may look."""
    session, team = ctx.session, ctx.team
    running = await competitions.active_of(session, team)
    if name:
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


PK_FORMS = (
    Form(LIST_WORDS, (), list_competitions),
    Form(
        START_WORDS,
        (
            Arg("competition", Text(max_len=MAX_NAME, one_word=True, cut=True)),
            Arg("dates", Dates(past_reason="pk.past")),
            Arg("options", WORDS, optional=True, label="pk_options", bracket=False),
        ),
        start,
        min_role="leader",
        denied_as="team pk start",
    ),
    Form(
        STOP_WORDS,
        (Arg("competition", Text(max_len=None)),),
        stop,
        min_role="leader",
        denied_as="team pk stop",
    ),
    Form((), (Arg("extra", WORDS, optional=True, label=""),), list_or_refuse),
)
"""`/team pk start NAME RANGE [GROUP…] [人均|单数] [stake "PRIZE"]`, `pk stop NAME`, `pk list` (the default);
anyone may list."""

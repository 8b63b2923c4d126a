"""/recap — the evening recap on demand, for today, this week or this month; `/recap pin` for leaders."""

from __future__ import annotations

from bot.commands.arguments import PERIODS, Arg, Text
from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, Refused
from bot.commands.forms import Form, command
from bot.commands.parser import mention_token
from bot.commands.registry import CommandRegistry
from bot.domain.periods import PeriodName
from bot.messages import OutgoingMessage
from bot.services import checkouts, standings
from bot.services.recap import recap_context
from bot.services.scope import person

PIN_WORDS = ("pin", "置顶")


async def recap_command(ctx: CommandContext, period: PeriodName) -> OutgoingMessage:
    scope = ctx.scope
    # A leader asking in the DM sees who has not checked in, whatever `missing_names` says.
    private = ctx.message.channel.kind == "dm" and ctx.is_at_least("leader")
    context = await recap_context(
        ctx.session, ctx.core.renderer, scope, scope.period(period), private=private
    )
    return ctx.reply("recap", **context)


async def pin_command(ctx: CommandContext, share: str) -> OutgoingMessage:
    """`/recap pin N|@member`: today's 经验分享 shows that answer first (one pin a day: a new one replaces
    the old)."""
    scope = ctx.scope
    board = await standings.board(ctx.session, scope, scope.period("today"))
    amounts = {}
    for row in board.people("amount"):
        member = board.member_by_key(row.standing.key)
        if member is not None:
            amounts[member.id] = row.standing.amount_minor
    shared = await checkouts.best_answers(
        ctx.session, ctx.team, scope.today, {m.id: m for m in board.members}, amounts
    )
    if not shared:
        raise Refused("nothing_to_share")
    token = share
    chosen = None
    if token.isdigit() and 1 <= int(token) <= min(len(shared), checkouts.SHARED):
        chosen = shared[int(token) - 1]
    elif token:
        handle = (mention_token(token) or token).lower()
        named = (s for s in shared if handle in (s.member.user_id.lower(), s.member.name.lower()))
        chosen = next(named, None)
    if chosen is None:
        raise InvalidArgument("share", token, "share.unknown")
    checkouts.pin(shared, chosen, ctx.now)
    return ctx.reply("recap_pinned", member=person(chosen.member), text=chosen.text)


SPEC = command(
    "recap",
    ("复盘", "总结", "夕会", "summary"),
    Form(
        PIN_WORDS,
        (Arg("share", Text(max_len=None), optional=True, default="", bracket=False),),
        pin_command,
        min_role="leader",
        denied_as="recap pin",
    ),
    Form(
        (),
        (Arg("period", PERIODS, optional=True, default=PeriodName.TODAY, strict=True, label="recap_period"),),
        recap_command,
    ),
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

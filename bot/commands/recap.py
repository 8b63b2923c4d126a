"""/recap — the evening recap on demand, for today, this week or this month; `/recap pin` for leaders."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, PermissionDenied, Refused
from bot.commands.parser import mention_token
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.domain.periods import PeriodName, parse_period
from bot.messages import OutgoingMessage
from bot.services import checkouts, standings
from bot.services.recap import recap_context
from bot.services.scope import person

PIN_WORDS = {"pin", "置顶"}


async def recap_command(ctx: CommandContext) -> OutgoingMessage:
    if ctx.args and ctx.args[0].lower() in PIN_WORDS:
        return await pin_command(ctx, ctx.args[1:])
    period = PeriodName.TODAY
    for token in ctx.args:
        found = parse_period(token)
        if found is None:
            raise InvalidArgument("period", token, "period.unknown")
        period = found
    scope = ctx.scope
    # A leader asking in the DM sees who has not checked in, whatever `missing_names` says.
    private = ctx.message.channel.kind == "dm" and ctx.is_at_least("leader")
    context = await recap_context(
        ctx.session, ctx.core.renderer, scope, scope.period(period), private=private
    )
    return ctx.reply("recap", **context)


async def pin_command(ctx: CommandContext, args: tuple[str, ...]) -> OutgoingMessage:
    """`/recap pin N|@member`: today's 经验分享 shows that answer first (one pin a day: a new one replaces
    the old)."""
    if not ctx.is_at_least("leader"):
        raise PermissionDenied(command="recap pin", required="leader")
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
    token = " ".join(args).strip()
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


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("recap", ("复盘", "总结", "夕会", "summary"), recap_command))

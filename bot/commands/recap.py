"""/recap — the evening recap on demand, for today, this week or this month."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.domain.periods import PeriodName, parse_period
from bot.messages import OutgoingMessage
from bot.services.recap import recap_context


async def recap_command(ctx: CommandContext) -> OutgoingMessage:
    period = PeriodName.TODAY
    for token in ctx.args:
        found = parse_period(token)
        if found is None:
            raise InvalidArgument("period", token, "period.unknown")
        period = found
    scope = ctx.scope
    context = await recap_context(ctx.session, ctx.core.renderer, scope, scope.period(period))
    return ctx.reply("recap", **context)


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("recap", ("复盘", "总结", "夕会", "summary"), recap_command))

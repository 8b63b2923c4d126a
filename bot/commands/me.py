"""/me — the caller's own deals, check-ins and streak this week and this month."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.messages import OutgoingMessage
from bot.services.personal import member_summary


async def me_command(ctx: CommandContext) -> OutgoingMessage:
    return ctx.reply("me", **await member_summary(ctx.session, ctx.scope, ctx.member))


def register(registry: CommandRegistry) -> None:
    registry.register(command("me", ("我的", "我的战绩", "mine", "mystats"), Form(handler=me_command)))

"""/insights — the leader's private insights on demand: leaders see the team, group leads their group."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.errors import PermissionDenied
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.messages import OutgoingMessage
from bot.services import directory
from bot.services.insights import insights_context


async def insights_command(ctx: CommandContext) -> OutgoingMessage:
    group_id = group_name = None
    if not ctx.is_at_least("leader"):
        group = await directory.group_of(ctx.session, ctx.member)
        if group is None:  # a lead without a group has no one of their own to read about
            raise PermissionDenied(command=ctx.spec.name, required="leader")
        group_id, group_name = group.id, group.name
    return ctx.reply("insights", **await insights_context(ctx.session, ctx.scope, group_id, group_name))


def register(registry: CommandRegistry) -> None:
    # In a DM only: it names people, and the channel must never see that.
    registry.register(
        command("insights", ("洞察", "insight"), Form(handler=insights_command), min_role="lead", where="dm")
    )

"""/kudos — public thanks in the team channel, with a daily cap per giver and no self-kudos."""

from __future__ import annotations

from bot.commands.arguments import Arg, Members, Text
from bot.commands.context import CommandContext
from bot.commands.errors import MissingArgument, Refused
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.messages import OutgoingMessage
from bot.services import kudos
from bot.services.scope import person
from bot.storage.orm import Member

MAX_REASON = 500


async def kudos_command(ctx: CommandContext, receivers: list[Member] | None, reason: str) -> OutgoingMessage:
    if receivers is None and not reason:
        return await kudos_board(ctx)
    return await give(ctx, receivers or [], reason)


async def give(ctx: CommandContext, receivers: list[Member], reason: str) -> OutgoingMessage:
    if not receivers:
        raise MissingArgument("member")
    if not reason:
        raise MissingArgument("reason")
    if any(r.id == ctx.member.id for r in receivers):
        raise Refused("kudos_self")
    today = ctx.scope.today
    cap = ctx.team.kudos_daily_cap
    if cap and await kudos.given_on(ctx.uow, ctx.member, today) + len(receivers) > cap:
        raise Refused("kudos_cap", cap=cap)
    await kudos.give(ctx.uow, ctx.team, ctx.member, receivers, reason, today, ctx.now)
    return ctx.reply("kudos_sent", receivers=[person(r) for r in receivers], reason=reason)


async def kudos_board(ctx: CommandContext) -> OutgoingMessage:
    month = ctx.scope.period("month")
    rows = await kudos.board(ctx.uow, ctx.team, month.start, month.end)
    return ctx.reply("kudos_board", rows=[{"member": person(m), "count": n} for m, n in rows])


SPEC = command(
    "kudos",
    ("点赞", "表扬", "thanks", "praise"),
    # Both may be left out: `/kudos` alone shows the board; given a reason, a receiver must be named.
    Form(
        (),
        (
            Arg("receivers", Members(), optional=True, label="members", bracket=False),
            Arg("reason", Text(max_len=MAX_REASON), optional=True, default="", bracket=False),
        ),
        kudos_command,
    ),
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

"""/kudos — public thanks in the team channel, with a daily cap per giver and no self-kudos."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, MissingArgument, Refused
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.domain.events import KudosGiven
from bot.messages import OutgoingMessage
from bot.services.scope import person
from bot.storage.orm import Kudos, Member

MAX_REASON = 500


async def kudos_command(ctx: CommandContext) -> OutgoingMessage:
    if not ctx.args:
        return await kudos_board(ctx)
    args = list(ctx.args)
    receivers: list[Member] = []
    while (receiver := await ctx.take_member(args)) is not None:
        if receiver.id not in {r.id for r in receivers}:
            receivers.append(receiver)
    if not receivers:
        raise MissingArgument("member")
    reason = " ".join(args).strip()
    if not reason:
        raise MissingArgument("reason")
    if len(reason) > MAX_REASON:
        raise InvalidArgument("reason", reason[:20] + "…", "text.too_long", max=MAX_REASON)
    if any(r.id == ctx.member.id for r in receivers):
        raise Refused("kudos_self")
    today = ctx.scope.today
    cap = ctx.team.kudos_daily_cap
    if cap:
        given = await ctx.session.scalar(
            select(func.count(Kudos.id)).where(Kudos.giver_id == ctx.member.id, Kudos.day == today)
        )
        if (given or 0) + len(receivers) > cap:
            raise Refused("kudos_cap", cap=cap)
    rows = [
        Kudos(
            team_id=ctx.team.id,
            giver_id=ctx.member.id,
            receiver_id=r.id,
            reason=reason,
            day=today,
            created_at=ctx.now,
        )
        for r in receivers
    ]
    ctx.session.add_all(rows)
    await ctx.session.flush()
    ctx.uow.add_event(KudosGiven(team_id=ctx.team.id, kudos_ids=tuple(k.id for k in rows)))
    return ctx.reply("kudos_sent", receivers=[person(r) for r in receivers], reason=reason)


async def kudos_board(ctx: CommandContext) -> OutgoingMessage:
    period = ctx.scope.period("month")
    rows = await ctx.session.execute(
        select(Member, func.count(Kudos.id))
        .join(Kudos, Kudos.receiver_id == Member.id)
        .where(Kudos.team_id == ctx.team.id, Kudos.day >= period.start, Kudos.day <= period.end)
        .group_by(Member.id)
        .order_by(func.count(Kudos.id).desc(), Member.name)
        .limit(10)
    )
    board = [{"member": person(m), "count": int(n)} for m, n in rows]
    return ctx.reply("kudos_board", rows=board)


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("kudos", ("点赞", "表扬", "thanks", "praise"), kudos_command))

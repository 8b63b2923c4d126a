"""/leave — time off: no prompts, not counted as missing, streak kept."""

from __future__ import annotations

from sqlalchemy import select

from bot.commands.context import CommandContext
from bot.commands.deals import may_act_for
from bot.commands.errors import InvalidArgument, PermissionDenied
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.domain.periods import InvalidDay, parse_day_range
from bot.messages import OutgoingMessage
from bot.services.scope import person
from bot.storage.orm import Leave

CANCEL_WORDS = {"cancel", "取消", "销假"}
MAX_REASON = 300


async def leave_command(ctx: CommandContext) -> OutgoingMessage:
    args = list(ctx.args)
    member = await ctx.take_member(args) or ctx.member
    if not may_act_for(ctx.member, member):
        raise PermissionDenied(command="leave", required="lead")
    today = ctx.scope.today
    if not args:
        leaves = await ctx.session.scalars(
            select(Leave)
            .where(Leave.member_id == member.id, Leave.cancelled.is_(False), Leave.end_day >= today)
            .order_by(Leave.start_day)
        )
        return ctx.reply(
            "leave_list",
            member=person(member),
            leaves=[
                {"start": lv.start_day.isoformat(), "end": lv.end_day.isoformat(), "reason": lv.reason}
                for lv in leaves
            ],
        )
    if args[0].lower() in CANCEL_WORDS:
        leaves = list(
            await ctx.session.scalars(
                select(Leave).where(
                    Leave.member_id == member.id, Leave.cancelled.is_(False), Leave.end_day >= today
                )
            )
        )
        for leave in leaves:
            leave.cancelled = True
        return ctx.reply("leave_cancelled", member=person(member), count=len(leaves))
    try:
        start, end = parse_day_range(args[0], today)
    except InvalidDay as error:
        raise InvalidArgument("dates", args[0], f"day.{error.code}") from None
    if end < today:
        raise InvalidArgument("dates", args[0], "day.past")
    reason = " ".join(args[1:])
    if len(reason) > MAX_REASON:
        raise InvalidArgument("reason", reason[:20] + "…", "text.too_long", max=MAX_REASON)
    ctx.session.add(
        Leave(member_id=member.id, start_day=start, end_day=end, reason=reason, created_at=ctx.now)
    )
    workdays = ctx.scope.calendar.count_workdays(start, end)
    return ctx.reply(
        "leave_set",
        member=person(member),
        start=start.isoformat(),
        end=end.isoformat(),
        workdays=workdays,
        reason=reason,
        for_other=member.id != ctx.member.id,
    )


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("leave", ("请假", "休假", "off"), leave_command))

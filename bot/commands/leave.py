"""/leave — time off: no prompts, not counted as missing, streak kept."""

from __future__ import annotations

from datetime import date

from bot.commands.arguments import MEMBER, Arg, Choice, Dates, Text
from bot.commands.context import CommandContext
from bot.commands.deals import may_act_for
from bot.commands.errors import PermissionDenied
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.messages import OutgoingMessage
from bot.services import leaves
from bot.services.scope import person
from bot.storage.orm import Member

CANCEL_WORDS = ("cancel", "取消", "销假")
MAX_REASON = 300


def whose(ctx: CommandContext, member: Member | None) -> Member:
    """The speaker, or the member named: leaders for anyone, a lead for their own group."""
    member = member or ctx.member
    if not may_act_for(ctx.member, member):
        raise PermissionDenied(command="leave", required="lead")
    return member


async def leave_command(
    ctx: CommandContext, member: Member | None, cancelled: bool, dates: tuple[date, date] | None, reason: str
) -> OutgoingMessage:
    if cancelled:  # `/leave @bob cancel`: the member first
        return await cancel(ctx, member)
    member = whose(ctx, member)
    if dates is None:
        return await list_leave(ctx, member)
    start, end = dates
    await leaves.book(ctx.uow, member, start, end, reason, ctx.now)
    return ctx.reply(
        "leave_set",
        member=person(member),
        start=start.isoformat(),
        end=end.isoformat(),
        workdays=ctx.scope.calendar.count_workdays(start, end),
        reason=reason,
        for_other=member.id != ctx.member.id,
    )


async def list_leave(ctx: CommandContext, member: Member) -> OutgoingMessage:
    upcoming = await leaves.upcoming(ctx.uow, member, ctx.scope.today)
    return ctx.reply(
        "leave_list",
        member=person(member),
        leaves=[
            {"start": lv.start_day.isoformat(), "end": lv.end_day.isoformat(), "reason": lv.reason}
            for lv in upcoming
        ],
    )


async def cancel(ctx: CommandContext, member: Member | None) -> OutgoingMessage:
    member = whose(ctx, member)
    count = await leaves.cancel_upcoming(ctx.uow, member, ctx.scope.today)
    return ctx.reply("leave_cancelled", member=person(member), count=count)


SPEC = command(
    "leave",
    ("请假", "休假", "off"),
    Form(CANCEL_WORDS, (Arg("member", MEMBER, optional=True),), cancel),
    Form(
        (),
        (
            Arg("member", MEMBER, optional=True),
            Arg(
                "cancelled",
                Choice(dict.fromkeys(CANCEL_WORDS, True), ""),
                optional=True,
                default=False,
                label="",
            ),
            Arg("dates", Dates(past_reason="day.past"), optional=True, label="leave_dates"),
            Arg("reason", Text(max_len=MAX_REASON), optional=True, default=""),
        ),
        leave_command,
    ),
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

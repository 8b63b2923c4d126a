"""/deal — log a closed deal (喜报) for yourself or, as a lead or leader, for someone else; /deal undo."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, MissingArgument, Refused
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.domain.money import CURRENCIES, InvalidAmount, Money, format_money_exact, parse_amount
from bot.messages import OutgoingMessage
from bot.services import deals
from bot.storage.orm import Deal, Member

UNDO_WORDS = {"undo", "撤销", "撤回", "作废", "void"}
MAX_TEXT = 300


def parse_money_argument(ctx: CommandContext, token: str, argument: str = "amount") -> Money:
    """An amount in the team's currency, positive and under the configured ceiling."""
    currency = ctx.team.currency
    ceiling = Money(int(ctx.core.settings.max_amount * Decimal(10) ** CURRENCIES[currency][0]), currency)
    largest = format_money_exact(ceiling, ctx.locale)
    try:
        money = parse_amount(token, currency)
    except InvalidAmount as error:
        raise InvalidArgument(argument, token, f"amount.{error.code}", max=largest) from None
    if money.currency != currency:
        raise InvalidArgument(argument, token, "amount.unknown_currency", currency=currency)
    if money.minor > ceiling.minor:
        raise InvalidArgument(argument, token, "amount.too_large", max=largest)
    return money


def may_act_for(actor: Member, other: Member) -> bool:
    """Leaders act for anyone; a group lead for the members of their own group."""
    if actor.id == other.id or actor.role == "leader":
        return True
    return actor.role == "lead" and actor.group_id is not None and actor.group_id == other.group_id


async def deal_command(ctx: CommandContext) -> OutgoingMessage:
    if not ctx.args:
        raise MissingArgument("amount")
    if ctx.args[0].lower() in UNDO_WORDS:
        return await undo(ctx, ctx.args[1:])
    money = parse_money_argument(ctx, ctx.args[0])
    rest = list(ctx.args[1:])
    member = await ctx.take_member(rest) or ctx.member
    if not may_act_for(ctx.member, member):
        raise Refused("permission_denied", command="deal", required="lead")
    note = " ".join(rest)
    if len(note) > MAX_TEXT:
        raise InvalidArgument("customer", note[:20] + "…", "text.too_long", max=MAX_TEXT)
    deal = await deals.record(
        ctx.uow,
        ctx.team,
        deals.NewDeal(
            member=member,
            amount_minor=money.minor,
            currency=money.currency,
            closed_at=ctx.now,
            customer=note,
            created_by=ctx.member,
        ),
        ctx.now,
    )
    scope = ctx.scope
    return ctx.reply(
        "deal_recorded",
        id=deal.id,
        amount=scope.money(deal.amount_minor),
        member={"user_id": member.user_id, "name": member.name},
        customer=deal.customer,  # as stored: on one line
        for_other=member.id != ctx.member.id,
    )


async def undo(ctx: CommandContext, args: tuple[str, ...]) -> OutgoingMessage:
    session = ctx.session
    if args:
        raw = args[0].lstrip("#")
        if not raw.isdigit():
            raise InvalidArgument("id", args[0], "deal.id")
        deal = await session.scalar(select(Deal).where(Deal.id == int(raw), Deal.team_id == ctx.team.id))
        if deal is None:
            raise Refused("deal_not_found", id=args[0])
    else:
        deal = await session.scalar(
            select(Deal)
            .where(Deal.team_id == ctx.team.id, Deal.created_by_id == ctx.member.id, Deal.voided_at.is_(None))
            .order_by(Deal.created_at.desc(), Deal.id.desc())
            .limit(1)
        )
        if deal is None:
            raise Refused("deal_not_found", id="")
    if deal.voided_at is not None:
        raise Refused("deal_already_void", id=deal.id)
    is_author = deal.created_by_id == ctx.member.id or deal.member_id == ctx.member.id
    if not ctx.is_at_least("leader"):
        if not is_author:
            raise Refused("permission_denied", command="deal undo", required="leader")
        if ctx.now - deal.created_at > deals.UNDO_WITHIN:
            raise Refused("deal_undo_expired", id=deal.id)
    await deals.void(ctx.uow, deal, ctx.member, ctx.now)
    owner = await session.get(Member, deal.member_id)
    return ctx.reply(
        "deal_voided",
        id=deal.id,
        amount=ctx.scope.money(deal.amount_minor),
        member={"user_id": owner.user_id, "name": owner.name} if owner else None,
    )


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("deal", ("成交", "开单", "签单", "deals"), deal_command))

"""/deal — log a closed deal (喜报) for yourself or, as a lead or leader, for someone else; /deal undo."""

from __future__ import annotations

from decimal import Decimal

from bot.commands.arguments import AMOUNT, DEAL_ID, MEMBER, Arg, Text
from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, MissingArgument, Refused
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.domain.money import CURRENCIES, Money, format_money_exact
from bot.messages import OutgoingMessage
from bot.services import deal_intake, deal_payload, deals
from bot.storage.orm import Member

UNDO_WORDS = ("undo", "撤销", "撤回", "作废", "void")
# The deal payload model's name for each field, as the chat names the argument.
_ARGUMENT = {"amount": "amount", "customer": "customer", "currency": "amount"}


def may_act_for(actor: Member, other: Member) -> bool:
    """Leaders act for anyone; a group lead for the members of their own group."""
    if actor.id == other.id or actor.role == "leader":
        return True
    return actor.role == "lead" and actor.group_id is not None and actor.group_id == other.group_id


def chat_deal(ctx: CommandContext, amount: Money, customer: str) -> tuple[Money, str]:
    """The deal as the payload model (the webhook's and CSV import's too) accepts it, or the first field
    it refuses as an argument error."""
    currency = ctx.team.currency
    context = {
        "currency": currency,
        "member_of": ctx.team.slug,
        "now": ctx.now,
        "max_amount": ctx.core.settings.max_amount,
        "future_tolerance": deal_intake.FUTURE_TOLERANCE,
        "earliest": deal_intake.EARLIEST_CLOSED_AT,
    }
    data = {"member": ctx.member.user_id, "amount": amount.major, "customer": customer}
    fields, errors = deal_payload.read(deal_payload.DealBody, data, context)
    for error in errors:
        argument = _ARGUMENT.get(error.field, error.field)
        if error.code == "missing":
            raise MissingArgument(argument)
        if error.field == "customer":
            raise InvalidArgument(argument, customer[:20] + "…", "text.too_long", max=deal_payload.MAX_TEXT)
        ceiling = Money(int(ctx.core.settings.max_amount * Decimal(10) ** CURRENCIES[currency][0]), currency)
        largest = format_money_exact(ceiling, ctx.locale)
        raise InvalidArgument(argument, str(error.value), f"amount.{error.code}", max=largest)
    return fields["amount"], fields["customer"]


async def log_deal(
    ctx: CommandContext, amount: Money, member: Member | None, customer: str
) -> OutgoingMessage:
    member = member or ctx.member
    if not may_act_for(ctx.member, member):
        raise Refused("permission_denied", command="deal", required="lead")
    money, customer = chat_deal(ctx, amount, customer)
    deal = await deals.record(
        ctx.uow,
        ctx.team,
        deals.NewDeal(
            member=member,
            amount_minor=money.minor,
            currency=money.currency,
            closed_at=ctx.now,
            customer=customer,
            created_by=ctx.member,
        ),
        ctx.now,
    )
    return ctx.reply(
        "deal_recorded",
        id=deal.id,
        amount=ctx.scope.money(deal.amount_minor),
        member={"user_id": member.user_id, "name": member.name},
        customer=deal.customer,  # as stored: on one line
        for_other=member.id != ctx.member.id,
    )


async def undo(ctx: CommandContext, deal_id: int | None) -> OutgoingMessage:
    session = ctx.session
    if deal_id is not None:
        deal = await deals.deal_of_team(session, ctx.team, deal_id)
        if deal is None:
            raise Refused("deal_not_found", id=str(deal_id))
    else:
        deal = await deals.latest_logged_by(session, ctx.team, ctx.member)
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
    owner = await deals.owner_of(session, deal)
    return ctx.reply(
        "deal_voided",
        id=deal.id,
        amount=ctx.scope.money(deal.amount_minor),
        member={"user_id": owner.user_id, "name": owner.name} if owner else None,
    )


SPEC = command(
    "deal",
    ("成交", "开单", "签单", "deals"),
    Form(UNDO_WORDS, (Arg("deal_id", DEAL_ID, optional=True, label="id"),), undo),
    Form(
        (),
        (
            Arg("amount", AMOUNT),
            Arg("member", MEMBER, optional=True),
            # Checked by the deal payload model, as the webhook's customer is.
            Arg("customer", Text(max_len=None), optional=True, default=""),
        ),
        log_deal,
    ),
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

"""The argument converters every command shares: each turns the tokens at the head of a list into a typed
value, or says what is wrong with them (an `InvalidArgument` whose reason the `error` template explains).

A converter `take`s what it understands from the front of `tokens` (removing it) and returns the value,
or ABSENT when the head is not for it. `strict` is set when the argument must be there or when a token
that is not for it is a mistake rather than the next argument's: then a token it cannot read raises.
Labels for usage lines and examples live in the templates (`_arguments.toml`), keyed by `kind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from bot.commands.errors import InvalidArgument
from bot.commands.parser import mention_token
from bot.domain.money import CURRENCIES, InvalidAmount, Money, format_money_exact, parse_amount
from bot.domain.periods import InvalidDay, parse_day_range, parse_period
from bot.services import directory

if TYPE_CHECKING:
    from bot.commands.context import CommandContext
    from bot.storage.orm import Group, Member


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount in the team's currency, positive and under the ceiling: 12800, 1.28万, ¥12,800."""

    kind: str = "amount"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens or not (strict or any(ch.isdigit() for ch in tokens[0])):
            return ABSENT
        return money_of(ctx, tokens.pop(0), name)


def money_of(ctx: CommandContext, token: str, name: str = "amount") -> Money:
    currency = ctx.team.currency
    ceiling = Money(int(ctx.core.settings.max_amount * Decimal(10) ** CURRENCIES[currency][0]), currency)
    largest = format_money_exact(ceiling, ctx.locale)
    try:
        money = parse_amount(token, currency)
    except InvalidAmount as error:
        raise InvalidArgument(name, token, f"amount.{error.code}", max=largest) from None
    if money.currency != currency:
        raise InvalidArgument(name, token, "amount.unknown_currency", currency=currency)
    if money.minor > ceiling.minor:
        raise InvalidArgument(name, token, "amount.too_large", max=largest)
    return money


@dataclass(frozen=True, slots=True)
class MemberArg:
    """A member of this team: a mention typed at the head, else the next person mentioned outside the text
    (DingTalk lists @mentions apart: the Nth member argument takes the Nth), else — when the argument must
    be there — a name."""

    kind: str = "member"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if tokens and mention_token(tokens[0]):
            return await ctx.resolve_member(tokens.pop(0), name)
        mentioned = ctx.next_mention()
        if mentioned is not None:
            return await ctx.resolve_member(f"@{mentioned.id}", name)
        if strict and tokens:
            return await ctx.resolve_member(tokens.pop(0), name)
        return ABSENT


@dataclass(frozen=True, slots=True)
class Members:
    """One or more members (each once, in the order given): mentions, then names when `names` is set."""

    names: bool = False
    kind: str = "members"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        found: list[Member] = []
        one = MemberArg()
        while (member := await one.take(ctx, tokens, name, strict=self.names)) is not ABSENT:
            if all(m.id != member.id for m in found):  # type: ignore[attr-defined]
                found.append(member)  # type: ignore[arg-type]
        return found or ABSENT


@dataclass(frozen=True, slots=True)
class GroupArg:
    """A group of this team, by name."""

    kind: str = "group"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        group = await find_group(ctx, tokens[0], name)
        tokens.pop(0)
        return group


async def find_group(ctx: CommandContext, token: str, name: str = "group") -> Group:
    group = await directory.group_named(ctx.session, ctx.team, token)
    if group is None:
        raise InvalidArgument(name, token, "group.unknown")
    return group


@dataclass(frozen=True, slots=True)
class PeriodArg:
    """today, week, month or quarter, in either language."""

    kind: str = "period"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        return period_of(tokens, name, strict)


def period_of(tokens: list[str], name: str, strict: bool) -> object:
    if not tokens:
        return ABSENT
    found = parse_period(tokens[0])
    if found is None:
        if strict:
            raise InvalidArgument(name, tokens[0], "period.unknown")
        return ABSENT
    tokens.pop(0)
    return found


# Metric words in either language; a command may accept a subset (goals have no per-capita).
METRIC_WORDS: Final = {
    **dict.fromkeys(("amount", "金额", "业绩", "销售额"), "amount"),
    **dict.fromkeys(("deals", "deal", "orders", "单数", "单", "单量", "笔"), "deals"),
    **dict.fromkeys(("per-capita", "per_capita", "percapita", "人均"), "per_capita"),
}


@dataclass(frozen=True, slots=True)
class Metric:
    """amount (the default), deals or — where a command allows it — per-capita."""

    allowed: tuple[str, ...] = ("amount", "deals", "per_capita")
    kind: str = "metric"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        return self.read(tokens, name, strict)

    def read(self, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        metric = METRIC_WORDS.get(tokens[0].lower())
        if metric is None or metric not in self.allowed:
            if strict:
                raise InvalidArgument(name, tokens[0], "metric.unknown")
            return ABSENT
        tokens.pop(0)
        return metric


@dataclass(frozen=True, slots=True)
class Dates:
    """A day or an inclusive range, YYYY-MM-DD or words: 2026-11-23, 2026-11-23..2026-11-25, today."""

    past_reason: str | None = None  # a reason code for a range that is over, when that is refused
    kind: str = "dates"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        today = ctx.scope.today
        first, last = days_of(tokens[0], today, name)
        if self.past_reason is not None and last < today:
            raise InvalidArgument(name, tokens[0], self.past_reason)
        tokens.pop(0)
        return first, last


def days_of(token: str, today: date, name: str = "dates") -> tuple[date, date]:
    try:
        return parse_day_range(token, today)
    except InvalidDay as error:
        raise InvalidArgument(name, token, f"day.{error.code}") from None


@dataclass(frozen=True, slots=True)
class Text:
    """Free text: the rest of the line (or one token when `one_word`), at most `max_len` characters."""

    max_len: int | None = 300  # None: the caller's model checks it
    one_word: bool = False
    cut: bool = False  # names are cut to length, as they always were; prose is refused when too long
    kind: str = "text"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        taken = [tokens.pop(0)] if self.one_word else [tokens.pop(0) for _ in range(len(tokens))]
        value = " ".join(taken).strip()
        if not value:
            return ABSENT
        if self.max_len is not None and len(value) > self.max_len:
            if self.cut:
                return value[: self.max_len]
            raise InvalidArgument(name, value[:20] + "…", "text.too_long", max=self.max_len)
        return value


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed set of words (several spellings each), as its canonical value."""

    words: dict[str, Any]
    reason: str
    kind: str = "choice"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        value = self.words.get(tokens[0].lower(), ABSENT)
        if value is ABSENT:
            if strict:
                raise InvalidArgument(name, tokens[0], self.reason)
            return ABSENT
        tokens.pop(0)
        return value


@dataclass(frozen=True, slots=True)
class DealId:
    """A deal's number as the reply showed it: 12 or #12."""

    kind: str = "id"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        raw = tokens[0].lstrip("#")
        if not raw.isdigit():
            raise InvalidArgument(name, tokens[0], "deal.id")
        tokens.pop(0)
        return int(raw)


@dataclass(frozen=True, slots=True)
class Words:
    """The remaining tokens as they are, for sub-grammars read by their own command (schedule, announce)."""

    kind: str = "words"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        taken = list(tokens)
        tokens.clear()
        return taken


@dataclass(frozen=True, slots=True)
class CommandWord:
    """A command's name or alias, for `/help COMMAND`."""

    kind: str = "command"

    async def take(self, ctx: CommandContext, tokens: list[str], name: str, strict: bool) -> object:
        if not tokens:
            return ABSENT
        word = tokens[0].lstrip("/／")
        spec = ctx.core.registry.resolve(word)
        if spec is None:
            raise InvalidArgument(name, tokens[0], "command.unknown")
        tokens.pop(0)
        return spec


@dataclass(frozen=True, slots=True)
class Arg:
    """One declared argument: its name (the handler's keyword and the error's `argument`), its converter,
    whether it may be left out (then `default`), and its usage label when not the name's own."""

    name: str
    converter: Any
    optional: bool = False
    default: Any = None
    strict: bool | None = None  # None: strict when required
    label: str | None = None
    bracket: bool | None = None  # shown [optional] in the usage line; None: when optional

    @property
    def is_strict(self) -> bool:
        return (not self.optional) if self.strict is None else self.strict


PERIODS: Final = PeriodArg()
AMOUNT: Final = Amount()
MEMBER: Final = MemberArg()
GROUP: Final = GroupArg()
DEAL_ID: Final = DealId()
WORDS: Final = Words()
COMMAND: Final = CommandWord()

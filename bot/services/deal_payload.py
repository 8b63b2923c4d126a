"""The deal payload as pydantic models: one for the webhook body, a CSV row and `/deal`'s fields alike.

Each validator raises a PydanticCustomError whose type is our error code and whose context says what is
allowed, so one ValidationError names every invalid field at once. What needs the database (which team,
which member, is the id known) stays in deal_intake; the rules that depend on it (the team's currency,
the team ids for the "allowed" text, the clock and limits) arrive as validation context.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bot.domain.money import CURRENCIES, InvalidAmount, Money, parse_amount
from bot.domain.text import one_line

MAX_ID = 128
MAX_TEXT = 300
MAX_HANDLE = 200
MAX_TEAM = 64
STATUSES = ("won", "void")


@dataclass(frozen=True, slots=True)
class PayloadError:
    """One invalid field as the validators see it; deal_intake turns it into a FieldError."""

    field: str
    code: str
    allowed: str | list[str]
    value: object = None


def _fail(code: str, allowed: str | list[str]) -> PydanticCustomError:
    return PydanticCustomError(code, code, {"allowed": allowed})


def present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def storable(text: str) -> bool:
    """Text both databases can keep: valid UTF-8 (no lone surrogates) and no NUL, which PostgreSQL refuses."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text(value: object, allowed: str, *, required: bool, max_len: int) -> str | None:
    """A string (or an integer, which CRMs often send for ids and codes), stripped."""
    if not present(value):
        if required:
            raise _fail("missing", allowed)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail("wrong_type", allowed)
    stripped = str(value).strip()
    if not storable(stripped):
        raise _fail("bad_character", allowed)
    if len(stripped) > max_len:
        raise _fail("too_long", allowed)
    return stripped


def _context(info: ValidationInfo) -> Mapping[str, Any]:
    return info.context or {}


def team_allowed(team_ids: list[str]) -> str:
    return f"a team id: {', '.join(team_ids)}" if team_ids else "a team id (none is configured)"


def member_allowed(team_id: str | None) -> str:
    where = f"team {team_id}" if team_id is not None else "the team"
    return f"the platform user id, email, mobile or employee code of a member of {where}"


class _Payload(BaseModel):
    # Absent keys run their validators too (to say "missing"); keys we do not know are another system's.
    model_config = ConfigDict(extra="ignore", validate_default=True)


class DealHeader(_Payload):
    """Which deal and what to do with it: needed by every submission, a bare void included."""

    id: str | None = None
    status: Literal["won", "void"] | None = None
    team: str | None = None

    @field_validator("id", mode="plain")
    @classmethod
    def _id(cls, value: object) -> str | None:
        return text(value, f"a string or integer of 1–{MAX_ID} characters", required=True, max_len=MAX_ID)

    @field_validator("status", mode="plain")
    @classmethod
    def _status(cls, value: object) -> Literal["won", "void"]:
        if not present(value):
            return "won"
        if not isinstance(value, str):
            raise _fail("wrong_type", list(STATUSES))
        status = value.strip().lower()
        if status not in STATUSES:
            raise _fail("unknown_status", list(STATUSES))
        return "won" if status == "won" else "void"

    @field_validator("team", mode="plain")
    @classmethod
    def _team(cls, value: object, info: ValidationInfo) -> str | None:
        return text(value, team_allowed(_context(info).get("team_ids", [])), required=True, max_len=MAX_TEAM)


class DealBody(_Payload):
    """The deal itself. Context: `currency` (the team's, or None when the team is unknown), `member_of`
    (the team id for the "allowed" text), `now`, `max_amount`, `future_tolerance`, `earliest`."""

    member: str | None = None
    currency: str | None = None
    amount: Money | None = None
    closed_at: datetime | None = None
    customer: str = ""
    product: str = ""

    @field_validator("member", mode="plain")
    @classmethod
    def _member(cls, value: object, info: ValidationInfo) -> str | None:
        return text(value, member_allowed(_context(info).get("member_of")), required=True, max_len=MAX_HANDLE)

    @field_validator("currency", mode="plain")
    @classmethod
    def _currency(cls, value: object, info: ValidationInfo) -> str | None:
        team_currency: str | None = _context(info).get("currency")
        allowed = [team_currency] if team_currency else sorted(CURRENCIES)
        if not present(value):
            return team_currency
        if not isinstance(value, str):
            raise _fail("wrong_type", allowed)
        code = value.strip().upper()
        if code not in CURRENCIES:
            raise _fail("unknown_currency", allowed)
        if team_currency is not None and code != team_currency:
            raise _fail("not_team_currency", allowed)
        return code

    @field_validator("amount", mode="plain")
    @classmethod
    def _amount(cls, value: object, info: ValidationInfo) -> Money:
        ctx = _context(info)
        currency = info.data.get("currency") or ctx.get("currency") or "CNY"
        max_amount: Decimal = ctx["max_amount"]
        allowed = (
            f'a positive amount in major units of {currency} (a number or a string such as "12800.50"), '
            f"at most {CURRENCIES[currency][0]} decimals and at most {max_amount:f}"
        )
        if not present(value):
            raise _fail("missing", allowed)
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise _fail("wrong_type", allowed)
        try:
            return _money(value, currency, max_amount)
        except InvalidAmount as error:
            raise _fail(error.code, allowed) from None

    @field_validator("closed_at", mode="plain")
    @classmethod
    def _closed_at(cls, value: object, info: ValidationInfo) -> datetime:
        ctx = _context(info)
        allowed = (
            "ISO 8601 with an offset or Z, from 2000-01-01 to at most a day ahead, "
            "e.g. 2026-11-23T10:00:00+08:00"
        )
        if not present(value):
            return ctx["now"]
        if not isinstance(value, str):
            raise _fail("wrong_type", allowed)
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail("not_iso8601", allowed) from None
        if when.tzinfo is None or when.utcoffset() is None:
            raise _fail("no_offset", allowed)
        if when - ctx["now"] > ctx["future_tolerance"]:
            raise _fail("in_future", allowed)
        if when < ctx["earliest"]:
            raise _fail("too_early", allowed)
        return when

    @field_validator("customer", "product", mode="plain")
    @classmethod
    def _text(cls, value: object) -> str:
        """On one line: line breaks become spaces (they could fake post lines)."""
        found = text(value, f"text of at most {MAX_TEXT} characters", required=False, max_len=MAX_TEXT)
        return one_line(found or "")


def _money(value: str | int | float | Decimal, currency: str, max_amount: Decimal) -> Money:
    if isinstance(value, str):
        money = parse_amount(value, currency)
        if money.currency != currency:
            raise InvalidAmount("currency_mismatch")
        major = money.major
    else:
        major = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return checked_money(major, currency, max_amount)


def checked_money(major: Decimal, currency: str, max_amount: Decimal) -> Money:
    """Exact minor units, refusing NaN, zero or less, too many decimals and the absurdly large."""
    if not major.is_finite():
        raise InvalidAmount("not_a_number")
    if major <= 0:
        raise InvalidAmount("not_positive")
    if major > max_amount:
        raise InvalidAmount("too_large")  # checked before scaling, so a 1e999999 never becomes an int
    with localcontext() as ctx:
        ctx.prec = 80
        try:
            minor = major.scaleb(CURRENCIES[currency][0])
            integral = minor == minor.to_integral_value()
        except InvalidOperation:
            raise InvalidAmount("not_a_number") from None
    if not integral:
        raise InvalidAmount("too_precise")
    return Money(int(minor), currency)


def read(
    model: type[_Payload], data: Mapping[str, object], context: Mapping[str, Any]
) -> tuple[dict[str, Any], list[PayloadError]]:
    """The fields that validated (all of them, or those to go on with), and every invalid field."""
    try:
        payload = model.model_validate(dict(data), context=dict(context))
        return dict(payload), []
    except ValidationError as exc:
        errors = [
            PayloadError(str(e["loc"][0]), e["type"], (e.get("ctx") or {}).get("allowed", ""), e.get("input"))
            for e in exc.errors()
        ]
    bad = {e.field for e in errors}
    good: dict[str, Any] = {}
    for name in model.model_fields.keys() - bad:
        with suppress(ValidationError):  # each valid field on its own: a bad id does not hide the team
            good[name] = model.__pydantic_validator__.validate_assignment(
                model.model_construct(), name, data.get(name), context=dict(context)
            ).__dict__[name]
    return good, errors

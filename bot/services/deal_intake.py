"""Deals arriving from other systems (the webhook, CSV import): validation, member matching, idempotency.

One set of rules for both doors, so a row that imports is a body the webhook accepts and vice versa.
Validation reports *every* invalid field at once, each with a code and what is allowed, because the
caller is a program (or a person fixing a spreadsheet) that should fix everything in one go. An external
id is unique per team whatever door it came through, so re-sending or re-importing is always a no-op.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.money import Money
from bot.services import deal_payload, deals
from bot.services.deal_payload import PayloadError
from bot.storage.orm import Deal, Member, Team
from bot.storage.uow import UnitOfWork, UnitOfWorkFactory

#: A deal may be stamped ahead of our clock (a CRM's clock or zone is off): product.md allows a day.
FUTURE_TOLERANCE = timedelta(days=1)
#: No deal closed before this is believed: an older date is a placeholder (0001-01-01) or a typo, and
#: years near the calendar's ends break the period maths of every post that reads the deal.
EARLIEST_CLOSED_AT = datetime(2000, 1, 1, tzinfo=UTC)
#: How often a submission is retried when a concurrent one wins a unique index (same id, same milestone).
CONFLICT_RETRIES = 3
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,}$")

Outcome = Literal["recorded", "duplicate", "voided", "already_void"]

#: What each code means, for the people reading a 422 body or an import's error list.
_MESSAGES: Mapping[str, str] = {
    "missing": "is required",
    "wrong_type": "has the wrong type",
    "empty": "must not be empty",
    "too_long": "is too long",
    "bad_character": "contains a NUL character or invalid UTF-8",
    "unknown_team": "names no team",
    "unknown_member": "matches no member of the team",
    "ambiguous_member": "matches more than one member of the team",
    "unknown_status": "is not a known status",
    "not_a_number": "is not an amount",
    "not_positive": "must be more than zero",
    "too_precise": "has more decimals than the currency allows",
    "too_large": "is larger than the largest amount accepted",
    "unknown_currency": "is not a known currency",
    "not_team_currency": "is not the team's currency",
    "currency_mismatch": "names a different currency than the currency field",
    "not_iso8601": "is not an ISO 8601 date and time",
    "no_offset": "has no UTC offset (add Z or +08:00)",
    "in_future": "is more than a day ahead",
    "too_early": "is before 2000-01-01",
    "unknown_deal": "names no recorded deal, and the void carries no deal fields to record it from",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: which, why (`code`), what would be accepted, and what was given."""

    field: str
    code: str
    allowed: str | list[str]
    value: object = None

    @property
    def message(self) -> str:
        return f"{self.field} {_MESSAGES.get(self.code, self.code)}"

    def as_dict(self) -> dict[str, object]:
        shown = self.value
        if isinstance(shown, str):  # echoed back as JSON: never a lone surrogate, never a whole essay
            shown = shown.encode("utf-8", "replace").decode("utf-8")
            shown = shown[:80] + "…" if len(shown) > 80 else shown
        if isinstance(shown, Decimal):
            shown = str(shown)
        if not isinstance(shown, str | int | float | bool | type(None)):
            shown = type(shown).__name__
        return {
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "allowed": self.allowed,
            "value": shown,
        }


class InvalidDeal(Exception):
    """Every problem with one submission; nothing was stored."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """Limits that come from the config."""

    max_amount: Decimal = Decimal("100000000")  # major units
    future_tolerance: timedelta = FUTURE_TOLERANCE
    earliest_closed_at: datetime = EARLIEST_CLOSED_AT


@dataclass(frozen=True, slots=True)
class DealFields:
    member: Member
    money: Money
    closed_at: datetime
    customer: str = ""
    product: str = ""


@dataclass(frozen=True, slots=True)
class DealRequest:
    """A validated submission. `fields` is None only for a bare void (`id`, `team`, `status`)."""

    team: Team
    external_id: str
    status: Literal["won", "void"]
    fields: DealFields | None


@dataclass(frozen=True, slots=True)
class IntakeResult:
    outcome: Outcome
    deal_id: int
    announced: bool = False


async def validate(
    session: AsyncSession, data: Mapping[str, object], now: datetime, rules: IntakeRules
) -> DealRequest:
    """Check every field of one submission (a JSON object or a CSV row); InvalidDeal lists each problem."""
    team_ids = list(await session.scalars(select(Team.slug).order_by(Team.slug)))
    header, errors = deal_payload.read(deal_payload.DealHeader, data, {"team_ids": team_ids})
    external_id, status = header.get("id"), header.get("status")
    team = await _team(session, header.get("team"), team_ids, errors)
    wants_fields = status != "void" or any(deal_payload.present(data.get(k)) for k in ("member", "amount"))
    if status == "void" and team is not None and external_id is not None:
        if await find_external(session, team, external_id) is not None:
            wants_fields = False  # voiding a known deal needs nothing else
        elif not wants_fields:
            errors.append(_error("id", "unknown_deal", _UNKNOWN_DEAL, external_id))
    fields: DealFields | None = None
    if wants_fields:  # without the team, member and currency cannot be judged; the rest can
        fields = await _deal_fields(session, data, team, now, rules, errors)
    if errors or team is None or external_id is None or status is None:
        raise InvalidDeal([FieldError(e.field, e.code, e.allowed, e.value) for e in errors])
    return DealRequest(team=team, external_id=external_id, status=status, fields=fields)


async def apply(
    uow: UnitOfWork, request: DealRequest, now: datetime, *, source: str, announce: bool | None = None
) -> IntakeResult:
    """Record, void or recognise a duplicate, in the caller's transaction (which the caller commits).

    `announce=None` applies the rule (announced when closed within the last 24 hours). A deal with the
    same id recorded meanwhile by a concurrent submission (the database refuses a second one) makes
    this one what it would have been had it come second: a duplicate, or the void of that deal.
    """
    try:
        return await _apply(uow, request, now, source=source, announce=announce)
    except deals.DuplicateDeal:
        return await _apply(uow, request, now, source=source, announce=announce)


async def _apply(
    uow: UnitOfWork, request: DealRequest, now: datetime, *, source: str, announce: bool | None
) -> IntakeResult:
    found = await find_external(uow.session, request.team, request.external_id)
    if request.status == "won":
        if found is not None:
            return IntakeResult("duplicate", found.id)
        assert request.fields is not None
        deal = await _record(uow, request, now, source=source, announce=announce)
        announced = (
            announce if announce is not None else now - request.fields.closed_at <= deals.ANNOUNCE_WITHIN
        )
        return IntakeResult("recorded", deal.id, announced=announced)
    if found is not None:
        if found.voided_at is not None:
            return IntakeResult("already_void", found.id)
        await deals.void(uow, found, None, now)
        return IntakeResult("voided", found.id, announced=True)
    if request.fields is None:
        raise InvalidDeal([FieldError("id", "unknown_deal", _UNKNOWN_DEAL)])
    # A void that overtook its deal (or an exported void re-imported): keep the history, announce nothing.
    deal = await _record(uow, request, now, source=source, announce=False, voided=True)
    return IntakeResult("voided", deal.id)


async def submit(
    uow_factory: UnitOfWorkFactory,
    data: Mapping[str, object],
    now: datetime,
    rules: IntakeRules,
    *,
    source: str = "webhook",
) -> IntakeResult:
    """Validate and apply one submission in its own transaction, committed before this returns.

    A concurrent submission of the same id (or one that takes the same milestone key) makes the commit
    fail on a unique index; running again then finds the winner's rows, so the answer is a duplicate
    and nothing is stored or announced twice.
    """
    for attempt in range(CONFLICT_RETRIES):
        async with uow_factory() as uow:
            request = await validate(uow.session, data, now, rules)
            try:
                result = await apply(uow, request, now, source=source)
                await uow.commit()
            except IntegrityError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                continue
            return result
    raise AssertionError("unreachable")


async def find_external(session: AsyncSession, team: Team, external_id: str) -> Deal | None:
    """The team's deal with this external id, whichever door (webhook, import, chat) it came through."""
    return await session.scalar(
        select(Deal)
        .where(Deal.team_id == team.id, Deal.external_id == external_id)
        .order_by(Deal.id)
        .limit(1)
    )


async def match_member(session: AsyncSession, team: Team, handle: str) -> list[Member]:
    """Members a handle names: platform user id, else employee code, else email, else mobile.

    The first kind that matches anyone wins; among several matches active members are preferred.
    Mobiles match ignoring spaces, dashes and a country code (`+86 138-0000-0002` = `13800000002`).
    """
    in_team = Member.team_id == team.id
    # One query for the kinds compared exactly; which kind matched is sorted out here.
    kinds: list[tuple[Callable[[Member], bool], Any]] = [
        (lambda m: m.user_id == handle, Member.user_id == handle),
        (
            lambda m: (m.employee_code or "").lower() == handle.lower(),
            func.lower(Member.employee_code) == handle.lower(),
        ),
    ]
    if "@" in handle:
        kinds.append(
            (lambda m: (m.email or "").lower() == handle.lower(), func.lower(Member.email) == handle.lower())
        )
    candidates = list(
        await session.scalars(
            select(Member).where(in_team, or_(*(sql for _, sql in kinds))).order_by(Member.id)
        )
    )
    for matches, _ in kinds:
        found = [m for m in candidates if matches(m)]
        if found:
            return _prefer_active(found)
    if _PHONE.match(handle):
        wanted = _phone_digits(handle)
        with_mobile = await session.scalars(
            select(Member).where(in_team, Member.mobile.is_not(None)).order_by(Member.id)
        )
        found = [m for m in with_mobile if _same_phone(_phone_digits(m.mobile or ""), wanted)]
        return _prefer_active(found)
    return []


# ---------------------------------------------------------------------------------------------------------


async def _record(
    uow: UnitOfWork,
    request: DealRequest,
    now: datetime,
    *,
    source: str,
    announce: bool | None,
    voided: bool = False,
) -> Deal:
    fields = request.fields
    assert fields is not None
    return await deals.record(
        uow,
        request.team,
        deals.NewDeal(
            member=fields.member,
            amount_minor=fields.money.minor,
            currency=fields.money.currency,
            closed_at=fields.closed_at,
            source=source,
            external_id=request.external_id,
            customer=fields.customer,
            product=fields.product,
        ),
        now,
        announce=announce,
        voided=voided,
    )


_UNKNOWN_DEAL = "the id of a deal already recorded for this team"


def _error(name: str, code: str, allowed: str | list[str], value: object = None) -> PayloadError:
    return PayloadError(name, code, allowed, value)


async def _team(
    session: AsyncSession, slug: str | None, team_ids: list[str], errors: list[PayloadError]
) -> Team | None:
    if slug is None:
        return None
    team = await session.scalar(select(Team).where(Team.slug == slug))
    if team is None:
        errors.append(_error("team", "unknown_team", deal_payload.team_allowed(team_ids), slug))
    return team


async def _deal_fields(
    session: AsyncSession,
    data: Mapping[str, object],
    team: Team | None,
    now: datetime,
    rules: IntakeRules,
    errors: list[PayloadError],
) -> DealFields | None:
    context = {
        "currency": team.currency if team is not None else None,
        "member_of": team.slug if team is not None else None,
        "now": now,
        "max_amount": rules.max_amount,
        "future_tolerance": rules.future_tolerance,
        "earliest": rules.earliest_closed_at,
    }
    body, body_errors = deal_payload.read(deal_payload.DealBody, data, context)
    if team is None:  # only "missing" can be said of a member without the team
        body_errors = [e for e in body_errors if e.field != "member" or e.code == "missing"]
    member = await _member(session, team, body.get("member"), errors) if team is not None else None
    errors += body_errors  # after the member's, which is the body's first field
    if member is None or body_errors or errors:
        return None
    return DealFields(member, body["amount"], body["closed_at"], body["customer"], body["product"])


async def _member(
    session: AsyncSession, team: Team, handle: str | None, errors: list[PayloadError]
) -> Member | None:
    if handle is None:
        return None
    allowed = deal_payload.member_allowed(team.slug)
    found = await match_member(session, team, handle)
    if len(found) != 1:
        errors.append(_error("member", "ambiguous_member" if found else "unknown_member", allowed, handle))
        return None
    return found[0]


def _prefer_active(found: list[Member]) -> list[Member]:
    active = [m for m in found if m.active]
    return active or found


def _phone_digits(text: str) -> str:
    digits = re.sub(r"[^0-9]", "", text)
    return digits[2:] if text.strip().startswith("00") else digits


def _same_phone(a: str, b: str) -> bool:
    """Equal, or equal once a country code of up to three digits is dropped from the longer one."""
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= 7 and len(long) - len(short) <= 3 and long.endswith(short)

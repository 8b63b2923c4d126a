"""The deal payload models alone: every invalid field named at once, no database, no app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.domain.money import Money
from bot.services.deal_payload import DealBody, DealHeader, PayloadError, read

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
CONTEXT = {
    "currency": "CNY",
    "member_of": "east",
    "now": NOW,
    "max_amount": Decimal("100000000"),
    "future_tolerance": timedelta(days=1),
    "earliest": datetime(2000, 1, 1, tzinfo=UTC),
}


def test_a_valid_body_gives_typed_values() -> None:
    body, errors = read(
        DealBody, {"member": " U1 ", "amount": "12,800.50", "customer": "ACME\nLtd", "extra": 1}, CONTEXT
    )
    assert errors == []
    assert body == {
        "member": "U1",
        "currency": "CNY",
        "amount": Money(1_280_050, "CNY"),
        "closed_at": NOW,
        "customer": "ACME Ltd",
        "product": "",
    }


def test_every_invalid_field_is_named_with_code_allowed_and_value() -> None:
    data = {"amount": 0, "currency": "usd", "closed_at": "1999-12-31T23:00:00Z", "product": 42.5}
    body, errors = read(DealBody, data, CONTEXT)
    assert [(e.field, e.code) for e in errors] == [
        ("member", "missing"),
        ("currency", "not_team_currency"),
        ("amount", "not_positive"),
        ("closed_at", "too_early"),
        ("product", "wrong_type"),
    ]
    assert errors[1] == PayloadError("currency", "not_team_currency", ["CNY"], "usd")
    assert "employee code of a member of team east" in str(errors[0].allowed)
    assert body == {"customer": ""}  # only what validated


def test_the_amount_follows_the_payloads_currency_and_a_day_ahead_is_the_limit() -> None:
    free = {**CONTEXT, "currency": None}
    _, errors = read(DealBody, {"member": "U1", "amount": "10.5", "currency": "JPY"}, free)
    assert [(e.field, e.code) for e in errors] == [("amount", "too_precise")]
    ahead = (NOW + timedelta(days=1, seconds=1)).isoformat()
    _, errors = read(DealBody, {"member": "U1", "amount": 1, "closed_at": ahead}, CONTEXT)
    assert [(e.field, e.code) for e in errors] == [("closed_at", "in_future")]


def test_a_bad_header_field_does_not_hide_the_good_ones() -> None:
    header, errors = read(DealHeader, {"id": {"crm": 1}, "team": "east", "status": "VOID"}, {"team_ids": []})
    assert [(e.field, e.code) for e in errors] == [("id", "wrong_type")]
    assert header == {"team": "east", "status": "void"}
    _, errors = read(DealHeader, {"id": "x"}, {"team_ids": ["east", "west"]})
    assert errors == [PayloadError("team", "missing", "a team id: east, west", None)]

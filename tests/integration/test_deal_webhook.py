"""`POST /hooks/deals` over real HTTP on loopback, on SQLite and PostgreSQL: every answer product.md lists.

A CRM posts signed deals; the channel shows the 喜报 the delivery worker sends. Whatever is refused
(4xx) leaves no trace: no deal, no outbox row.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from adapters.web.deals_hook import deal_hook_routes
from adapters.web.server import build_web_app
from bot.app import App, build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.storage.orm import Deal, Member, OutboxRow
from tests.support.chat import Chat, FakeAdapter
from tests.support.deals import SECRET, body_of, signed_headers, write_deals_config
from tests.support.loopback import serve

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
MAX_BODY = 16_384  # room for a 5,000-digit amount, still small enough to test 413 cheaply


@dataclass
class Hook:
    app: App
    chat: Chat
    client: httpx.AsyncClient
    clock: FixedClock
    wakes: list[int] = field(default_factory=list)

    async def post(
        self,
        payload: dict[str, object] | bytes,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = body_of(payload)
        ts = int(self.clock.now().timestamp()) if timestamp is None else timestamp
        sent = signed_headers(body, ts, secret) if headers is None else headers
        return await self.client.post("/hooks/deals", content=body, headers=sent)

    async def deals(self) -> list[Deal]:
        async with self.app.sessionmaker() as session:
            return list(await session.scalars(select(Deal).order_by(Deal.id)))

    async def outbox_keys(self) -> list[str]:
        """The posts enqueued once the announcement queue has caught up, as `teambeat run` would."""
        await self.app.jobs.drain()
        async with self.app.sessionmaker() as session:
            return list(await session.scalars(select(OutboxRow.dedupe_key).order_by(OutboxRow.id)))

    async def member_id(self, user_id: str) -> int:
        async with self.app.sessionmaker() as session:
            return await session.scalar(select(Member.id).where(Member.user_id == user_id))

    async def nothing_stored(self) -> bool:
        return not await self.deals() and not await self.outbox_keys()


@pytest_asyncio.fixture
async def hook(engine, database_url, tmp_path) -> AsyncIterator[Hook]:
    """The team `east` on this test's database, its webhook served on a free loopback port."""
    url, pg_schema = database_url
    clock = FixedClock(WEDNESDAY)
    config = load_config(write_deals_config(tmp_path, url, max_body_bytes=MAX_BODY), environ={})
    app = await build_app(config, clock, migrate=False, pg_schema=pg_schema)
    try:
        wakes: list[int] = []
        asgi = build_web_app(app, {}, deal_hook_routes(app, on_enqueued=lambda: wakes.append(1)))
        async with serve(asgi) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
            yield Hook(app, Chat(app, FakeAdapter(), clock), client, clock, wakes)
    finally:
        await app.close()


def deal(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "id": "crm-1001",
        "team": "east",
        "member": "alice",
        "amount": 12800,
        "customer": "华为",
        "product": "年度订阅",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not ...}


async def test_a_signed_deal_is_announced_once_and_a_resend_is_a_duplicate(hook):
    first = await hook.post(deal())
    assert first.status_code == 202
    assert first.json() == {"status": "recorded", "deal": first.json()["deal"], "announced": True}
    assert hook.wakes, "the delivery worker is woken for the new outbox row"
    await hook.chat.settle()
    [post] = [p for p in hook.chat.channel_posts() if "喜报" in p]
    assert "Alice" in post and "¥1.28万" in post and "华为" in post and "年度订阅" in post

    again = await hook.post(deal(amount=99999))  # a retry, even with other fields, changes nothing
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate" and again.json()["deal"] == first.json()["deal"]
    await hook.chat.settle()
    assert [p for p in hook.chat.channel_posts() if "喜报" in p] == [post]
    [stored] = await hook.deals()
    assert (
        stored.amount_minor == 1_280_000 and stored.source == "webhook" and stored.external_id == "crm-1001"
    )
    assert stored.closed_at == WEDNESDAY  # no closed_at: now
    assert [k for k in await hook.outbox_keys() if k.startswith("deal:")] == [f"deal:{stored.id}"]


async def test_amounts_in_major_units_as_numbers_or_strings_exactly(hook):
    as_decimal = await hook.post(body_of(deal(id="d1")).replace(b"12800", b"12800.05"))
    as_text = await hook.post(deal(id="d2", amount="1,200.50", currency="cny"))
    as_wan = await hook.post(deal(id="d3", amount="1.28万"))
    assert [r.status_code for r in (as_decimal, as_text, as_wan)] == [202, 202, 202]
    assert [d.amount_minor for d in await hook.deals()] == [1_280_005, 120_050, 1_280_000]


def _tampered(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "X-Teambeat-Signature": headers["X-Teambeat-Signature"][:-2] + "00"}


UNSIGNED = {
    "no headers": lambda body, now: {"Content-Type": "application/json"},
    "no signature": lambda body, now: {"X-Teambeat-Timestamp": str(now)},
    "no timestamp": lambda body, now: {
        "X-Teambeat-Signature": signed_headers(body, now)["X-Teambeat-Signature"]
    },
    "forged with another secret": lambda body, now: signed_headers(body, now, "not-the-secret"),
    "signature of another body": lambda body, now: signed_headers(body + b" ", now),
    "altered signature": lambda body, now: _tampered(signed_headers(body, now)),
    "signature without v1=": lambda body, now: {
        **signed_headers(body, now),
        "X-Teambeat-Signature": signed_headers(body, now)["X-Teambeat-Signature"][3:],
    },
    "stale: 301 s old": lambda body, now: signed_headers(body, now - 301),
    "from the future: 301 s ahead": lambda body, now: signed_headers(body, now + 301),
    "timestamp not a number": lambda body, now: {
        **signed_headers(body, now),
        "X-Teambeat-Timestamp": "yesterday",
    },
}


@pytest.mark.parametrize("case", list(UNSIGNED))
async def test_missing_forged_or_stale_signatures_get_401_and_store_nothing(hook, case):
    body = body_of(deal())
    now = int(hook.clock.now().timestamp())
    answer = await hook.post(body, headers=UNSIGNED[case](body, now))
    assert answer.status_code == 401
    assert answer.json()["error"] == "bad_signature"
    assert await hook.nothing_stored()
    assert not hook.wakes


async def test_a_signature_exactly_300_seconds_old_is_still_accepted(hook):
    now = int(hook.clock.now().timestamp())
    assert (await hook.post(deal(id="a"), timestamp=now - 300)).status_code == 202
    assert (await hook.post(deal(id="b"), timestamp=now + 300)).status_code == 202


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b'"a string"', b"\xff\xfe\x00garbage", b'{"id": "x", "amount": NaN}'],
    ids=["broken", "empty", "array", "string", "not utf-8", "NaN"],
)
async def test_a_body_that_is_not_a_json_object_gets_400(hook, body):
    answer = await hook.post(body)
    assert answer.status_code == 400 and answer.json()["error"] == "not_json"
    assert await hook.nothing_stored()


INVALID = [
    ("team", {"team": "west"}, "unknown_team"),
    ("team", {"team": ...}, "missing"),
    ("member", {"member": "zed"}, "unknown_member"),
    ("member", {"member": ...}, "missing"),
    ("amount", {"amount": 0}, "not_positive"),
    ("amount", {"amount": -5}, "not_positive"),
    ("amount", {"amount": "lots"}, "not_a_number"),
    ("amount", {"amount": True}, "wrong_type"),
    ("amount", {"amount": [12800]}, "wrong_type"),
    ("amount", {"amount": ...}, "missing"),
    ("amount", {"amount": "12800.001"}, "too_precise"),
    ("amount", {"amount": 1_000_000_000_000}, "too_large"),
    ("amount", {"amount": "$12800"}, "currency_mismatch"),
    ("currency", {"currency": "XYZ"}, "unknown_currency"),
    ("currency", {"currency": "USD"}, "not_team_currency"),
    ("closed_at", {"closed_at": "2026-11-25T09:00:00"}, "no_offset"),
    ("closed_at", {"closed_at": "yesterday"}, "not_iso8601"),
    ("closed_at", {"closed_at": 1764036000}, "wrong_type"),
    ("closed_at", {"closed_at": "2026-11-26T10:00:01+08:00"}, "in_future"),
    ("status", {"status": "lost"}, "unknown_status"),
    ("id", {"id": ...}, "missing"),
    ("id", {"id": {"crm": 1}}, "wrong_type"),
    ("id", {"id": "x" * 129}, "too_long"),
    ("customer", {"customer": "x" * 301}, "too_long"),
    ("product", {"product": 42.5}, "wrong_type"),
]


@pytest.mark.parametrize(("name", "change", "code"), INVALID, ids=[f"{n}-{c}" for n, _, c in INVALID])
async def test_each_invalid_field_gets_422_naming_it(hook, name, change, code):
    answer = await hook.post(deal(**change))
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_fields"
    [problem] = answer.json()["fields"]
    assert (problem["field"], problem["code"]) == (name, code)
    assert problem["allowed"] and problem["message"].startswith(name)
    assert await hook.nothing_stored()
    assert not hook.wakes


async def test_a_422_names_every_invalid_field_at_once_with_what_is_allowed(hook):
    answer = await hook.post(
        {"id": "", "team": "east", "member": "zed", "amount": 0, "currency": "XYZ", "closed_at": "soon"}
    )
    assert answer.status_code == 422
    fields = {f["field"]: f for f in answer.json()["fields"]}
    assert set(fields) == {"id", "member", "amount", "currency", "closed_at"}
    assert fields["currency"]["allowed"] == ["CNY"]
    assert "employee code" in fields["member"]["allowed"]
    assert "ISO 8601" in fields["closed_at"]["allowed"]

    unknown_team = await hook.post({"id": "x", "team": "west", "member": "zed", "amount": -1})
    fields = {f["field"]: f for f in unknown_team.json()["fields"]}
    assert set(fields) == {"team", "amount"}  # the member cannot be judged without a team
    assert fields["team"]["allowed"] == "a team id: east"
    assert await hook.nothing_stored()


async def test_an_amount_of_five_thousand_digits_is_422_too_large_not_a_json_error(hook):
    body = deal()
    body["amount"] = 1
    raw = json.dumps(body).replace('"amount": 1', '"amount": ' + "9" * 5000).encode()
    answer = await hook.post(raw)
    assert answer.status_code == 422
    assert [(f["field"], f["code"]) for f in answer.json()["fields"]] == [("amount", "too_large")]
    assert await hook.nothing_stored()


async def test_text_no_database_can_store_gets_422_not_500(hook):
    nul = await hook.post(deal(customer="a\u0000b"))
    assert nul.status_code == 422
    assert [(f["field"], f["code"]) for f in nul.json()["fields"]] == [("customer", "bad_character")]
    surrogates = b'{"id": "s\\ud800", "team": "east\\udfff", "member": "\\ud800", "amount": 1}'
    answer = await hook.post(surrogates)
    assert answer.status_code == 422
    assert {f["field"]: f["code"] for f in answer.json()["fields"]} == {
        "id": "bad_character",
        "team": "bad_character",
    }
    assert await hook.nothing_stored()


async def test_a_body_over_max_body_bytes_gets_413_and_stores_nothing(hook):
    big = deal(customer="客" * (MAX_BODY // 3 + 1))  # 3 bytes of UTF-8 each: over MAX_BODY
    answer = await hook.post(big)
    assert answer.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(MAX_BODY // 1000 + 1):
            yield b" " * 1000

    body = b" " * ((MAX_BODY // 1000 + 1) * 1000)
    streamed = await hook.client.post(
        "/hooks/deals", content=chunks(), headers=signed_headers(body, int(hook.clock.now().timestamp()))
    )
    assert streamed.status_code == 413
    assert await hook.nothing_stored()


async def test_a_void_posts_a_correction_once_and_voids_the_deal(hook):
    recorded = await hook.post(deal(id="crm-9", amount=5000))
    await hook.chat.settle()
    void = await hook.post({"id": "crm-9", "team": "east", "status": "void"})
    assert void.status_code == 200
    assert void.json()["status"] == "voided" and void.json()["deal"] == recorded.json()["deal"]
    await hook.chat.settle()
    corrections = [p for p in hook.chat.channel_posts() if "已撤销" in p]
    assert len(corrections) == 1 and "¥5,000" in corrections[0] and "Alice" in corrections[0]
    [stored] = await hook.deals()
    assert stored.voided_at == WEDNESDAY

    again = await hook.post({"id": "crm-9", "team": "east", "status": "void"})
    assert again.status_code == 200 and again.json()["status"] == "already_void"
    await hook.chat.settle()
    assert len([p for p in hook.chat.channel_posts() if "已撤销" in p]) == 1
    rank = await hook.chat.say("boss", "/rank")
    assert "¥5,000" not in rank


async def test_a_void_for_an_unknown_id_is_422_unless_it_carries_the_deal(hook):
    bare = await hook.post({"id": "never-seen", "team": "east", "status": "void"})
    assert bare.status_code == 422
    assert [(f["field"], f["code"]) for f in bare.json()["fields"]] == [("id", "unknown_deal")]
    assert await hook.nothing_stored()

    # A void that overtook its deal: kept as history, announced never, and the late deal is a duplicate.
    early = await hook.post(deal(id="crm-7", status="void"))
    assert early.status_code == 200 and early.json()["status"] == "voided"
    late = await hook.post(deal(id="crm-7"))
    assert late.status_code == 200 and late.json()["status"] == "duplicate"
    [stored] = await hook.deals()
    assert stored.voided_at is not None
    assert await hook.outbox_keys() == []


async def test_a_deal_closed_over_24_hours_ago_is_recorded_silently_and_counts_in_its_own_week(hook):
    monday = WEDNESDAY - timedelta(days=2)
    answer = await hook.post(deal(id="old", amount=7000, closed_at=monday.isoformat()))
    assert answer.status_code == 202 and answer.json()["announced"] is False
    [stored] = await hook.deals()
    assert stored.closed_at == monday
    assert await hook.outbox_keys() == []
    utc = await hook.post(deal(id="old-z", amount=100, closed_at="2026-11-24T17:00:00Z"))
    assert utc.status_code == 202 and utc.json()["announced"] is True  # 9 h ago: announced
    week = await hook.chat.say("boss", "/rank week")
    today = await hook.chat.say("boss", "/rank")
    assert "¥7,100" in week and "¥7,000" not in today


@pytest.mark.parametrize(
    "handle",
    [
        "alice",
        "alice@example.com",
        "ALICE@Example.COM",
        "E002",
        "e002",
        "+8613800000002",
        "138 0000 0002",
        "0086-138-0000-0002",
    ],
)
async def test_the_member_is_matched_by_user_id_email_mobile_or_employee_code(hook, handle):
    answer = await hook.post(deal(member=handle))
    assert answer.status_code == 202, answer.text
    [stored] = await hook.deals()
    assert stored.member_id == await hook.member_id("alice")


async def test_the_same_id_sent_concurrently_makes_one_deal_and_one_announcement(hook):
    answers = await asyncio.gather(*(hook.post(deal(id="race")) for _ in range(12)))
    assert sorted(a.status_code for a in answers) == [200] * 11 + [202]
    assert len({a.json()["deal"] for a in answers}) == 1
    assert len(await hook.deals()) == 1
    assert len([k for k in await hook.outbox_keys() if k.startswith("deal:")]) == 1


async def test_a_burst_of_different_deals_is_all_recorded_with_one_first_deal_milestone(hook):
    answers = await asyncio.gather(*(hook.post(deal(id=f"b{i}", amount=100 + i)) for i in range(25)))
    assert [a.status_code for a in answers] == [202] * 25, [a.text for a in answers if a.status_code != 202]
    keys = await hook.outbox_keys()
    assert len([k for k in keys if k.startswith("deal:")]) == 25
    assert len([k for k in keys if k.startswith("milestone:first:")]) == 1
    async with hook.app.sessionmaker() as session:
        total = await session.scalar(select(func.sum(Deal.amount_minor)))
    assert Decimal(total) == sum(Decimal(100 + i) * 100 for i in range(25))


async def test_without_a_secret_the_route_does_not_exist(tmp_path):
    config = load_config(write_deals_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"), environ={})
    config = config.model_copy(update={"hooks": config.hooks.model_copy(update={"deals_secret": ""})})
    app = await build_app(config, FixedClock(WEDNESDAY))
    try:
        assert deal_hook_routes(app) == []
        async with (
            serve(build_web_app(app, {}, deal_hook_routes(app))) as base,
            httpx.AsyncClient() as client,
        ):
            answer = await client.post(f"{base}/hooks/deals", content=json.dumps(deal()))
        assert answer.status_code == 404
    finally:
        await app.close()

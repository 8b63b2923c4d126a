"""deal_intake and csv_io without HTTP or a CLI: the rules the webhook and the import share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.domain.events import DealRecorded, DealVoided
from bot.services import csv_io, deal_intake, deals
from bot.services.directory import team_by_slug
from bot.storage.orm import Deal, Member
from bot.storage.uow import UnitOfWork
from tests.support.deals import write_deals_config

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
RULES = deal_intake.IntakeRules()


@pytest_asyncio.fixture
async def app(engine, database_url, tmp_path) -> AsyncIterator[App]:
    url, pg_schema = database_url
    config = load_config(write_deals_config(tmp_path, url), environ={})
    app = await build_app(config, FixedClock(NOW), migrate=False, pg_schema=pg_schema)
    try:
        yield app
    finally:
        await app.close()


async def submit(app: App, **data: object) -> deal_intake.IntakeResult:
    return await deal_intake.submit(app.uow_factory, {"team": "east", **data}, NOW, RULES)


async def user_of(app: App, deal_id: int) -> str:
    async with app.sessionmaker() as session:
        deal = await session.get(Deal, deal_id)
        return (await session.get(Member, deal.member_id)).user_id


async def test_each_outcome_of_a_submission(app):
    recorded = await submit(app, id="a", member="bob", amount="800")
    assert (recorded.outcome, recorded.announced) == ("recorded", True)
    assert (await submit(app, id="a", member="alice", amount=1)).outcome == "duplicate"
    assert (await submit(app, id="a", status="VOID")).outcome == "voided"
    assert (await submit(app, id="a", status="void")).outcome == "already_void"
    old = await submit(app, id="b", member="bob", amount=5, closed_at=(NOW - timedelta(hours=25)).isoformat())
    assert (old.outcome, old.announced) == ("recorded", False)
    born_void = await submit(app, id="c", member="E003", amount=9, status="void")
    assert born_void.outcome == "voided" and await user_of(app, born_void.deal_id) == "bob"


async def test_an_external_id_is_unique_per_team_whichever_door_it_came_through(app):
    async with app.uow_factory() as uow:
        team = await team_by_slug(uow.session, "east")
        alice = await uow.session.scalar(select(Member).where(Member.user_id == "alice"))
        chat_deal = await deals.record(
            uow, team, deals.NewDeal(alice, 100, "CNY", NOW, external_id="x1"), NOW
        )
        await uow.commit()
    again = await submit(app, id="x1", member="bob", amount=200)
    assert (again.outcome, again.deal_id) == ("duplicate", chat_deal.id)


async def test_members_match_by_kind_in_order_preferring_active_members(app):
    async with app.sessionmaker() as session:
        await session.execute(
            update(Member)
            .where(Member.user_id == "carol")
            .values(email="ALICE@example.com", mobile="13800000002")
        )
        await session.commit()
    with pytest.raises(deal_intake.InvalidDeal) as ambiguous:
        await submit(app, id="m1", member="alice@example.com", amount=1)
    assert [(e.field, e.code) for e in ambiguous.value.errors] == [("member", "ambiguous_member")]
    # A user id beats an email, and an employee code beats a mobile, whatever else matches.
    assert await user_of(app, (await submit(app, id="m2", member="alice", amount=1)).deal_id) == "alice"
    async with app.sessionmaker() as session:
        await session.execute(update(Member).where(Member.user_id == "alice").values(active=False))
        await session.commit()
    by_mobile = await submit(app, id="m3", member="+86 13800000002", amount=1)
    assert await user_of(app, by_mobile.deal_id) == "carol"  # the active one of the two
    by_code = await submit(app, id="m4", member="e002", amount=1)
    assert await user_of(app, by_code.deal_id) == "alice"  # one match, active or not: history still counts


async def test_validation_names_every_problem_without_touching_the_database(app):
    with pytest.raises(deal_intake.InvalidDeal) as invalid:
        await submit(app, id=" ", member="nobody", amount="1.234", currency="usd", product=["x"])
    assert [(e.field, e.code) for e in invalid.value.errors] == [
        ("id", "missing"),
        ("member", "unknown_member"),
        ("currency", "not_team_currency"),
        ("amount", "too_precise"),
        ("product", "wrong_type"),
    ]
    body = invalid.value.errors[3].as_dict()
    assert body["value"] == "1.234" and "at most 2 decimals" in body["allowed"]
    async with app.sessionmaker() as session:
        assert list(await session.scalars(select(Deal))) == []


async def test_an_import_voiding_its_own_deal_announces_neither(app):
    rows = [
        csv_io.CsvRow(2, {"id": "k1", "member": "alice", "amount": "100", "status": ""}),
        csv_io.CsvRow(3, {"id": "k2", "member": "bob", "amount": "200", "status": "won"}),
        csv_io.CsvRow(4, {"id": "k1", "member": "", "amount": "", "status": "void"}),
    ]
    async with app.uow_factory() as uow:
        team = await team_by_slug(uow.session, "east")
        report = await csv_io.import_deals(uow, team, rows, NOW, RULES, announce=True)
        events = list(uow.events)
        await uow.commit()
    assert (report.recorded, report.announced, report.voided) == (2, 1, 1)
    assert [type(e) for e in events] == [DealRecorded, DealRecorded]
    assert [e.announce for e in events] == [False, True]
    assert not any(isinstance(e, DealVoided) for e in events)


async def test_an_import_with_errors_raises_with_each_line_and_leaves_nothing(app):
    rows = [
        csv_io.CsvRow(2, {"id": "ok", "member": "alice", "amount": "100"}),
        csv_io.CsvRow(3, {"id": "bad", "member": "alice", "amount": "-1"}),
        csv_io.CsvRow(4, {"id": "wide", "member": "alice", "amount": "1"}, overflow=1),
    ]
    uow = UnitOfWork(app.sessionmaker)
    async with uow:
        team = await team_by_slug(uow.session, "east")
        with pytest.raises(csv_io.ImportFailed) as failed:
            await csv_io.import_deals(uow, team, rows, NOW, RULES, announce=False)
    assert [str(e).split(":")[0] for e in failed.value.errors] == ["line 3", "line 4"]
    assert "beyond the last column" in str(failed.value.errors[1])
    async with app.sessionmaker() as session:
        assert list(await session.scalars(select(Deal))) == []


async def test_formula_like_text_is_guarded_in_the_export_and_restored_by_the_import(app):
    typed = {
        "id": "=1+1",
        "member": "alice",
        "amount": "10",
        "customer": "@SUM(A1)",
        "closed_at": "2026-11-24T10:00:00+08:00",
    }
    async with UnitOfWork(app.sessionmaker) as uow:
        team = await team_by_slug(uow.session, "east")
        await csv_io.import_deals(uow, team, [csv_io.CsvRow(2, typed)], NOW, RULES, announce=False)
        await uow.commit()
        exported = await csv_io.export_deals(uow, team, date(2026, 11, 24), date(2026, 11, 24))
    [row] = csv_io.read_rows(csv_io.for_excel(exported))
    assert (row.values["id"], row.values["customer"]) == ("'=1+1", "'@SUM(A1)")  # Excel shows, never runs
    async with UnitOfWork(app.sessionmaker) as uow:
        team = await team_by_slug(uow.session, "east")
        report = await csv_io.import_deals(uow, team, [row], NOW, RULES, announce=False)
    assert (report.recorded, report.duplicates) == (0, 1)  # the same deal, recognised by its real id

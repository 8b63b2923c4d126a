"""Deals that must not break the posts after them (issue 19, items 4, 5 and 7), on SQLite and PostgreSQL.

- A `closed_at` outside 2000-01-01 … now + 1 day is refused, naming the field, by the webhook and the
  CSV import; a deal stored with one anyway (from before the check) no longer stops the announcements
  after it; and an announcement that fails every time is set aside with its reason, counted by
  `teambeat status` and /metrics, while the deals behind it are announced.
- One deal per (team, id) whichever door: the webhook racing a CSV import records each id once and
  announces it once.
- A line break in a customer or product never starts a line of a post.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import insert, select, text, update

from bot.announcer import Announcer
from bot.delivery.status import outbox_status, render_status
from bot.jobs import queue as jobs_queue
from bot.jobs.kinds import ANNOUNCE_DEAL, announce_key
from bot.services import csv_io, deal_intake, deals
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from bot.storage.orm import Deal, JobRow, Member, OutboxRow, Team, Workspace
from tests.integration import test_deal_webhook
from tests.integration.test_deal_webhook import Hook, deal

hook = test_deal_webhook.hook  # the fixture: team `east`, its webhook served on loopback

WEST = "America/Los_Angeles"
SEPARATORS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"]


async def _set_timezone(hook: Hook, tz: str) -> None:
    async with hook.app.sessionmaker() as session:
        await session.execute(update(Team).values(timezone=tz))
        await session.commit()


async def _deal_keys(hook: Hook) -> list[str]:
    return [key for key in await hook.outbox_keys() if key.startswith("deal:")]


async def _insert_directly(hook: Hook, external_id: str, closed_at: datetime, **fields: str) -> int:
    """A deal written past intake's checks, as one stored before them was: waiting to be announced
    (flagged, with its job, as the migration leaves such deals)."""
    async with hook.app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team))
        alice = await uow.session.scalar(select(Member).where(Member.user_id == "alice"))
        values = dict(
            team_id=team.id,
            member_id=alice.id,
            amount_minor=100_00,
            currency="CNY",
            customer=fields.get("customer", ""),
            product=fields.get("product", ""),
            source="webhook",
            external_id=external_id,
            closed_at=closed_at,
            created_at=hook.clock.now(),
            created_by_id=alice.id,
            announce_pending=True,
        )
        deal_id = await uow.session.scalar(Deal.__table__.insert().values(**values).returning(Deal.id))
        await jobs_queue.enqueue(
            uow.session, ANNOUNCE_DEAL, {"deal_id": deal_id}, now=hook.clock.now(), key=announce_key(deal_id)
        )
        await uow.commit()
    return deal_id


# --- item 4: closed_at outside 2000-01-01 … now + 1 day ----------------------------------------------------


@pytest.mark.parametrize(
    "closed_at",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+08:00",
        "0001-01-01T00:00:00-08:00",
        "1999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-08:00",
        "2026-11-27T10:00:00+08:00",  # two days ahead
    ],
)
@pytest.mark.parametrize("tz", [WEST, "Asia/Shanghai"])
async def test_a_closed_at_outside_2000_to_now_is_refused_naming_closed_at(hook, closed_at, tz):
    await _set_timezone(hook, tz)
    response = await hook.post(deal(id="far", closed_at=closed_at))
    assert response.status_code == 422, response.text
    [error] = response.json()["fields"]
    assert error["field"] == "closed_at" and "2000-01-01" in error["allowed"]
    assert await hook.nothing_stored()
    assert (await hook.post(deal(id="next"))).status_code == 202
    assert len(await _deal_keys(hook)) == 1


@pytest.mark.parametrize("closed_at", ["2000-01-01T00:00:00Z", "2026-11-26T09:59:00+08:00"])
async def test_a_closed_at_from_2000_to_a_day_ahead_is_accepted(hook, closed_at):
    assert (await hook.post(deal(id="edge", closed_at=closed_at))).status_code == 202
    assert [d.external_id for d in await hook.deals()] == ["edge"]


async def test_the_csv_import_refuses_a_closed_at_before_2000_with_a_clear_message(hook):
    rows = csv_io.read_rows(
        b"id,member,amount,closed_at\nok,alice,100,2026-11-25T09:00:00+08:00\nold,bob,100,0001-01-01T00:00:00Z\n"
    )
    async with hook.app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team))
        with pytest.raises(csv_io.ImportFailed) as refused:
            await csv_io.import_deals(
                uow, team, rows, hook.clock.now(), deal_intake.IntakeRules(), announce=False
            )
    [problem] = refused.value.errors
    assert problem.line == 3 and str(problem).startswith("line 3: closed_at is before 2000-01-01")
    assert await hook.nothing_stored()


async def test_a_deal_stored_with_year_1_does_not_stop_the_announcements_after_it(hook):
    """West of UTC its local day overflowed the period maths of every later deal's records, for good."""
    await _set_timezone(hook, WEST)
    await _insert_directly(hook, "year-1", datetime(1, 1, 1, tzinfo=UTC))
    await hook.app.jobs.drain()
    for n in range(3):
        assert (await hook.post(deal(id=f"later-{n}"))).status_code == 202
    assert len(await _deal_keys(hook)) == 4
    async with hook.app.sessionmaker() as session:
        assert await jobs_queue.parked_count(session) == 0


# --- item 4: an announcement that fails every time is set aside ---------------------------------------------


async def _east_and_alice(connection, at: datetime) -> tuple[int, int]:
    """Team east and its member alice, written directly (a database at an old revision): their ids."""
    workspace = await connection.scalar(
        insert(Workspace).values(platform="console", external_id="W1", name="").returning(Workspace.id)
    )
    team = await connection.scalar(
        insert(Team)
        .values(slug="east", name="East", workspace_id=workspace, created_at=at)
        .returning(Team.id)
    )
    alice = await connection.scalar(
        insert(Member).values(team_id=team, user_id="alice", name="Alice", joined_at=at).returning(Member.id)
    )
    return team, alice


def _poisoned(monkeypatch: pytest.MonkeyPatch, failures: dict[str, int] | None = None) -> list[str]:
    """Announcing a deal whose external id starts with "poison" raises (for `failures[id]` attempts, or
    always); the ids tried, in order."""
    tried: list[str] = []
    original = Announcer.announce_deal

    async def announce_deal(self, uow, deal):
        tried.append(deal.external_id)
        if deal.external_id.startswith("poison"):
            left = None if failures is None else failures.get(deal.external_id, 0)
            if left is None or left > 0:
                if failures is not None:
                    failures[deal.external_id] = left - 1
                raise RuntimeError(f"cannot build the post for {deal.external_id}")
        await original(self, uow, deal)

    monkeypatch.setattr(Announcer, "announce_deal", announce_deal)
    return tried


def _retry_at_once(hook: Hook) -> int:
    """No backoff (the hook's clock stands still): a failed job is due again at once; max attempts."""
    hook.app.jobs.settings = dataclasses.replace(hook.app.jobs.settings, backoff=0.0)
    return hook.app.jobs.settings.max_attempts


async def _job_of(hook: Hook, deal_id: int) -> JobRow | None:
    async with hook.app.sessionmaker() as session:
        return await session.scalar(select(JobRow).where(JobRow.key == announce_key(deal_id)))


async def test_an_announcement_failing_every_time_is_set_aside_and_the_deals_after_it_are_announced(
    hook, monkeypatch
):
    tried = _poisoned(monkeypatch)
    attempts = _retry_at_once(hook)
    for external_id in ("first", "poison", "after-1", "after-2"):
        assert (await hook.post(deal(id=external_id))).status_code == 202
    keys = await _deal_keys(hook)
    stored = {d.external_id: d for d in await hook.deals()}
    assert keys == [f"deal:{stored[i].id}" for i in ("first", "after-1", "after-2")]
    assert tried.count("poison") == attempts  # a few attempts, then set aside
    poison = stored["poison"]
    job = await _job_of(hook, poison.id)
    assert not poison.announce_pending and job is not None and job.parked_at is not None
    assert job.attempts == attempts
    assert job.last_error == "RuntimeError: cannot build the post for poison"
    assert [await _job_of(hook, d.id) for d in stored.values() if d is not poison] == [None] * 3  # done

    async with hook.app.sessionmaker() as session:
        text = render_status(await outbox_status(session), hook.clock.now())
    assert "announcements set aside after failing every attempt: 1" in text
    assert f"deal #{poison.id} (team east, id poison)" in text
    assert "RuntimeError: cannot build the post for poison" in text

    metrics = await hook.client.get("/metrics")
    assert "teambeat_announcements_parked 1.0" in metrics.text.splitlines()

    assert (await hook.post(deal(id="poison", amount=1))).json()["status"] == "duplicate"
    await hook.app.jobs.drain()
    assert tried.count("poison") == attempts  # set aside for good: never tried again


async def test_an_announcement_that_fails_once_is_tried_again_and_announced(hook, monkeypatch):
    tried = _poisoned(monkeypatch, {"poison-once": 1})
    _retry_at_once(hook)
    for external_id in ("poison-once", "after"):
        assert (await hook.post(deal(id=external_id))).status_code == 202
    stored = {d.external_id: d for d in await hook.deals()}
    assert await _deal_keys(hook) == [f"deal:{stored['poison-once'].id}", f"deal:{stored['after'].id}"]
    assert tried[:3] == ["poison-once", "poison-once", "after"]
    assert await _job_of(hook, stored["poison-once"].id) is None  # done, not parked
    metrics = await hook.client.get("/metrics")
    assert "teambeat_announcements_parked 0.0" in metrics.text.splitlines()


async def test_a_parked_deal_voided_later_posts_no_correction(hook, monkeypatch):
    _poisoned(monkeypatch)
    _retry_at_once(hook)
    assert (await hook.post(deal(id="poison"))).status_code == 202
    await hook.app.jobs.drain()
    voided = await hook.post({"id": "poison", "team": "east", "status": "void"})
    assert voided.json()["status"] == "voided"
    assert [k for k in await hook.outbox_keys() if k.startswith(("deal:", "void:"))] == []


# --- item 5: one deal per (team, id), whichever door -------------------------------------------------------


async def _csv_import(
    hook: Hook, ids: list[str], *, written: asyncio.Event | None = None, commit: asyncio.Event | None = None
) -> None:
    """`teambeat deals import --announce` in one transaction; `written` is set once its rows are written
    and it then waits for `commit` before committing them."""
    body = "id,member,amount\n" + "".join(f"{i},bob,{100 + n}\n" for n, i in enumerate(ids))
    rows = csv_io.read_rows(body.encode())
    async with hook.app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team))
        await csv_io.import_deals(uow, team, rows, hook.clock.now(), deal_intake.IntakeRules(), announce=True)
        await uow.session.flush()
        if written is not None and commit is not None:
            written.set()
            await commit.wait()
        await uow.commit()


async def test_the_webhook_answers_duplicate_for_an_id_an_import_is_recording_meanwhile(hook):
    """The import has written the id but not committed: the webhook's insert waits for it and, once it
    commits, answers 200 duplicate. Before, the two doors' rows differed in `source` and both stayed."""
    written, commit = asyncio.Event(), asyncio.Event()
    importing = asyncio.create_task(_csv_import(hook, ["crm-7"], written=written, commit=commit))
    await asyncio.wait_for(written.wait(), 30)
    posting = asyncio.create_task(hook.post(deal(id="crm-7")))
    await asyncio.sleep(0.5)  # the webhook has looked the id up (not there yet) and waits to insert it
    commit.set()
    await importing
    response = await posting
    assert response.status_code == 200 and response.json()["status"] == "duplicate", response.text
    [stored] = await hook.deals()
    assert stored.source == "csv" and response.json()["deal"] == stored.id
    assert await _deal_keys(hook) == [f"deal:{stored.id}"]


@pytest.mark.slow
async def test_the_webhook_racing_a_csv_import_with_the_same_ids_records_and_announces_each_once(hook):
    ids = [f"crm-{n}" for n in range(40)]
    answers = await asyncio.gather(
        _csv_import(hook, ids),
        *(hook.post(deal(id=i, amount=500)) for i in reversed(ids)),
        return_exceptions=True,
    )
    assert not [a for a in answers if isinstance(a, BaseException)], answers
    assert {a.status_code for a in answers[1:]} <= {200, 202}
    stored = await hook.deals()
    assert sorted(d.external_id for d in stored) == sorted(ids)
    assert sorted(await _deal_keys(hook)) == sorted(f"deal:{d.id}" for d in stored)


async def test_concurrent_records_of_one_id_through_different_doors_store_one_deal(hook):
    async def submit(source: str) -> deal_intake.IntakeResult:
        return await deal_intake.submit(
            hook.app.uow_factory,
            {"id": "same", "team": "east", "member": "alice", "amount": 100},
            hook.clock.now(),
            deal_intake.IntakeRules(),
            source=source,
        )

    results = await asyncio.gather(*(submit(source) for source in ("webhook", "csv", "webhook", "csv")))
    assert sorted(r.outcome for r in results) == ["duplicate", "duplicate", "duplicate", "recorded"]
    assert len({r.deal_id for r in results}) == 1
    assert len(await hook.deals()) == 1
    assert len(await _deal_keys(hook)) == 1


async def test_the_database_refuses_a_second_deal_with_the_same_id_from_another_source(hook):
    async with hook.app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team))
        alice = await uow.session.scalar(select(Member).where(Member.user_id == "alice"))
        for source in ("webhook", "csv"):
            new = deals.NewDeal(alice, 100, "CNY", hook.clock.now(), source=source, external_id="x")
            if source == "webhook":
                await deals.record(uow, team, new, hook.clock.now())
            else:
                with pytest.raises(deals.DuplicateDeal):
                    await deals.record(uow, team, new, hook.clock.now())
        await uow.commit()
    assert [d.source for d in await hook.deals()] == ["webhook"]


# --- item 7: line breaks in customer and product ------------------------------------------------------------


@pytest.mark.parametrize("separator", SEPARATORS)
async def test_a_line_break_in_customer_or_product_never_starts_a_line_of_the_post(hook, separator):
    fake = "🎉 喜报：Bob 成交 ¥99.99万"
    response = await hook.post(deal(customer=f"华为{separator}{fake}", product=f"年度{separator}订阅"))
    assert response.status_code == 202
    [stored] = await hook.deals()
    assert stored.customer == f"华为 {fake}" and stored.product == "年度 订阅"
    await hook.chat.settle()
    [post] = [p for p in hook.chat.channel_posts() if "华为" in p]
    assert not [line for line in post.splitlines() if line.lstrip().startswith(fake)], post
    assert any("华为" in line and fake in line for line in post.splitlines()), post


async def test_the_csv_import_keeps_customer_and_product_on_one_line(hook):
    rows = csv_io.read_rows(
        'id,member,amount,customer,product\nc1,alice,100,"华为\n第二行","A\u2028B"\n'.encode()
    )
    async with hook.app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team))
        await csv_io.import_deals(
            uow, team, rows, hook.clock.now(), deal_intake.IntakeRules(), announce=False
        )
        await uow.commit()
    [stored] = await hook.deals()
    assert (stored.customer, stored.product) == ("华为 第二行", "A B")


async def test_a_chat_deal_keeps_its_note_on_one_line(hook):
    await hook.chat.say("alice", '/deal 12800 "华为\u2028🎉 Bob 99万"')
    [stored] = await hook.deals()
    assert stored.customer == "华为 🎉 Bob 99万"


@pytest.mark.parametrize("separator", SEPARATORS)
async def test_stored_line_breaks_are_rendered_on_one_line_in_the_post_and_the_digest(hook, separator):
    """Deals stored before intake kept them on one line: the 喜报 and a digest line show them as spaces."""
    for n in range(3):
        await _insert_directly(hook, f"old-{n}", hook.clock.now(), customer=f"客户{n}{separator}2. 假的")
    await hook.app.jobs.drain()
    async with hook.app.sessionmaker() as session:
        payloads = [row for row in await session.scalars(select(OutboxRow).order_by(OutboxRow.id))]
    assert payloads
    await hook.chat.settle()
    posts = hook.chat.channel_posts()
    assert any("客户0 2. 假的" in p for p in posts), posts
    for post in posts:
        assert not [line for line in post.splitlines() if line.lstrip().startswith("2. 假的")], post


OLD_DEALS = sa.table(
    "deals",
    *(
        sa.column(name)
        for name in (
            "team_id",
            "member_id",
            "amount_minor",
            "currency",
            "customer",
            "product",
            "source",
            "external_id",
            "closed_at",
            "created_at",
        )
    ),
)
"""The deals table's columns at revision 0009 (`announce_pending` has a server default)."""


async def test_the_migration_keeps_the_first_of_each_id_recorded_twice(database_url):
    """A database where the race already recorded ids twice (through two doors) upgrades to one deal each."""
    url, pg_schema = database_url
    await upgrade(url, pg_schema=pg_schema, revision="0009")
    engine = create_engine(url, pg_schema=pg_schema)
    at = datetime(2026, 11, 25, 2, tzinfo=UTC)
    try:
        async with engine.begin() as connection:
            team, alice = await _east_and_alice(connection, at)
            rows = [
                ("crm-1", "webhook", 100),
                ("crm-1", "csv", 200),
                ("crm-2", "csv", 300),
                ("crm-1", "chat", 400),
            ]
            for external_id, source, amount in rows:
                await connection.execute(
                    insert(OLD_DEALS).values(
                        team_id=team,
                        member_id=alice,
                        amount_minor=amount,
                        currency="CNY",
                        customer="",
                        product="",
                        source=source,
                        external_id=external_id,
                        closed_at=at.replace(tzinfo=None),
                        created_at=at.replace(tzinfo=None),
                    )
                )
        await upgrade(url, pg_schema=pg_schema)
        async with engine.connect() as connection:
            kept = (
                await connection.execute(
                    text("SELECT external_id, source, amount_minor FROM deals ORDER BY id")
                )
            ).all()
        assert [tuple(row) for row in kept] == [("crm-1", "webhook", 100), ("crm-2", "csv", 300)]
    finally:
        await engine.dispose()


DEALS_0013 = sa.table(
    "deals",
    *(sa.column(column.name) for column in OLD_DEALS.c),
    sa.column("announce_pending"),
    sa.column("announce_attempts"),
    sa.column("announce_error"),
    sa.column("announce_parked_at"),
)
"""The deals table's columns at revision 0013: the announcement queue was flags on the deal."""


async def test_the_migration_turns_deals_waiting_or_set_aside_into_announce_jobs(database_url):
    """Deals flagged `announce_pending` at the upgrade become announce_deal jobs (announced after it);
    deals set aside become parked jobs with their attempts and reason (still shown by `status`)."""
    url, pg_schema = database_url
    await upgrade(url, pg_schema=pg_schema, revision="0013")
    engine = create_engine(url, pg_schema=pg_schema)
    at = datetime(2026, 11, 25, 2, tzinfo=UTC)
    naive = at.replace(tzinfo=None)
    try:
        async with engine.begin() as connection:
            team, alice = await _east_and_alice(connection, at)
            states = {
                "waiting": (True, 1, "RuntimeError: once", None),
                "announced": (False, 0, None, None),
                "parked": (False, 3, "RuntimeError: never", naive),
            }
            for external_id, (pending, attempts, error, parked_at) in states.items():
                await connection.execute(
                    insert(DEALS_0013).values(
                        team_id=team,
                        member_id=alice,
                        amount_minor=100,
                        currency="CNY",
                        customer="",
                        product="",
                        source="webhook",
                        external_id=external_id,
                        closed_at=naive,
                        created_at=naive,
                        announce_pending=pending,
                        announce_attempts=attempts,
                        announce_error=error,
                        announce_parked_at=parked_at,
                    )
                )
        await upgrade(url, pg_schema=pg_schema)
        async with engine.connect() as connection:
            ids = dict((await connection.execute(select(Deal.external_id, Deal.id))).all())
            jobs = (await connection.execute(select(JobRow).order_by(JobRow.id))).all()
    finally:
        await engine.dispose()
    assert [(j.kind, j.key, j.payload, j.team_id, j.attempts, j.last_error) for j in jobs] == [
        (
            ANNOUNCE_DEAL,
            announce_key(ids["waiting"]),
            f'{{"deal_id":{ids["waiting"]}}}',
            team,
            1,
            "RuntimeError: once",
        ),
        (
            ANNOUNCE_DEAL,
            announce_key(ids["parked"]),
            f'{{"deal_id":{ids["parked"]}}}',
            team,
            3,
            "RuntimeError: never",
        ),
    ]
    assert jobs[0].parked_at is None and jobs[0].run_after == at
    assert jobs[1].parked_at == at

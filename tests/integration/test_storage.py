"""Storage behaviour every later layer relies on, checked on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery.outbox import enqueue
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text
from bot.storage.db import create_engine, create_sessionmaker, is_postgres
from bot.storage.migrate import check_schema_current, upgrade_engine
from bot.storage.orm import (
    Deal,
    Group,
    Leave,
    Member,
    OutboxRow,
    ProcessedEvent,
    ScheduledPost,
    Team,
    Workspace,
)
from bot.storage.uow import UnitOfWork, UnitOfWorkFactory

NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Seed:
    team_id: int
    group_id: int
    alice_id: int
    bob_id: int


async def seed(session: AsyncSession, slug: str = "east") -> Seed:
    """A team with one group and two members, committed."""
    workspace = Workspace(platform="slack", external_id=f"T-{slug}", name="Acme")
    team = Team(slug=slug, name="华东一部", workspace=workspace, created_at=NOW)
    session.add(team)
    await session.flush()
    group = Group(team_id=team.id, name="狼队", slogan="狼性出击")
    session.add(group)
    await session.flush()
    alice = Member(team_id=team.id, user_id="U1", name="Alice", group_id=group.id, joined_at=NOW)
    bob = Member(team_id=team.id, user_id="U2", name="Bob", joined_at=NOW)
    session.add_all([alice, bob])
    await session.commit()
    return Seed(team.id, group.id, alice.id, bob.id)


def make_deal(s: Seed, *, external_id: str = "d1", source: str = "chat", amount: int = 1_280_000) -> Deal:
    return Deal(
        team_id=s.team_id,
        member_id=s.alice_id,
        amount_minor=amount,
        currency="CNY",
        source=source,
        external_id=external_id,
        closed_at=NOW,
        created_at=NOW,
    )


def make_outbox(dedupe_key: str, team_id: int | None = None) -> OutboxRow:
    return OutboxRow(
        dedupe_key=dedupe_key,
        team_id=team_id,
        platform="slack",
        workspace="T1",
        channel_id="C1",
        channel_kind="group",
        destination="slack:T1:C1",
        payload="{}",
        next_attempt_at=NOW,
        created_at=NOW,
    )


async def count(session: AsyncSession, model: type) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


# --- column types -------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [1, 999_999_999_999_999, 2**62 + 7, -(2**40)])
async def test_money_round_trips_exactly(sessionmaker: async_sessionmaker[AsyncSession], amount: int) -> None:
    async with sessionmaker() as session:
        s = await seed(session)
        session.add(make_deal(s, amount=amount))
        await session.commit()
    async with sessionmaker() as session:
        stored = (await session.execute(select(Deal.amount_minor))).scalar_one()
        total = (await session.execute(select(func.sum(Deal.amount_minor)))).scalar_one()
    assert stored == amount and type(stored) is int
    assert int(total) == amount


async def test_utc_datetime_comes_back_aware_utc(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    local = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=SHANGHAI)
    async with sessionmaker() as session:
        s = await seed(session)
        deal = make_deal(s)
        deal.closed_at = local
        session.add(deal)
        await session.commit()
    async with sessionmaker() as session:
        closed_at = (await session.execute(select(Deal.closed_at))).scalar_one()
        # Filtering with an aware bound in another zone compares instants, not wall clocks.
        hits = await session.execute(select(Deal.id).where(Deal.closed_at >= local.astimezone(UTC)))
    assert closed_at.tzinfo is UTC
    assert closed_at == local
    assert closed_at.hour == 1 and closed_at.microsecond == 123456
    assert len(hits.all()) == 1


async def test_utc_datetime_rejects_naive(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        s = await seed(session)
        deal = make_deal(s)
        deal.closed_at = datetime(2026, 11, 23, 9, 30)
        session.add(deal)
        with pytest.raises(StatementError) as caught:
            await session.flush()
    assert isinstance(caught.value.orig, ValueError)
    assert "naive" in str(caught.value.orig)


async def test_json_columns_round_trip(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    schedule = {"checkin": "09:00", "reminders": ["10:30", "11:00"], "weekly": "fri 18:30", "n": 3}
    questions = [
        {"key": "plan", "prompt": {"zh-CN": "今天的目标？", "en": "Today's goal?"}, "required": True}
    ]
    async with sessionmaker() as session:
        s = await seed(session)
        team = await session.get_one(Team, s.team_id)
        team.schedule = schedule
        team.extra_holidays = ["2027-01-01"]
        team.checkin_questions = questions
        await session.commit()
    async with sessionmaker() as session:
        team = await session.get_one(Team, s.team_id)
        assert team.schedule == schedule
        assert team.extra_holidays == ["2027-01-01"]
        assert team.extra_workdays == []
        assert team.settings == {}
        assert team.checkin_questions == questions


# --- constraints --------------------------------------------------------------------------------------


async def test_deal_unique_per_team_and_external_id_whatever_the_source(session: AsyncSession) -> None:
    s = await seed(session)
    session.add_all([make_deal(s, external_id="x"), make_deal(s, external_id="y", source="webhook")])
    await session.commit()
    session.add(make_deal(s, external_id="x", source="webhook"))  # the same deal through another door
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_outbox_dedupe_key_is_unique(session: AsyncSession) -> None:
    session.add(make_outbox("deal:1:announce"))
    await session.commit()
    session.add(make_outbox("deal:1:announce"))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_scheduled_post_once_per_team_kind_and_period(session: AsyncSession) -> None:
    s = await seed(session)
    session.add_all(
        [
            ScheduledPost(team_id=s.team_id, kind="morning", period_key="2026-11-23", created_at=NOW),
            ScheduledPost(team_id=s.team_id, kind="recap", period_key="2026-11-23", created_at=NOW),
            ScheduledPost(team_id=s.team_id, kind="morning", period_key="2026-11-24", created_at=NOW),
        ]
    )
    await session.commit()
    session.add(ScheduledPost(team_id=s.team_id, kind="morning", period_key="2026-11-23", created_at=NOW))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_processed_event_ids_are_unique_per_platform(session: AsyncSession) -> None:
    session.add_all(
        [
            ProcessedEvent(platform="slack", event_id="Ev1", received_at=NOW),
            ProcessedEvent(platform="wecom", event_id="Ev1", received_at=NOW),
        ]
    )
    await session.commit()
    session.add(ProcessedEvent(platform="slack", event_id="Ev1", received_at=NOW))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_foreign_keys_are_enforced(session: AsyncSession) -> None:
    session.add(Member(team_id=987654, user_id="U9", name="Ghost", joined_at=NOW))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_deleting_a_team_cascades_to_its_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        s = await seed(session)
        other = await seed(session, slug="west")
        session.add_all([make_deal(s), make_deal(other), make_outbox("k1", s.team_id)])
        await session.commit()
        await session.execute(delete(Team).where(Team.id == s.team_id))
        await session.commit()
    async with sessionmaker() as session:
        assert await count(session, Member) == 2  # the other team's
        assert await count(session, Group) == 1
        assert (await session.execute(select(Deal.team_id))).scalars().all() == [other.team_id]
        outbox = (await session.execute(select(OutboxRow))).scalar_one()
        assert outbox.team_id is None  # undelivered posts survive their team


async def test_deleting_a_group_detaches_its_members(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        s = await seed(session)
        await session.execute(delete(Group).where(Group.id == s.group_id))
        await session.commit()
    async with sessionmaker() as session:
        alice = await session.get_one(Member, s.alice_id)
        assert alice.group_id is None


# --- unit of work -------------------------------------------------------------------------------------


async def test_uow_commit_persists_and_publishes_events(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        uow.session.add(make_outbox("a"))
        uow.add_event("DealRecorded")
        assert uow.committed_events == []
        await uow.commit()
    assert uow.committed and uow.committed_events == ["DealRecorded"] and uow.events == []
    async with uow_factory() as uow:
        assert await count(uow.session, OutboxRow) == 1


async def test_uow_without_commit_rolls_back(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        uow.session.add(make_outbox("a"))
        await uow.session.flush()
        uow.add_event("lost")
    assert not uow.committed and uow.committed_events == [] and uow.events == []
    async with uow_factory() as uow:
        assert await count(uow.session, OutboxRow) == 0


async def test_uow_exception_rolls_back_and_propagates(uow_factory: UnitOfWorkFactory) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with uow_factory() as uow:
            uow.session.add(make_outbox("a"))
            await uow.session.flush()
            uow.add_event("lost")
            raise Boom
    assert uow.committed_events == []
    async with uow_factory() as uow:
        assert await count(uow.session, OutboxRow) == 0


async def test_uow_work_after_a_commit_is_rolled_back_alone(uow_factory: UnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            uow.session.add(make_outbox("first"))
            uow.add_event("first")
            await uow.commit()
            uow.session.add(make_outbox("second"))
            uow.add_event("second")
            await uow.session.flush()
            raise RuntimeError("after the first batch")
    assert uow.committed_events == ["first"]
    async with uow_factory() as uow:
        keys = (await uow.session.execute(select(OutboxRow.dedupe_key))).scalars().all()
    assert keys == ["first"]


async def test_before_commit_hook_writes_in_the_same_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    s = await seed_with(sessionmaker)

    async def announce(uow: UnitOfWork) -> None:
        # Like the announcer: one outbox row per pending event, written with its cause.
        for event in uow.events:
            uow.session.add(make_outbox(f"announce:{event}", s.team_id))
        uow.add_event("Announced")

    factory = UnitOfWorkFactory(sessionmaker, before_commit=[announce])
    async with factory() as uow:
        deal = make_deal(s, external_id="d7")
        uow.session.add(deal)
        await uow.session.flush()
        uow.add_event(f"deal:{deal.id}")
        await uow.commit()
    assert uow.committed_events == [f"deal:{deal.id}", "Announced"]
    async with sessionmaker() as session:
        keys = (await session.execute(select(OutboxRow.dedupe_key))).scalars().all()
    assert keys == [f"announce:deal:{deal.id}"]


async def test_failing_hook_rolls_back_cause_and_hook_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    s = await seed_with(sessionmaker)

    async def write_then_fail(uow: UnitOfWork) -> None:
        uow.session.add(make_outbox("announce", s.team_id))
        await uow.session.flush()
        raise RuntimeError("renderer broke")

    with pytest.raises(RuntimeError, match="renderer broke"):
        async with UnitOfWork(sessionmaker, before_commit=[write_then_fail]) as uow:
            uow.session.add(make_deal(s))
            uow.add_event("DealRecorded")
            await uow.commit()
    assert not uow.committed and uow.committed_events == []
    async with sessionmaker() as session:
        assert await count(session, Deal) == 0
        assert await count(session, OutboxRow) == 0


async def test_failed_commit_rolls_back_and_drops_events(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        uow.session.add(make_outbox("dup"))
        await uow.commit()
    async with uow_factory() as uow:
        uow.session.add(make_outbox("dup"))
        uow.add_event("duplicate")
        with pytest.raises(IntegrityError):
            await uow.commit()
        assert uow.events == [] and uow.committed_events == []
        assert await count(uow.session, OutboxRow) == 1  # the session is usable again


async def test_savepoint_rolls_back_only_the_nested_part(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        uow.session.add(make_outbox("kept"))
        await uow.session.flush()
        with pytest.raises(IntegrityError):
            async with uow.session.begin_nested():
                uow.session.add(make_outbox("kept"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await count(uow.session, OutboxRow) == 1


async def test_savepoint_before_any_write_stays_inside_the_transaction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The sqlite3 module alone would let a first SAVEPOINT escape the transaction; ours must not."""
    async with uow_factory() as uow, uow.session.begin_nested():
        uow.session.add(make_outbox("nested"))
        # leave without commit
    async with uow_factory() as uow:
        assert await count(uow.session, OutboxRow) == 0


async def test_uow_guards_misuse(uow_factory: UnitOfWorkFactory) -> None:
    uow = uow_factory()
    with pytest.raises(RuntimeError):
        _ = uow.session
    async with uow:
        pass
    with pytest.raises(RuntimeError):
        async with uow:
            pass


async def test_factory_hooks_apply_to_each_new_unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    calls: list[int] = []

    async def hook(uow: UnitOfWork) -> None:
        calls.append(len(uow.events))

    factory = UnitOfWorkFactory(sessionmaker, before_commit=[hook])
    first, second = factory(), factory()
    assert first is not second
    first.before_commit.append(hook)  # per-unit additions don't leak into the factory
    for uow, events in ((first, 2), (second, 1)):
        async with uow:
            for n in range(events):
                uow.add_event(n)
            await uow.commit()
    assert calls == [2, 2, 1]


async def test_the_outbox_bell_rings_once_after_a_commit_that_queued_a_post(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The delivery worker is woken by the commit that queued something, not by every command, and is
    told where the posts go."""
    rings: list[frozenset[str]] = []
    factory = UnitOfWorkFactory(uow_factory.sessionmaker, on_outbox=[rings.append])
    to = ChannelRef("console", "W1", "C-east", "group")
    post = OutgoingMessage(blocks=(Paragraph((Text("开单喜报"),)),), fallback_text="开单喜报")
    now = datetime(2026, 11, 22, tzinfo=UTC)

    async def queue(key: str, *, commit: bool) -> None:
        async with factory() as uow:
            await enqueue(uow.session, channel=to, message=post, dedupe_key=key, now=now)
            if commit:
                await uow.commit()

    await queue("post:rolled-back", commit=False)
    assert rings == []
    await queue("post:1", commit=True)
    assert rings == [frozenset({"console:W1:C-east"})]
    await queue("post:1", commit=True)  # already queued: nothing new to send
    async with factory() as uow:  # a commit without outbox rows
        uow.session.add(make_outbox("written-directly"))
        await uow.commit()
    assert rings == [frozenset({"console:W1:C-east"})]


async def test_concurrent_read_then_write_units_wait_instead_of_failing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Two units of work that each read and then write must both succeed (SQLite: BEGIN IMMEDIATE)."""

    async def work(key: str, hold: float) -> None:
        async with uow_factory() as uow:
            await count(uow.session, OutboxRow)
            uow.session.add(make_outbox(key))
            await uow.session.flush()
            await asyncio.sleep(hold)
            await uow.commit()

    await asyncio.gather(work("a", 0.2), work("b", 0.0), work("c", 0.1))
    async with uow_factory() as uow:
        assert await count(uow.session, OutboxRow) == 3


# --- backend specifics --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_connections_are_set_up(engine: AsyncEngine, database_url: tuple[str, None]) -> None:
    async with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            pragmas = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            ]
            # busy_timeout 5 s (sqlite3's default): a writer waits on aiosqlite's thread, not the loop.
            assert pragmas == ["wal", 1, 5000, 1]  # synchronous 1 = NORMAL
    assert Path(database_url[0].removeprefix("sqlite:///") + "-wal").exists()


async def test_in_memory_sqlite_is_one_database_per_engine() -> None:
    engine = create_engine("sqlite://")
    try:
        await upgrade_engine(engine)
        assert await check_schema_current(engine)
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            session.add(make_outbox("m"))
            await session.commit()
        async with sessionmaker() as session:
            assert await count(session, OutboxRow) == 1
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_postgres_skip_locked_lets_a_second_worker_pass_a_claimed_row(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert is_postgres(engine)
    async with sessionmaker() as session:
        session.add_all([make_outbox("one"), make_outbox("two")])
        await session.commit()
    claim = select(OutboxRow.dedupe_key).order_by(OutboxRow.id).limit(1).with_for_update(skip_locked=True)
    async with sessionmaker() as worker_a, sessionmaker() as worker_b:
        first = (await worker_a.execute(claim)).scalar_one()
        second = (await worker_b.execute(claim)).scalar_one()
        assert (first, second) == ("one", "two")
        # With both rows locked a third claim finds nothing instead of waiting.
        async with sessionmaker() as worker_c:
            assert (await worker_c.execute(claim)).scalar_one_or_none() is None
        await worker_a.rollback()  # a worker that gives up releases its row to the next one
        async with sessionmaker() as worker_d:
            assert (await worker_d.execute(claim)).scalar_one() == "one"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_postgres_tests_run_in_their_own_schema(
    engine: AsyncEngine, database_url: tuple[str, str]
) -> None:
    async with engine.connect() as connection:
        schema = (await connection.exec_driver_sql("SELECT current_schema()")).scalar_one()
        tables = (
            await connection.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": schema}
            )
        ).scalar_one()
    assert schema == database_url[1]
    assert tables >= 14  # every orm.py table plus alembic_version


async def test_date_columns_round_trip(session: AsyncSession) -> None:
    s = await seed(session)
    session.add(
        Leave(member_id=s.bob_id, start_day=date(2026, 11, 23), end_day=date(2026, 11, 25), created_at=NOW)
    )
    await session.commit()
    leave = (await session.execute(select(Leave))).scalar_one()
    assert (leave.start_day, leave.end_day) == (date(2026, 11, 23), date(2026, 11, 25))


async def seed_with(sessionmaker: async_sessionmaker[AsyncSession]) -> Seed:
    async with sessionmaker() as session:
        return await seed(session)

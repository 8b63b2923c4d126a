"""The roster a process keeps for its boards: read once, read again whenever the database says the team's
members or groups changed — whoever changed them, committed or not — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import pytest_asyncio
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services import directory
from bot.services.standings import ROSTER_CACHE, Roster, RosterCache, roster
from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.orm import Group, Member, Team, Workspace
from tests.support.statements import statements_run

NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@pytest_asyncio.fixture
async def cached(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions sharing one RosterCache, as a running process's do."""
    return create_sessionmaker(engine, {ROSTER_CACHE: RosterCache()})


@pytest_asyncio.fixture
async def other_process(database_url: tuple[str, str | None]) -> AsyncIterator[AsyncEngine]:
    """An engine of its own on the same database: another replica, or a hand-written UPDATE."""
    url, pg_schema = database_url
    engine = create_engine(url, pg_schema=pg_schema)
    yield engine
    await engine.dispose()


async def east(sessions: async_sessionmaker[AsyncSession]) -> Team:
    """华东一部 with group 狼队 (Alice) and Bob outside any group, committed."""
    async with sessions() as session:
        team = Team(
            slug="east",
            name="华东一部",
            workspace=Workspace(platform="wecom", external_id="ww1", name="Acme"),
            created_at=NOW,
        )
        session.add(team)
        await session.flush()
        wolves = Group(team_id=team.id, name="狼队", slogan="狼性出击")
        session.add(wolves)
        await session.flush()
        session.add_all(
            [
                Member(team_id=team.id, user_id="alice", name="Alice", group_id=wolves.id, joined_at=NOW),
                Member(team_id=team.id, user_id="bob", name="Bob", joined_at=NOW),
            ]
        )
        await session.commit()
        return team


def names(found: Roster) -> list[str]:
    return [m.name for m in found.members]


def members_reads(engine: AsyncEngine) -> AbstractContextManager[list[str]]:
    """The statements that read the members table while the block runs."""
    return statements_run(
        engine,
        lambda statement: statement.lstrip().upper().startswith("SELECT") and "FROM members" in statement,
    )


async def read(sessions: async_sessionmaker[AsyncSession], team: Team) -> Roster:
    async with sessions() as session:
        return await roster(session, team)


async def test_an_unchanged_roster_is_read_once(engine: AsyncEngine, cached) -> None:
    team = await east(cached)
    with members_reads(engine) as reads:
        first = await read(cached, team)
        second = await read(cached, team)
    assert names(first) == ["Alice", "Bob"]
    assert second is first
    assert len(reads) == 1


async def test_a_newcomer_added_by_the_dispatchers_insert_is_on_the_next_board(cached) -> None:
    team = await east(cached)
    await read(cached, team)
    async with cached() as session:
        await directory.join_team(session, team, "carol", "Carol", NOW)  # a Core INSERT … ON CONFLICT
        await session.commit()
    assert names(await read(cached, team)) == ["Alice", "Bob", "Carol"]


async def test_a_member_who_left_or_moved_groups_shows_so_at_once(cached) -> None:
    team = await east(cached)
    await read(cached, team)
    async with cached() as session:
        bob = await directory.member_of(session, team, "bob")
        alice = await directory.member_of(session, team, "alice")
        assert bob is not None and alice is not None
        bob.active = False
        alice.group_id = None
        await session.commit()
    found = await read(cached, team)
    assert names(found) == ["Alice"]
    assert found.members[0].group_id is None


async def test_a_group_renamed_or_removed_shows_so(cached) -> None:
    team = await east(cached)
    await read(cached, team)
    async with cached() as session:
        await session.execute(update(Group).where(Group.team_id == team.id).values(name="虎队"))
        await session.commit()
    assert [g.name for g in (await read(cached, team)).groups] == ["虎队"]
    async with cached() as session:
        await session.execute(text("DELETE FROM groups"))  # the members' group_id goes NULL by cascade
        await session.commit()
    found = await read(cached, team)
    assert found.groups == ()
    assert [m.group_id for m in found.members] == [None, None]


async def test_a_change_written_by_another_process_is_seen(cached, other_process: AsyncEngine) -> None:
    team = await east(cached)
    await read(cached, team)
    async with other_process.begin() as connection:
        await connection.execute(text("UPDATE members SET name = '王小明' WHERE user_id = 'bob'"))
    assert names(await read(cached, team)) == ["Alice", "王小明"]


async def test_a_roster_read_inside_a_rolled_back_change_is_never_served_again(cached) -> None:
    team = await east(cached)
    await read(cached, team)
    async with cached() as session:
        bob = await directory.member_of(session, team, "bob")
        assert bob is not None
        bob.active = False
        await session.flush()
        assert names(await roster(session, team)) == ["Alice"]  # the transaction sees its own change
        await session.rollback()
    assert names(await read(cached, team)) == ["Alice", "Bob"]


async def test_unrelated_member_fields_keep_the_roster(engine: AsyncEngine, cached) -> None:
    """Role, contact fields and the like are not on boards: changing them costs no re-read."""
    team = await east(cached)
    await read(cached, team)
    async with cached() as session:
        await session.execute(update(Member).where(Member.user_id == "bob").values(role="lead", mobile="138"))
        await session.commit()
    with members_reads(engine) as reads:
        await read(cached, team)
    assert reads == []


async def test_each_new_team_draws_its_own_version(cached) -> None:
    """A team that reuses a deleted team's id must not find that team's roster."""
    team = await east(cached)
    async with cached() as session:
        version = await session.scalar(select(Team.roster_version).where(Team.id == team.id))
        other = Team(slug="west", name="华西", workspace_id=team.workspace_id, created_at=NOW)
        session.add(other)
        await session.flush()
        other_version = await session.scalar(select(Team.roster_version).where(Team.id == other.id))
    assert version and other_version and version != other_version


async def test_without_a_cache_every_read_goes_to_the_database(engine: AsyncEngine, sessionmaker) -> None:
    team = await east(sessionmaker)
    with members_reads(engine) as reads:
        assert names(await read(sessionmaker, team)) == ["Alice", "Bob"]
        await read(sessionmaker, team)
    assert len(reads) == 2

"""Finding teams, members and groups from what a platform tells us."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import ChannelRef, UserRef
from bot.storage.db import is_postgres
from bot.storage.orm import Group, Member, Team, Workspace


async def workspace_for(session: AsyncSession, platform: str, external_id: str) -> Workspace:
    """The workspace row for (platform, id), created on first sight."""
    found = await session.scalar(
        select(Workspace).where(Workspace.platform == platform, Workspace.external_id == external_id)
    )
    if found is None:
        found = Workspace(platform=platform, external_id=external_id, name=external_id)
        session.add(found)
        await session.flush()
    return found


async def team_by_slug(session: AsyncSession, slug: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.slug == slug))


@cache
def _team_of_channel() -> Select[tuple[Team]]:
    """The team of the channel given as `platform`, `workspace` and `channel` parameters."""
    return (
        select(Team)
        .join(Workspace, Team.workspace_id == Workspace.id)
        .where(
            Workspace.platform == bindparam("platform"),
            Workspace.external_id == bindparam("workspace"),
            Team.channel_id == bindparam("channel"),
        )
    )


def _channel_parameters(channel: ChannelRef) -> dict[str, str]:
    return {"platform": channel.platform, "workspace": channel.workspace, "channel": channel.id}


@cache
def _team_and_member_of_channel_query() -> Select[tuple[Team, Member]]:
    """Built once, like the next one: every command runs one of them, and building the statement took
    longer than running it (about 0.5 ms of a 3 ms command)."""
    return (
        _team_of_channel()
        .add_columns(Member)
        .outerjoin(Member, and_(Member.team_id == Team.id, Member.user_id == bindparam("user_id")))
        .limit(1)
    )


@cache
def _first_team_of_user_query() -> Select[tuple[Team, Member]]:
    return (
        select(Team, Member)
        .join(Workspace, Team.workspace_id == Workspace.id)
        .join(Member, Member.team_id == Team.id)
        .where(
            Workspace.platform == bindparam("platform"),
            Workspace.external_id == bindparam("workspace"),
            Member.user_id == bindparam("user_id"),
            Member.active.is_(True),
        )
        .order_by(Member.joined_at, Team.id)
        .limit(1)
    )


async def team_for_channel(session: AsyncSession, channel: ChannelRef) -> Team | None:
    return await session.scalar(_team_of_channel(), _channel_parameters(channel))


async def team_and_member_for_channel(
    session: AsyncSession, channel: ChannelRef, user_id: str
) -> tuple[Team | None, Member | None]:
    """The team of this channel and the person's membership of it, active or not (one query)."""
    parameters = {**_channel_parameters(channel), "user_id": user_id}
    row = (await session.execute(_team_and_member_of_channel_query(), parameters)).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def first_team_of_user(session: AsyncSession, user: UserRef) -> tuple[Team | None, Member | None]:
    """The person's oldest active membership on this platform and workspace, with its team (one query)."""
    parameters = {"platform": user.platform, "workspace": user.workspace, "user_id": user.id}
    row = (await session.execute(_first_team_of_user_query(), parameters)).first()
    return (row[0], row[1]) if row is not None else (None, None)


@cache
def _member_of_query() -> Select[tuple[Member]]:
    """Built once: a mention in a command (`/kudos @…`) is looked up by it."""
    return select(Member).where(
        Member.team_id == bindparam("team_id"), Member.user_id == bindparam("user_id")
    )


async def member_of(session: AsyncSession, team: Team, user_id: str) -> Member | None:
    return await session.scalar(_member_of_query(), {"team_id": team.id, "user_id": user_id})


async def active_members(session: AsyncSession, team: Team) -> list[Member]:
    rows = await session.scalars(
        select(Member).where(Member.team_id == team.id, Member.active.is_(True)).order_by(Member.id)
    )
    return list(rows)


async def find_member(session: AsyncSession, team: Team, handle: str) -> list[Member]:
    """Members a handle may mean: an exact user id first, else a case-insensitive name match."""
    by_id = await member_of(session, team, handle)
    if by_id is not None and by_id.active:
        return [by_id]
    rows = await session.scalars(
        select(Member).where(
            Member.team_id == team.id,
            Member.active.is_(True),
            func.lower(Member.name) == handle.lower(),
        )
    )
    return list(rows)


async def groups_of(session: AsyncSession, team: Team) -> list[Group]:
    rows = await session.scalars(select(Group).where(Group.team_id == team.id).order_by(Group.id))
    return list(rows)


async def group_named(session: AsyncSession, team: Team, name: str) -> Group | None:
    return await session.scalar(
        select(Group).where(Group.team_id == team.id, func.lower(Group.name) == name.lower())
    )


async def join_team(
    session: AsyncSession, team: Team, user_id: str, name: str, now: datetime, role: str = "member"
) -> Member:
    """Add a person to a team (or reactivate them), the first time they speak in its channel."""
    member = await member_of(session, team, user_id)
    if member is None:
        # Their other first message may be adding them right now: the unique index lets one insert in.
        insert = pg_insert if is_postgres(session.bind) else sqlite_insert
        values = {"team_id": team.id, "user_id": user_id, "name": name, "role": role, "joined_at": now}
        await session.execute(insert(Member).values(**values, active=True).on_conflict_do_nothing())
        member = await member_of(session, team, user_id)
        assert member is not None
    elif not member.active:
        member.active = True
    return member


def team_channel(team: Team) -> ChannelRef:
    """Where the team's posts go: its home channel on its own platform and workspace."""
    return ChannelRef(team.workspace.platform, team.workspace.external_id, team.channel_id, "group")


def dm_channel(team: Team, member: Member) -> ChannelRef:
    """A member's direct chat with the bot; adapters open it when their platform needs that."""
    return ChannelRef(team.workspace.platform, team.workspace.external_id, member.user_id, "dm")


async def free_team_slug(session: AsyncSession, base: str) -> str:
    """`base`, or `base-2`, `base-3`… — the first no team has yet."""
    slug, n = base, 1
    while await team_by_slug(session, slug) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


async def add_team(session: AsyncSession, team: Team) -> None:
    session.add(team)
    await session.flush()
    await session.refresh(team, ["workspace"])


def add_group(session: AsyncSession, group: Group) -> None:
    session.add(group)


async def group_of(session: AsyncSession, member: Member) -> Group | None:
    return await session.get(Group, member.group_id) if member.group_id else None

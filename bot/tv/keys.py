"""TV keys: the secret in a board's link. One per team; a new one ends the old at once.

A key is checked in constant time, and a board asked for a team that does not exist is refused the same
way as a wrong key, so a stranger learns nothing about which teams there are.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ServerConfig
from bot.storage.db import is_postgres
from bot.storage.orm import Team, TvKey

KEY_BYTES = 24  # 32 URL-safe characters
_NO_KEY = "-" * 32  # compared against when there is no key, so both paths take the same time


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def same_key(stored: str | None, given: str | None) -> bool:
    """Whether `given` is the stored key, in time that does not depend on where they differ."""
    matches = hmac.compare_digest((stored or _NO_KEY).encode(), (given or "").encode())
    return matches and bool(stored) and bool(given)


async def current_key(session: AsyncSession, team_id: int) -> str | None:
    return await session.scalar(select(TvKey.key).where(TvKey.team_id == team_id))


async def ensure_key(session: AsyncSession, team_id: int, now: datetime) -> str:
    """The team's key, made now if it has none (two replicas making one at once keep the first)."""
    insert = pg_insert if is_postgres(session.bind) else sqlite_insert
    await session.execute(
        insert(TvKey)
        .values(team_id=team_id, key=new_key(), created_at=now)
        .on_conflict_do_nothing(index_elements=["team_id"])
    )
    key = await current_key(session, team_id)
    assert key is not None
    return key


async def rotate(session: AsyncSession, team_id: int, now: datetime) -> str:
    """A new key for the team; the old one stops working with this transaction's commit."""
    key = new_key()
    insert = pg_insert if is_postgres(session.bind) else sqlite_insert
    statement = insert(TvKey).values(team_id=team_id, key=key, created_at=now)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["team_id"], set_={"key": key, "created_at": now})
    )
    return key


async def team_for_key(session: AsyncSession, slug: str, key: str | None) -> Team | None:
    """The team whose board `key` opens, or None — for a wrong key and an unknown team alike."""
    row = (
        await session.execute(
            select(Team.id, TvKey.key).outerjoin(TvKey, TvKey.team_id == Team.id).where(Team.slug == slug)
        )
    ).first()
    stored = row[1] if row is not None else None
    if not same_key(stored, key) or row is None:
        return None
    return await session.get(Team, row[0])


def base_url(server: ServerConfig) -> str:
    """Where people reach this server: `[server] public_url`, else its host and port."""
    if server.public_url:
        return server.public_url.rstrip("/")
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}"


def board_url(base: str, slug: str, key: str) -> str:
    return f"{base.rstrip('/')}/tv/{quote(slug, safe='')}?key={quote(key, safe='')}"

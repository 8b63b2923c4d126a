"""Putting a post in the outbox: one row per post, deduplicated by key, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import ChannelRef, OutgoingMessage
from bot.storage.db import is_postgres
from bot.storage.orm import OutboxRow
from bot.storage.uow import mark_enqueued


def destination_key(channel: ChannelRef) -> str:
    return f"{channel.platform}:{channel.workspace}:{channel.id}"


async def enqueue(
    session: AsyncSession,
    *,
    channel: ChannelRef,
    message: OutgoingMessage,
    dedupe_key: str,
    now: datetime,
    team_id: int | None = None,
    fold: tuple[str, dict[str, Any]] | None = None,
    parts_sent: int = 0,
    board: str | None = None,
    quiet: bool = False,
) -> bool:
    """Add the post unless one with the same key exists; True when a row was added.

    `board` names a board updated in place (bot.delivery.boards): where the platform edits, the post
    edits the board's message; `quiet` marks a mere refresh, which a platform that cannot edit skips.

    INSERT … ON CONFLICT DO NOTHING on the unique `dedupe_key`: when two transactions race to announce
    the same thing (two deals both crossing 50 %), the second waits for the first and quietly adds
    nothing, instead of failing the deal that came second.
    """
    row = _row(channel, message, dedupe_key, now, team_id, fold, parts_sent, board, quiet)
    if session.autoflush:  # as the ORM statement did: the caller's pending changes are written first
        await session.flush()
    result = await session.execute(_insert(is_postgres(session.bind)), row)
    added = result.rowcount == 1
    if added:
        mark_enqueued(session, row["destination"])
    return added


async def enqueue_many(session: AsyncSession, posts: list[dict[str, Any]]) -> None:
    """`enqueue` for several posts (each given as `enqueue`'s keyword arguments), in one statement."""
    if not posts:
        return
    rows = [_row(**post) for post in posts]
    if session.autoflush:
        await session.flush()
    await session.execute(_insert(is_postgres(session.bind)), rows)
    for row in rows:  # a post already queued under its key wakes the worker for nothing: harmless
        mark_enqueued(session, row["destination"])


def _row(
    channel: ChannelRef,
    message: OutgoingMessage,
    dedupe_key: str,
    now: datetime,
    team_id: int | None = None,
    fold: tuple[str, dict[str, Any]] | None = None,
    parts_sent: int = 0,
    board: str | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    return {
        "dedupe_key": dedupe_key,
        "team_id": team_id,
        "platform": channel.platform,
        "workspace": channel.workspace,
        "channel_id": channel.id,
        "channel_kind": channel.kind,
        "destination": destination_key(channel),
        "payload": message.to_json(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "fold_kind": fold[0] if fold else None,
        "fold_data": fold[1] if fold else None,
        "parts_sent": parts_sent,  # a reply sent in part before it had to wait: the rest only
        "board_key": board,
        "board_quiet": quiet,
    }


@cache
def _insert(postgres: bool) -> Insert:
    """Built once per dialect, values bound when it runs: building it anew cost about as much as running
    it, and every announcement runs it a few times. On the table, not the entity: a plain Core statement
    skips the ORM's part of every execution."""
    insert = pg_insert if postgres else sqlite_insert
    return insert(OutboxRow.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])


class SentParts:
    """A `PartProgress` kept in memory, for a send outside the worker (a direct reply) that may end up
    queued: `enqueue(..., parts_sent=progress.done)` then sends only the rest."""

    def __init__(self) -> None:
        self.done = 0

    async def sent(self, parts: int) -> None:
        self.done = parts

"""Putting a post in the outbox: one row per post, deduplicated by key, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Required, TypedDict, Unpack

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


class Post(TypedDict, total=False):
    """A post for the outbox, as `enqueue` takes it.

    `board` names a board updated in place (bot.delivery.boards): where the platform edits, the post
    edits the board's message; `quiet` marks a mere refresh, which a platform that cannot edit skips.
    `parts_sent`: a reply sent in part before it had to wait, whose rest only is to go out.
    """

    channel: Required[ChannelRef]
    message: Required[OutgoingMessage]
    dedupe_key: Required[str]
    now: Required[datetime]
    team_id: int | None
    fold: tuple[str, dict[str, Any]] | None
    parts_sent: int
    board: str | None
    quiet: bool


async def enqueue(session: AsyncSession, **post: Unpack[Post]) -> bool:
    """Add the post unless one with the same key exists; True when a row was added.

    INSERT … ON CONFLICT DO NOTHING on the unique `dedupe_key`: when two transactions race to announce
    the same thing (two deals both crossing 50 %), the second waits for the first and quietly adds
    nothing, instead of failing the deal that came second.
    """
    row = _row(post)
    if session.autoflush:  # as the ORM statement did: the caller's pending changes are written first
        await session.flush()
    result = await session.execute(_insert(is_postgres(session.bind)), row)
    added = result.rowcount == 1
    if added:
        mark_enqueued(session, row["destination"])
    return added


async def enqueue_many(session: AsyncSession, posts: list[Post]) -> None:
    """`enqueue` for several posts, in one statement (an executemany)."""
    if not posts:
        return
    rows = [_row(post) for post in posts]
    if session.autoflush:
        await session.flush()
    await session.execute(_insert(is_postgres(session.bind)), rows)
    for row in rows:  # a post already queued under its key wakes the worker for nothing: harmless
        mark_enqueued(session, row["destination"])


def _row(post: Post) -> dict[str, Any]:
    fold = post.get("fold")
    board = post.get("board")
    return {
        "dedupe_key": post["dedupe_key"],
        "team_id": post.get("team_id"),
        "platform": post["channel"].platform,
        "workspace": post["channel"].workspace,
        "channel_id": post["channel"].id,
        "channel_kind": post["channel"].kind,
        "destination": destination_key(post["channel"]),
        "payload": post["message"].to_json(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": post["now"],
        "created_at": post["now"],
        "fold_kind": fold[0] if fold else None,
        "fold_data": fold[1] if fold else None,
        "parts_sent": post.get("parts_sent", 0),
        "board_key": board,
        "board_quiet": post.get("quiet", False),
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

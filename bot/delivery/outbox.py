"""Putting a post in the outbox: one row per post, deduplicated by key, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import ChannelRef, OutgoingMessage
from bot.storage.orm import OutboxRow


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
) -> bool:
    """Add the post unless one with the same key exists; True when a row was added.

    The check and the insert share the caller's transaction; the unique index on `dedupe_key` is the
    final guard should two transactions race (the loser's commit fails and is retried as a duplicate).
    """
    exists = await session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key))
    if exists is not None:
        return False
    session.add(
        OutboxRow(
            dedupe_key=dedupe_key,
            team_id=team_id,
            platform=channel.platform,
            workspace=channel.workspace,
            channel_id=channel.id,
            channel_kind=channel.kind,
            destination=destination_key(channel),
            payload=message.to_json(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True

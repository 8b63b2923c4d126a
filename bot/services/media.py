"""Pictures served by URL (`GET /media/<token>.png`) for a week: for platforms that show an image only
from a public address. The token is 32 random bytes, so a picture is found only through its post."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.orm import Media

KEEP = timedelta(days=7)
PNG = "image/png"


async def store_png(session: AsyncSession, data: bytes, now: datetime) -> str:
    """Keep the picture for a week and return its token; pictures past their week go at the same time."""
    await session.execute(delete(Media).where(Media.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(Media(token=token, content_type=PNG, data=data, created_at=now, expires_at=now + KEEP))
    return token


async def load(session: AsyncSession, token: str, now: datetime) -> bytes | None:
    """The picture's bytes while it is kept, else None."""
    return await session.scalar(select(Media.data).where(Media.token == token, Media.expires_at > now))


def media_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/media/{token}.png"

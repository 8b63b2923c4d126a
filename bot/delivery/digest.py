"""Folding a burst of 喜报 into one digest post, so a channel's rate limit is kept and no deal is lost."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.money import Money, format_money
from bot.messages import OutgoingMessage
from bot.rendering.engine import Renderer
from bot.storage.orm import OutboxRow, Team


class DealDigestFolder:
    """What the delivery worker calls to fold queued 喜报 into one post, in the team's language."""

    def __init__(self, renderer: Renderer) -> None:
        self._renderer = renderer

    async def __call__(self, session: AsyncSession, rows: list[OutboxRow]) -> OutgoingMessage:
        team = await session.get(Team, rows[0].team_id) if rows[0].team_id is not None else None
        locale = team.locale if team else "zh-CN"
        currency = team.currency if team else "CNY"
        items = [row.fold_data or {} for row in rows]
        return deal_digest(self._renderer, locale, currency, items, rows[0].created_at, rows[-1].created_at)


def deal_digest(
    renderer: Renderer,
    locale: str,
    currency: str,
    items: list[dict[str, Any]],
    first: datetime,
    last: datetime,
) -> OutgoingMessage:
    """One post listing every folded deal with its person, amount and customer, and their total."""
    total = sum(int(item.get("amount_minor", 0)) for item in items)
    minutes = max(1, math.ceil((last - first).total_seconds() / 60))
    return renderer.render(
        "deal_digest",
        locale,
        deals=items,
        minutes=minutes,
        total=format_money(Money(total, currency), locale),
    )

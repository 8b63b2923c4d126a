"""Interactive cards teambeat sent, and the one button chosen on each.

An adapter records a card (its buttons, for whom) before sending it, so that a click — which names
the card by the id we gave it — can be checked: a card we never sent is not ours; a card older than
`CARD_LIFETIME` has expired; a card is answered once (the first click wins and is shown on it).
The commands behind the buttons stay in our database: a click only says which card and which button.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Button
from bot.storage.orm import SentCard

CARD_LIFETIME = timedelta(hours=24)
"""A prompt's buttons speak for its day ("skip today"): an older card no longer acts."""


@dataclass(frozen=True, slots=True)
class Card:
    card_id: str
    workspace: str
    user_id: str
    title: str
    text: str
    buttons: tuple[Button, ...]
    created_at: datetime
    chosen: str | None

    def expired(self, now: datetime) -> bool:
        return now - self.created_at > CARD_LIFETIME


async def record(
    session: AsyncSession,
    *,
    platform: str,
    card_id: str,
    workspace: str,
    user_id: str,
    title: str,
    text: str,
    buttons: tuple[Button, ...],
    now: datetime,
) -> None:
    session.add(
        SentCard(
            card_id=card_id,
            platform=platform,
            workspace=workspace,
            user_id=user_id,
            title=title,
            text=text,
            buttons=json.dumps([[b.label, b.command] for b in buttons], ensure_ascii=False),
            created_at=now,
        )
    )


async def find(session: AsyncSession, platform: str, card_id: str) -> Card | None:
    row = await session.scalar(
        select(SentCard).where(SentCard.card_id == card_id, SentCard.platform == platform)
    )
    if row is None:
        return None
    buttons = tuple(Button(str(label), str(command)) for label, command in json.loads(row.buttons))
    return Card(
        row.card_id, row.workspace, row.user_id, row.title, row.text, buttons, row.created_at, row.chosen
    )


async def choose(session: AsyncSession, card_id: str, label: str, user_id: str, now: datetime) -> bool:
    """Mark `label` as the card's choice; False when another click got there first."""
    result = await session.execute(
        update(SentCard)
        .where(SentCard.card_id == card_id, SentCard.chosen.is_(None))
        .values(chosen=label, chosen_by=user_id, chosen_at=now)
    )
    return bool(result.rowcount)

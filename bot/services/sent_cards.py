"""Interactive cards teambeat sent, on any platform, and the one click each acted on.

An adapter records a card (its buttons, for whom) before sending it; a click names the card by the id we
gave it and a button by its position, so a click can only ever run a command we put on a card. The rule
(`judge`): a card we never sent, sent in another workspace or to someone else, or a button it never had,
is not ours; a card past its platform's lifetime (each adapter declares its own) has expired; the first
click that acts wins and a repeat acts no more. The choice is recorded by the dispatcher (`choose`) in the
same transaction as the command's effects, so a click the command refused (a member on a leader's button)
neither counts as the card's one click nor changes the card. Rows older than `KEPT` are forgotten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Button, CardClick
from bot.storage.orm import SentCard

KEPT = timedelta(days=30)
"""Long past any platform's lifetime: a click on a card forgotten is answered as on one never sent."""


class Verdict(StrEnum):
    ACT = "act"  # carry out the button's command (the dispatcher records it as the card's choice)
    REPEAT = "repeat"  # the click that acted, again (a platform's retry): nothing more to do or say
    CHOSEN = "chosen"  # another click acted first
    EXPIRED = "expired"
    NOT_OURS = "not_ours"


@dataclass(frozen=True, slots=True)
class Card:
    card_id: str
    platform: str
    workspace: str
    user_id: str
    title: str
    text: str
    buttons: tuple[Button, ...]
    created_at: datetime
    chosen: int | None  # the position of the button that acted
    chosen_click: str | None  # the platform's id of the click that acted ("" when it names none)
    shown: bool  # the card was updated to show the choice

    def button(self, index: int | None) -> Button | None:
        """The button at this position (None for one the card never had)."""
        if index is None or not 0 <= index < len(self.buttons):
            return None
        return self.buttons[index]


@dataclass(frozen=True, slots=True)
class Judged:
    verdict: Verdict
    card: Card | None = None
    button: Button | None = None  # the button clicked (ACT), or the one chosen before (CHOSEN)


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
    """Keep a card about to be sent (and forget the old ones: cheap, by the created_at index)."""
    await session.execute(delete(SentCard).where(SentCard.created_at < now - KEPT))
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
            shown=False,
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
        row.card_id,
        row.platform,
        row.workspace,
        row.user_id,
        row.title,
        row.text,
        buttons,
        row.created_at,
        row.chosen,
        row.chosen_click,
        row.shown,
    )


async def judge(
    session: AsyncSession,
    *,
    platform: str,
    workspace: str,
    user_id: str,
    click: CardClick,
    lifetime: timedelta,
    now: datetime,
) -> Judged:
    """What a click by `user_id` of `workspace` may do. A platform that gives a click no id of its own
    (click.click_id "") cannot tell a second click from a retry: any click on a chosen card is a repeat."""
    card = await find(session, platform, click.card_id)
    if card is None or card.workspace != workspace or card.user_id != user_id:
        return Judged(Verdict.NOT_OURS)
    button = card.button(click.button)
    if button is None:
        return Judged(Verdict.NOT_OURS, card)
    if card.chosen is not None:
        if not click.click_id or card.chosen_click == click.click_id:
            return Judged(Verdict.REPEAT, card, card.button(card.chosen))
        return Judged(Verdict.CHOSEN, card, card.button(card.chosen))
    if now - card.created_at > lifetime:
        return Judged(Verdict.EXPIRED, card)
    return Judged(Verdict.ACT, card, button)


async def choose(session: AsyncSession, platform: str, user_id: str, click: CardClick, now: datetime) -> bool:
    """Record the click as its card's one choice (in the command's transaction); False when another
    click got there first."""
    result = await session.execute(
        update(SentCard)
        .where(
            SentCard.card_id == click.card_id,
            SentCard.platform == platform,
            SentCard.chosen.is_(None),
        )
        .values(chosen=click.button, chosen_click=click.click_id, chosen_by=user_id, chosen_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def take_update(session: AsyncSession, platform: str, card_id: str) -> bool:
    """Take the card's one update showing its choice (True), unless it was taken already (WeCom lets a
    click's response_code update a card once; a retried job must not try again)."""
    result = await session.execute(
        update(SentCard)
        .where(SentCard.card_id == card_id, SentCard.platform == platform, SentCard.shown.is_(False))
        .values(shown=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def acted(session: AsyncSession, platform: str, click: CardClick) -> bool:
    """Whether this click is its card's choice (after the command: False when it was refused)."""
    card = await find(session, platform, click.card_id)
    return card is not None and card.chosen == click.button and card.chosen_click == click.click_id


STALE_TEMPLATE = "card_stale"
"""The line for a click that did nothing (the person is told why and to type the command)."""


def stale_context(judged: Judged, lifetime: timedelta) -> dict[str, str | int]:
    """What the card_stale line says for this verdict: its reason, the label chosen before, and the
    platform's lifetime in hours."""
    return {
        "reason": str(judged.verdict),
        "chosen": judged.button.label if judged.verdict is Verdict.CHOSEN and judged.button else "",
        "hours": int(lifetime // timedelta(hours=1)),
    }

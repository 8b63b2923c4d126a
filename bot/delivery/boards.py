"""Boards updated in place: outbox rows naming a `board_key` (the day's 小组PK standings).

Where the destination can edit (`Capability.EDIT` and the adapter's `can_edit`), a board is one message:
its first row is posted, and every later row of the same key edits that message. The message id is the
one recorded on the board's latest sent row, so a restart (or another replica) goes on editing the same
message. Only the newest pending state is sent: an older pending row is folded into the newest when it
comes up. A message that cannot be edited any more (deleted, past an edit window) is posted anew.

Where it cannot edit, a board row is an ordinary post, and a quiet one (a mere refresh, no news) is
skipped: such platforms keep the posts they had before boards existed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import ScalarSelect, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.messages import ChannelRef, OutgoingMessage, SentMessage, without_charts
from bot.ports import Adapter, BoardPoster, Capability, Editor, MessageGone, PartProgress
from bot.storage.orm import OutboxRow

log = logging.getLogger(__name__)


def editor_for(adapter: Adapter, to: ChannelRef) -> Editor | None:
    """The adapter as an editor of messages at `to`, or None where boards are new posts."""
    if Capability.EDIT not in getattr(adapter, "capabilities", Capability.NONE):
        return None
    editor: Editor = adapter  # type: ignore[assignment]  # EDIT declared: it implements Editor
    return editor if editor.can_edit(to) else None


async def settle(
    session: AsyncSession, row: OutboxRow, edits: bool, now: datetime, newest: int | None
) -> bool:
    """Whether the head row `row` is done with without sending it: a quiet refresh where boards cannot
    be edited, or a state a newer pending row of the same board replaces (that one is sent instead).
    `newest`: the board's newest pending state after `row`, as the claim read it (`newest_state`)."""
    if not edits:
        if row.board_quiet:
            row.status, row.sent_at = "folded", now
            return True
        return False
    if row.parts_sent:  # half posted: its message id is not recorded yet, so it must finish first
        return False
    if newest is None:
        return False
    row.status, row.folded_into, row.sent_at = "folded", newest, now
    # the states folded into this one earlier now went out as the newest too (`folded_into` names the
    # row that was sent, as for a digest)
    await session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.board_key == row.board_key,
            OutboxRow.destination == row.destination,
            OutboxRow.folded_into == row.id,
        )
        .values(folded_into=newest)
    )
    return True


def newest_state() -> ScalarSelect[int | None]:
    """For the outer query's row: the id of its board's newest pending state after it (None: none newer;
    never any for a row of no board)."""
    newer = aliased(OutboxRow)
    return (
        select(func.max(newer.id))
        .where(
            newer.board_key == OutboxRow.board_key,
            newer.destination == OutboxRow.destination,
            newer.status == "pending",
            newer.id > OutboxRow.id,
        )
        .scalar_subquery()
    )


def posted_message() -> ScalarSelect[str | None]:
    """For the outer query's row: its board's message as the board's latest delivery left it (None: not
    posted yet). Final once the row is its destination's head: every older row of the board is done."""
    earlier = aliased(OutboxRow)
    return (
        select(earlier.message_id)
        .where(
            earlier.board_key == OutboxRow.board_key,
            earlier.destination == OutboxRow.destination,
            earlier.status == "sent",
            earlier.message_id.is_not(None),
            earlier.id < OutboxRow.id,
        )
        .order_by(earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )


async def deliver(
    adapter: Adapter,
    editor: Editor,
    to: ChannelRef,
    message: OutgoingMessage,
    message_id: str | None,
    progress: PartProgress,
) -> SentMessage:
    """Edit the board's message, or post it when there is none yet or it is gone.

    Charts are left out: a picture is a file of its own beside the text, which an edit of the text
    would leave showing the race as it stood at the first post; the text is complete without it."""
    message = without_charts(message)
    if message_id is not None:
        try:
            return await editor.edit(to, message_id, message)
        except MessageGone as exc:
            log.info("board message %s in %s is gone (%s): posting the board anew", message_id, to.id, exc)
    if isinstance(editor, BoardPoster):  # its editable message is not an ordinary post
        return await editor.post_board(to, message, progress)
    return await adapter.send(to, message, progress)

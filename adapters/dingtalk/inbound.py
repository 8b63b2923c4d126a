"""A DingTalk robot message (HTTP callback body or Stream `data`, the same JSON) → IncomingMessage.

- `conversationType` "1" is a single chat (a DM), "2" a group; the group's `conversationId` is its
  openConversationId, which is a team's `channel`.
- In a group the robot only receives messages that @-mention it, with the robot's own mention already
  removed from `text.content` (hence its leading space): every group message is addressed to the bot.
- Other people @-mentioned appear in the text as `@nick` and in `atUsers` as `{dingtalkId, staffId}`. When
  the named mentions and the listed people line up one to one, `@nick` is rewritten to `@staffId`, so the
  command parser finds members by id rather than by a nickname that may differ from their stored name.
  `@所有人` / `@all` are never a person and are left as typed.
- `msgId` is the event id: DingTalk redelivers the same message with the same msgId, and the dispatcher
  drops the repeat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.messages import ChannelRef, IncomingMessage, UserRef

PLATFORM = "dingtalk"
DM, GROUP = "1", "2"
_AT_TOKEN = re.compile(r"[@＠](\S+)")
_EVERYONE = frozenset({"所有人", "all", "everyone"})


class NotAMessage(ValueError):
    """The payload is not a robot message teambeat can act on (the reason says why)."""


def message_text(payload: Mapping[str, Any]) -> str | None:
    """The words of a text or rich-text message; None for pictures, files, audio…"""
    kind = payload.get("msgtype")
    if kind == "text":
        text = payload.get("text")
        content = text.get("content") if isinstance(text, Mapping) else None
        return content if isinstance(content, str) else None
    if kind == "richText":
        content = payload.get("content")
        items = content.get("richText") if isinstance(content, Mapping) else None
        if isinstance(items, list):
            return "".join(str(i["text"]) for i in items if isinstance(i, Mapping) and "text" in i)
    return None


def _people(payload: Mapping[str, Any]) -> list[str]:
    """staffIds of the people @-mentioned (not the robot, not outsiders without a staffId), in order."""
    robot = payload.get("chatbotUserId")
    listed = payload.get("atUsers")
    people = []
    for user in listed if isinstance(listed, list) else ():
        if not isinstance(user, Mapping):
            continue
        staff_id = user.get("staffId")
        if staff_id and user.get("dingtalkId") != robot:
            people.append(str(staff_id))
    return people


def _with_ids(text: str, people: list[str]) -> str:
    tokens = [m for m in _AT_TOKEN.finditer(text) if m.group(1).lower() not in _EVERYONE]
    if not people or len(tokens) != len(people):
        return text
    out, last = [], 0
    for match, staff_id in zip(tokens, people, strict=True):
        out.append(text[last : match.start()])
        out.append(f"@{staff_id}")
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def to_incoming(payload: Mapping[str, Any], received_at: datetime) -> IncomingMessage:
    """The message as the core sees it; raises NotAMessage when it is not one to act on."""
    msg_id = payload.get("msgId")
    if not isinstance(msg_id, str) or not msg_id:
        raise NotAMessage("msgId is missing")
    kind = str(payload.get("conversationType") or "")
    if kind not in (DM, GROUP):
        raise NotAMessage(f"conversationType must be {DM!r} or {GROUP!r}")
    sender = payload.get("senderStaffId") or payload.get("senderId")
    if not isinstance(sender, str) or not sender:
        raise NotAMessage("senderStaffId is missing")
    text = message_text(payload)
    if text is None:
        raise NotAMessage(f"msgtype {payload.get('msgtype')!r} is not text")
    workspace = str(payload.get("chatbotCorpId") or payload.get("senderCorpId") or "")
    if kind == GROUP:
        conversation = payload.get("conversationId")
        if not isinstance(conversation, str) or not conversation:
            raise NotAMessage("conversationId is missing")
        channel = ChannelRef(PLATFORM, workspace, conversation, "group")
    else:
        channel = ChannelRef(PLATFORM, workspace, sender, "dm")
    people = _people(payload)
    nick = payload.get("senderNick")
    return IncomingMessage(
        event_id=msg_id,
        user=UserRef(PLATFORM, workspace, sender),
        channel=channel,
        text=_with_ids(text, people).strip(),
        addressed_to_bot=True,  # groups deliver only @-messages to the robot; a DM is to the bot
        received_at=received_at,
        display_name=nick if isinstance(nick, str) and nick else None,
        mentions=tuple(UserRef(PLATFORM, workspace, p) for p in people),
        raw=dict(payload),
    )

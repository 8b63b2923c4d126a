"""A DingTalk robot message (HTTP callback body or Stream `data`, the same JSON) → IncomingMessage.

- `conversationType` "1" is a single chat (a DM), "2" a group; the group's `conversationId` is its
  openConversationId, which is a team's `channel`.
- In a group the robot only receives messages that @-mention it: every group message is addressed to the
  bot.
- DingTalk strips every @mention from `text.content` (hence its leading space) and lists the people only
  in `atUsers`, in order, as `{dingtalkId, staffId}` — the robot among them (its dingtalkId is the
  `chatbotUserId`, and it has no staffId). They become the message's mentions, robot left out; a person
  from outside the organisation (no staffId) by their dingtalkId, so that the command says it cannot find
  them rather than take the next person in their place.
- What is read: `text.content`; a `richText`'s text items joined by spaces, leaving out an item that is
  only an @name and @names at the very start (the robot's, or anyone's: the people come from atUsers);
  an `audio` message's `recognition`. A picture, video or file alone has nothing to read: it is passed
  on with `unreadable` set, and the core decides whether to say so.
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
_ONLY_AN_AT = re.compile(r"[@＠]\S+")
_LEADING_ATS = re.compile(r"^(?:[@＠]\S+\s*)+")  # "@robot 成交 …" in one item: no command starts with @
UNREADABLE = {"picture": "picture", "video": "video", "file": "file"}
"""msgtypes with nothing to read, and what the core is told the message held."""


class NotAMessage(ValueError):
    """The payload is not a robot message teambeat can act on (the reason says why)."""


def _content(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    content = payload.get("content")
    return content if isinstance(content, Mapping) else {}


def message_text(payload: Mapping[str, Any]) -> str | None:
    """The words of a text, rich-text or voice message; None for anything else."""
    kind = payload.get("msgtype")
    if kind == "text":
        text = payload.get("text")
        content = text.get("content") if isinstance(text, Mapping) else None
        return content if isinstance(content, str) else None
    if kind == "richText":
        items = _content(payload).get("richText")
        if not isinstance(items, list):
            return None
        words = [item.get("text") for item in items if isinstance(item, Mapping)]
        kept = [w.strip() for w in words if isinstance(w, str) and not _ONLY_AN_AT.fullmatch(w.strip())]
        return _LEADING_ATS.sub("", " ".join(w for w in kept if w))
    if kind == "audio":
        recognition = _content(payload).get("recognition")
        return recognition if isinstance(recognition, str) else None
    return None


def _has_picture(payload: Mapping[str, Any]) -> bool:
    items = _content(payload).get("richText")
    return isinstance(items, list) and any(
        isinstance(i, Mapping) and (i.get("type") == "picture" or "downloadCode" in i) for i in items
    )


def _people(payload: Mapping[str, Any]) -> list[str]:
    """Who was @-mentioned, in order, the robot left out: staffIds, or a dingtalkId for an outsider."""
    robot = payload.get("chatbotUserId")
    listed = payload.get("atUsers")
    people: list[str] = []
    for user in listed if isinstance(listed, list) else ():
        if not isinstance(user, Mapping) or (robot and user.get("dingtalkId") == robot):
            continue
        who = user.get("staffId") or user.get("dingtalkId")
        if isinstance(who, str) and who and who not in people:
            people.append(who)
    return people


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
    kind_of_content = payload.get("msgtype")
    unreadable = UNREADABLE.get(kind_of_content, "") if isinstance(kind_of_content, str) else ""
    text = "" if unreadable else message_text(payload)
    if text is None:
        raise NotAMessage(f"msgtype {kind_of_content!r} is not text, rich text or voice")
    if not text.strip() and kind_of_content == "richText" and _has_picture(payload):
        unreadable = "picture"  # a rich text of pictures only
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
        text=text.strip(),
        addressed_to_bot=True,  # groups deliver only @-messages to the robot; a DM is to the bot
        received_at=received_at,
        display_name=nick if isinstance(nick, str) and nick else None,
        mentions=tuple(UserRef(PLATFORM, workspace, p) for p in people),
        unreadable=unreadable,
        raw=dict(payload),
    )

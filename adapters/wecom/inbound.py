"""A decrypted WeCom message -> the neutral IncomingMessage (or None for what the bot ignores).

Text a member sends in the app's chat is a DM to the bot. A message carrying a `ChatId` comes from a
group chat (an appchat the app created, or a group robot with callbacks): its channel is that chat id,
and a leading `@名字` is the bot's mention, stripped so the command parser sees the command.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from bot.messages import ChannelRef, IncomingMessage, UserRef

PLATFORM = "wecom"
_LEADING_MENTION = re.compile(r"^\s*[@＠]\S+\s*")


def message_id(fields: dict[str, str]) -> str:
    """WeCom's MsgId (what its retries repeat); a stable digest when a message type lacks one."""
    if fields.get("MsgId"):
        return fields["MsgId"]
    basis = "|".join(
        fields.get(k, "") for k in ("FromUserName", "From.UserId", "CreateTime", "Content", "Text.Content")
    )
    return "sha1:" + hashlib.sha1(basis.encode()).hexdigest()


def to_incoming(fields: dict[str, str], corp_id: str, received_at: datetime) -> IncomingMessage | None:
    """Only text from a person becomes a message; events, images, voice and the like are ignored."""
    if fields.get("MsgType") != "text":
        return None
    user_id = fields.get("FromUserName") or fields.get("From.UserId") or ""
    text = fields.get("Content", fields.get("Text.Content", ""))
    if not user_id:
        return None
    chat_id = fields.get("ChatId", "")
    is_group = bool(chat_id) and fields.get("ChatType", "group") != "single"
    addressed = not is_group
    if is_group:
        stripped = _LEADING_MENTION.sub("", text, count=1)
        addressed = stripped != text
        text = stripped
    channel = (
        ChannelRef(PLATFORM, corp_id, chat_id, "group")
        if is_group
        else ChannelRef(PLATFORM, corp_id, user_id, "dm")
    )
    return IncomingMessage(
        event_id=message_id(fields),
        user=UserRef(PLATFORM, corp_id, user_id),
        channel=channel,
        text=text.strip(),
        addressed_to_bot=addressed,
        received_at=received_at,
        display_name=fields.get("From.Name") or None,
        raw={k: v for k, v in fields.items() if k != "Content"},
    )

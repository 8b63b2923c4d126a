"""A message's buttons as a WeCom `button_interaction` template card, and its clicks.

Verified against WeCom's docs (发送应用消息 90236, 模板卡片事件推送 90240, 更新模版卡片消息 94888) and
SDKs that mirror them: an app message `{"msgtype": "template_card", "template_card": {"card_type":
"button_interaction", "main_title": {"title"}, "sub_title_text", "task_id", "button_list": [{"text",
"style", "key"}]}}`; `task_id` is required, unique per app, made of digits, letters and `_-@`, at most 128
bytes; at most 6 buttons, each `key` at most 1,024 bytes and unique within the card (a repeat is refused
with 42039); the title is "best under 36 characters", `sub_title_text` "best under 160", a button's text
"best under 10". A click is posted to the callback as `MsgType=event, Event=template_card_event` with
`EventKey` (the button's key), `TaskId`, `CardType`, `ResponseCode` and `AgentID` — no MsgId — and the
`ResponseCode` updates the card once within 72 hours (`POST /cgi-bin/message/update_template_card`,
`{"userids", "agentid", "response_code", "button": {"replace_name"}}`).

The card names buttons by position only (`b0`…`b5`); which command each stands for, and whom the card went
to, is kept with every platform's cards (bot/services/sent_cards.py, which holds the click rule) — so a
click can only ever run a command we put on a card, for its recipient.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from adapters.wecom.render import WeComTextEncoder, defang, render_text
from bot.messages import Button, CardClick, Heading, OutgoingMessage

CARD_TYPE = "button_interaction"
CLICK_EVENT = "template_card_event"
BUTTONS_MAX = 6
KEY_PREFIX = "b"
TITLE_MAX = 36  # characters, WeCom's advice for main_title.title
SUBTITLE_MAX = 160  # characters, WeCom's advice for sub_title_text; longer text goes as markdown first
RESPONSE_CODE_VALID = timedelta(hours=72)
CARD_LIFETIME = RESPONSE_CODE_VALID  # a card acts for as long as WeCom lets us update it
_ALL_TEXT = 1_000_000


@dataclass(frozen=True, slots=True)
class CardText:
    """What the card shows: its title, and the text under it ("" when the text goes ahead as markdown)."""

    title: str
    subtitle: str
    text_apart: bool  # the message's text is too long for the card: sent as markdown before it


@dataclass(frozen=True, slots=True)
class Click:
    """One `template_card_event`, as WeCom posted it."""

    user_id: str
    task_id: str
    key: str
    response_code: str
    create_time: str


def new_task_id() -> str:
    return "tb" + uuid.uuid4().hex


def card_text(msg: OutgoingMessage) -> CardText:
    """The first heading (else the first line) as the title and the rest as the card's text — or, when
    that does not fit the card whole, the title alone: the text then goes ahead as markdown, complete."""
    heading = next((b for b in msg.blocks if isinstance(b, Heading)), None)
    rest = tuple(b for b in msg.blocks if b is not heading)
    title = WeComTextEncoder().line(heading.inlines).strip() if heading else ""
    body = "\n".join(render_text(replace(msg, blocks=rest, buttons=()), limit=_ALL_TEXT).chunks).strip()
    if not title:
        first, _, body_rest = body.partition("\n")
        title, body = first.strip(), body_rest.strip()
    title = " ".join(title.split()) or " ".join(defang(msg.fallback_text).split()) or "…"
    if len(title) > TITLE_MAX or len(body) > SUBTITLE_MAX:
        return CardText(_cut(title, TITLE_MAX), "", True)
    return CardText(title, body, False)


def template_card(
    agent_id: int, user_id: str, task_id: str, text: CardText, buttons: tuple[Button, ...]
) -> dict[str, Any]:
    """The message/send payload of the card (at most six buttons, keyed by position)."""
    card: dict[str, Any] = {
        "card_type": CARD_TYPE,
        "main_title": {"title": text.title},
        "task_id": task_id,
        "button_list": [
            {"text": button.label, "style": 1, "key": f"{KEY_PREFIX}{index}"}
            for index, button in enumerate(buttons[:BUTTONS_MAX])
        ],
    }
    if text.subtitle:
        card["sub_title_text"] = text.subtitle
    return {"touser": user_id, "msgtype": "template_card", "agentid": agent_id, "template_card": card}


def to_click(fields: dict[str, str]) -> Click | None:
    """A decrypted callback that is a click on a button card, else None."""
    if fields.get("MsgType") != "event" or fields.get("Event") != CLICK_EVENT:
        return None
    click = Click(
        user_id=fields.get("FromUserName", ""),
        task_id=fields.get("TaskId", ""),
        key=fields.get("EventKey", ""),
        response_code=fields.get("ResponseCode", ""),
        create_time=fields.get("CreateTime", ""),
    )
    return click if click.user_id and click.task_id and click.key else None


def button_index(key: str) -> int | None:
    """The position a button key names (None for a key no card of ours has)."""
    digits = key[len(KEY_PREFIX) :]
    if not key.startswith(KEY_PREFIX) or not (digits.isascii() and digits.isdigit()) or len(digits) > 1:
        return None
    return int(digits)


def card_click(click: Click) -> CardClick:
    """The click as a click on one of our cards; its ResponseCode tells it from another click."""
    index = button_index(click.key)
    return CardClick(click.task_id, -1 if index is None else index, click.response_code)


def update_payload(agent_id: int, user_id: str, response_code: str, label: str) -> dict[str, Any]:
    """update_template_card: the clicker's buttons become one grey, unclickable button saying the choice."""
    return {
        "userids": [user_id],
        "agentid": agent_id,
        "response_code": response_code,
        "button": {"replace_name": label},
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

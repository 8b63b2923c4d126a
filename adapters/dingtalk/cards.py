"""Buttons as a DingTalk robot interactive card (`StandardCard`), and a click on one as what it names.

A message with buttons sent to one member becomes a `StandardCard` — the robot's built-in card, which
needs no template made in DingTalk's card builder — sent with `POST /v1.0/im/v1.0/robot/interactiveCards/send`
(the shape dingtalk-stream's `ChatbotHandler.reply_card` sends: `cardTemplateId "StandardCard"`,
`robotCode`, `cardBizId`, `cardData` as a JSON string, `singleChatReceiver` `{"userId": staffId}` as a
JSON string). The card shows the message's markdown and one `request` button per Button; a click comes
back (Stream topic `/v1.0/card/instances/callback`, or `POST /dingtalk/card`) as
`{type: "actionCallback", outTrackId: <our cardBizId>, userId, corpId,
content: "{\\"cardPrivateData\\": {\\"actionIds\\": [<button id>], \\"params\\": {}}}"}`.
Button ids are positions ("tb-0", "tb-1" …): the commands stay in our database, never on the card.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.messages import Button

TEMPLATE = "StandardCard"
BUTTON_PREFIX = "tb-"
MAX_BUTTONS = 6  # more would not fit a phone screen's width in two rows
CARD_TOPIC = "/v1.0/card/instances/callback"


class NotAClick(ValueError):
    """The payload is not a card click teambeat can act on (the reason says why)."""


@dataclass(frozen=True, slots=True)
class Click:
    card_id: str
    user_id: str  # the clicker's staffId
    corp_id: str
    action: str  # the button id

    def button_index(self) -> int | None:
        if not self.action.startswith(BUTTON_PREFIX):
            return None
        digits = self.action[len(BUTTON_PREFIX) :]
        return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 3 else None


def card_data(title: str, markdown: str, buttons: tuple[Button, ...]) -> dict[str, Any]:
    """A StandardCard: a title, the markdown, then the buttons (none once one was chosen)."""
    contents: list[dict[str, Any]] = [{"type": "markdown", "text": markdown, "id": "text_main"}]
    if buttons:
        contents.append(
            {
                "type": "action",
                "id": "action_main",
                "actions": [
                    {
                        "type": "button",
                        "id": f"{BUTTON_PREFIX}{index}",
                        "label": {"type": "text", "text": button.label, "id": f"label_{index}"},
                        "actionType": "request",
                        "status": "primary",
                    }
                    for index, button in enumerate(buttons[:MAX_BUTTONS])
                ],
            }
        )
    return {
        "config": {"autoLayout": True, "enableForward": False},  # a forwarded card would click as others
        "header": {"title": {"type": "text", "text": title}},
        "contents": contents,
    }


def _str(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def parse_click(payload: Mapping[str, Any]) -> Click:
    """The click a card callback reports; NotAClick when it is not one."""
    kind = payload.get("type")
    if kind not in (None, "actionCallback"):
        raise NotAClick(f"type {kind!r} is not a card action")
    card_id, user_id = _str(payload, "outTrackId"), _str(payload, "userId")
    if not card_id or not user_id:
        raise NotAClick("outTrackId and userId are required")
    content = payload.get("content")
    try:
        parsed = json.loads(content) if isinstance(content, str) else content
    except (ValueError, RecursionError):
        raise NotAClick("content is not JSON") from None
    private = parsed.get("cardPrivateData") if isinstance(parsed, Mapping) else None
    actions = private.get("actionIds") if isinstance(private, Mapping) else None
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], str):
        raise NotAClick("content.cardPrivateData.actionIds names no button")
    return Click(card_id, user_id, _str(payload, "corpId"), actions[0])

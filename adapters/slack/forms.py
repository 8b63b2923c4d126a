"""Buttons and forms as Block Kit: an `actions` block of buttons, a modal for `views.open`, and the
values a `view_submission` carries.

Verified against Slack's reference (docs.slack.dev, Block Kit and views): a modal's `title`, `submit` and
`close` are plain_text of at most 24 characters; at most 100 blocks; `private_metadata` at most 3000
characters and `callback_id` 255; an `input` block's label at most 2000; `number_input` requires
`is_decimal_allowed` and takes `initial_value` as a string; a button's text at most 75 characters, its
`value` 2000 and `action_id` 255; an `actions` block holds at most 25 elements. A submission's values are
`view.state.values[block_id][action_id].value` (a string for plain_text_input and number_input, absent
when left empty); errors are answered with `response_action: "errors"` keyed by block_id.
"""

from __future__ import annotations

import json
from typing import Any

from bot.messages import Button, Form, FormField

BUTTON_ACTION_PREFIX = "teambeat.cmd."
FORM_CALLBACK_ID = "teambeat.form"
INPUT_ACTION_ID = "value"
TITLE_MAX = 24
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2_000
BUTTONS_MAX = 25
LABEL_MAX = 2_000
PLACEHOLDER_MAX = 150
METADATA_MAX = 3_000
ANSWER_MAX = 1_000  # what bot/services/checkins keeps of an answer


def _plain(text: str, limit: int) -> dict[str, Any]:
    text = text.strip() or "…"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text, "emoji": True}


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def actions_block(buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    """The buttons as one `actions` block (each button's value is the command it stands for)."""
    elements = [
        {
            "type": "button",
            "action_id": f"{BUTTON_ACTION_PREFIX}{index}",
            # A label may carry members' words (a goal's name): escaped as headers are — Slack decodes
            # &amp; &lt; &gt; in plain_text, so `<!channel>` shows as typed.
            "text": _plain(_escaped(button.label), BUTTON_TEXT_MAX),
            "value": button.command,
        }
        for index, button in enumerate(buttons[:BUTTONS_MAX])
        if len(button.command) <= BUTTON_VALUE_MAX
    ]
    return {"type": "actions", "elements": elements} if elements else None


def modal_view(form: Form) -> dict[str, Any]:
    """A modal with one input per field, numbers and amounts as number inputs; the form's command and
    context ride in private_metadata."""
    metadata = json.dumps({"c": form.command, "x": form.context}, ensure_ascii=False, separators=(",", ":"))
    if len(metadata) > METADATA_MAX:
        raise ValueError(f"the form's context is {len(metadata)} characters; Slack keeps {METADATA_MAX}")
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": FORM_CALLBACK_ID,
        "title": _plain(form.title, TITLE_MAX),
        "submit": _plain(form.submit, TITLE_MAX),
        "private_metadata": metadata,
        "blocks": [_input(field) for field in form.fields[:100]],
    }
    return view


def _input(field: FormField) -> dict[str, Any]:
    element: dict[str, Any]
    if field.kind in ("number", "amount"):
        # Slack's client checks the number; ours checks again (the same parser as typed answers), and
        # its errors show on the field.
        element = {"type": "number_input", "is_decimal_allowed": True, "min_value": "0"}
    else:
        element = {"type": "plain_text_input", "multiline": True, "max_length": ANSWER_MAX}
    element["action_id"] = INPUT_ACTION_ID
    if field.initial:
        element["initial_value"] = field.initial
    if field.hint:
        element["placeholder"] = _plain(field.hint, PLACEHOLDER_MAX)
    return {
        "type": "input",
        "block_id": field.key,
        "optional": not field.required,
        "label": _plain(field.label, LABEL_MAX),
        "element": element,
    }


def submitted(view: dict[str, Any]) -> tuple[str, str, dict[str, str]] | None:
    """(command, context, field key → value entered) of a submitted form of ours, else None."""
    if not isinstance(view, dict) or view.get("callback_id") != FORM_CALLBACK_ID:
        return None
    try:
        meta = json.loads(view.get("private_metadata") or "")
        command, context = str(meta["c"]), str(meta["x"])
    except (ValueError, TypeError, KeyError):
        return None
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    if not isinstance(state, dict):
        return None
    for block_id, actions in state.items():
        entry = actions.get(INPUT_ACTION_ID) if isinstance(actions, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        values[str(block_id)] = value if isinstance(value, str) else ""
    return command, context, values

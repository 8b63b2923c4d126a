"""Platform-neutral message types: what adapters hand the core and what the core hands back.

Every id is qualified by platform and workspace, so the same user id on two platforms is two people.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

ChannelKind = Literal["dm", "group"]


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: str
    workspace: str
    id: str


@dataclass(frozen=True, slots=True)
class ChannelRef:
    platform: str
    workspace: str
    id: str
    kind: ChannelKind = "group"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One thing a person said to the bot, translated from any platform."""

    event_id: str
    user: UserRef
    channel: ChannelRef
    text: str
    addressed_to_bot: bool
    received_at: datetime
    display_name: str | None = None
    mentions: tuple[UserRef, ...] = ()
    unreadable: str = ""
    """What the message held instead of text, when nothing in it can be read ("picture"); else ""."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    can_open_form: bool = False
    """The platform can show a form in answer to this message (a Slack click or command's trigger_id)."""
    submitted: FormSubmission | None = None
    """What a person entered in a form this bot showed (its `text` is the form's command)."""
    clicked: CardClick | None = None
    """The card button this message is a click on (its `text` is the button's command)."""


@dataclass(frozen=True, slots=True)
class CardClick:
    """A click on a button of a card the bot sent: the command acts as that card's one choice."""

    card_id: str
    button: int  # the button's position on the card
    click_id: str = ""  # the platform's id of this very click, when it gives one (WeCom's ResponseCode)


@dataclass(frozen=True, slots=True)
class FormSubmission:
    context: str  # the form's `context`, as the form carried it
    values: tuple[tuple[str, str], ...]  # (field key, what was entered), in the form's order


# ----- inline elements -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Bold:
    text: str


@dataclass(frozen=True, slots=True)
class Mention:
    """A real mention of one person (never 'everyone'): renderers turn it into a notifying mention."""

    user_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    text: str


Inline = Text | Bold | Mention | Link


# ----- blocks ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heading:
    inlines: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Paragraph:
    inlines: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class BulletList:
    items: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True, slots=True)
class Fields:
    """Label/value pairs shown side by side where the platform can."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress bar: `value` is the ratio done (may exceed 1), `label` the text beside it."""

    value: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class Divider:
    pass


@dataclass(frozen=True, slots=True)
class Image:
    """A picture: an http(s) URL, or a chart's PNG carried as `data:image/png;base64,…` (see `png_image`)."""

    url: str
    alt: str = ""


PNG_DATA_PREFIX = "data:image/png;base64,"


def png_image(data: bytes, alt: str = "") -> Image:
    """A chart as an Image block: its bytes travel inside the message (and the outbox row)."""
    return Image(PNG_DATA_PREFIX + base64.b64encode(data).decode("ascii"), alt)


def png_bytes(block: Image) -> bytes | None:
    """The PNG a `png_image` block carries, else None (a plain URL)."""
    if not block.url.startswith(PNG_DATA_PREFIX):
        return None
    try:
        return base64.b64decode(block.url[len(PNG_DATA_PREFIX) :], validate=True)
    except ValueError:
        return None


def without_charts(msg: OutgoingMessage) -> OutgoingMessage:
    """The message without the pictures it carries (for text-only destinations, or images turned off)."""
    kept = tuple(b for b in msg.blocks if not (isinstance(b, Image) and png_bytes(b) is not None))
    return msg if len(kept) == len(msg.blocks) else replace(msg, blocks=kept)


Block = Heading | Paragraph | BulletList | Fields | Progress | Divider | Image


# ----- interactive parts: optional extras, the text is complete without them -----------------------


@dataclass(frozen=True, slots=True)
class Button:
    """A click that stands for a command typed by the person who clicks (with that person's role)."""

    label: str
    command: str  # e.g. "/checkin" or "/checkin skip"


@dataclass(frozen=True, slots=True)
class FormField:
    key: str
    label: str
    kind: str = "text"  # text | number | amount
    required: bool = True
    initial: str = ""
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Form:
    """Inputs to fill in where the platform can show a form; submitted, they go to `command` as a
    `FormSubmission` carrying `context` back unchanged."""

    title: str
    submit: str
    command: str
    fields: tuple[FormField, ...]
    context: str = ""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    blocks: tuple[Block, ...]
    fallback_text: str
    buttons: tuple[Button, ...] = ()
    form: Form | None = None

    def mentioned_user_ids(self) -> tuple[str, ...]:
        """Every user mentioned, in order of first appearance (for platforms that list them apart)."""
        seen: dict[str, None] = {}
        for inline in _all_inlines(self.blocks):
            if isinstance(inline, Mention):
                seen.setdefault(inline.user_id, None)
        return tuple(seen)

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "fallback_text": self.fallback_text,
            "blocks": [_block_to_dict(b) for b in self.blocks],
        }
        if self.buttons:
            data["buttons"] = [asdict(b) for b in self.buttons]
        if self.form is not None:
            data["form"] = asdict(self.form)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> OutgoingMessage:
        raw = json.loads(data)
        form = raw.get("form")
        return cls(
            blocks=tuple(_block_from_dict(b) for b in raw["blocks"]),
            fallback_text=raw["fallback_text"],
            buttons=tuple(Button(**b) for b in raw.get("buttons", ())),
            form=None
            if form is None
            else Form(**{**form, "fields": tuple(FormField(**f) for f in form["fields"])}),
        )


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str
    channel: ChannelRef


def _all_inlines(blocks: tuple[Block, ...]):
    for block in blocks:
        if isinstance(block, Heading | Paragraph):
            yield from block.inlines
        elif isinstance(block, BulletList):
            for item in block.items:
                yield from item


_INLINE_TYPES: dict[str, type] = {"text": Text, "bold": Bold, "mention": Mention, "link": Link}
_INLINE_NAMES = {v: k for k, v in _INLINE_TYPES.items()}
_BLOCK_TYPES: dict[str, type] = {
    "heading": Heading,
    "paragraph": Paragraph,
    "list": BulletList,
    "fields": Fields,
    "progress": Progress,
    "divider": Divider,
    "image": Image,
}
_BLOCK_NAMES = {v: k for k, v in _BLOCK_TYPES.items()}


def _inline_to_dict(inline: Inline) -> dict[str, Any]:
    return {"t": _INLINE_NAMES[type(inline)], **asdict(inline)}


def _inline_from_dict(raw: dict[str, Any]) -> Inline:
    data = dict(raw)
    return _INLINE_TYPES[data.pop("t")](**data)


def _block_to_dict(block: Block) -> dict[str, Any]:
    name = _BLOCK_NAMES[type(block)]
    if isinstance(block, Heading | Paragraph):
        return {"t": name, "inlines": [_inline_to_dict(i) for i in block.inlines]}
    if isinstance(block, BulletList):
        return {"t": name, "items": [[_inline_to_dict(i) for i in item] for item in block.items]}
    if isinstance(block, Fields):
        return {"t": name, "items": [list(pair) for pair in block.items]}
    return {"t": name, **asdict(block)}


def _block_from_dict(raw: dict[str, Any]) -> Block:
    data = dict(raw)
    cls = _BLOCK_TYPES[data.pop("t")]
    if cls in (Heading, Paragraph):
        return cls(tuple(_inline_from_dict(i) for i in data["inlines"]))
    if cls is BulletList:
        return BulletList(tuple(tuple(_inline_from_dict(i) for i in item) for item in data["items"]))
    if cls is Fields:
        return Fields(tuple((str(a), str(b)) for a, b in data["items"]))
    return cls(**data)

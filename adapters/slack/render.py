"""Neutral blocks → Slack Block Kit (header, section, fields, context, image) plus fallback text.

Every piece of text that did not come from us is escaped for mrkdwn (`&`, `<`, `>`), so `<!channel>`,
`<!here>` or `<@U…>` typed by a member show as literal text and notify nobody; the only `<…>` entities we
emit are real mentions of the people a message names (`Mention`) and links. Slack's limits (40,000
characters of text, 3,000 per section, 150 per header, 10 fields of 2,000, 50 blocks) are met by
splitting — into more sections, then into more messages — never by cutting text off.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from adapters.slack.forms import actions_block
from bot.messages import (
    Bold,
    BulletList,
    Divider,
    Fields,
    Heading,
    Image,
    Inline,
    Link,
    Mention,
    OutgoingMessage,
    Paragraph,
    Progress,
    Text,
    png_bytes,
)
from bot.rendering.encoder import BULLET, MessageEncoder, progress_bar
from bot.rendering.format import percent

TEXT_MAX = 40_000
SECTION_TEXT_MAX = 3_000
HEADER_MAX = 150
FIELDS_MAX = 10
FIELD_TEXT_MAX = 2_000
CONTEXT_TEXT_MAX = 2_000
IMAGE_URL_MAX = 3_000
IMAGE_ALT_MAX = 2_000
BLOCKS_MAX = 50

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_LINK_SCHEMES = ("http://", "https://", "mailto:")
# Units a split must never cut: an escape (`&amp;`) or one of our own entities (`<@U1>`, `<url|text>`).
_ATOM = re.compile(r"&(?:amp|lt|gt);|<[^<>]*>")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One chat.postMessage worth: mrkdwn `text` (notification fallback) and its blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}


def escape(text: str) -> str:
    """mrkdwn escaping: the only three characters Slack gives meaning to inside text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(msg: OutgoingMessage) -> list[SlackMessage]:
    """The message as one Slack message, or several in order when it is over Slack's limits."""
    blocks = [b for group in SlackEncoder().blocks(msg.blocks) for b in group]
    if not blocks:
        plain = [SlackMessage(text) for text in split_mrkdwn(escape(msg.fallback_text), TEXT_MAX)]
        return _with_buttons(plain or [SlackMessage(" ")], msg)
    messages: list[SlackMessage] = []
    for index, group in enumerate(_pack(blocks)):
        body = "\n".join(t for t in (_block_text(b) for b in group) if t)
        fallback = escape(msg.fallback_text) if index == 0 else ""
        text = fallback if fallback and len(fallback) <= TEXT_MAX else body
        messages.append(SlackMessage(text or " ", group))
    return _with_buttons(messages, msg)


def _with_buttons(messages: list[SlackMessage], msg: OutgoingMessage) -> list[SlackMessage]:
    """The message's buttons as an `actions` block under its last part (a part of its own when full)."""
    actions = actions_block(msg.buttons)
    if actions is None:
        return messages
    last = messages[-1]
    if len(last.blocks) < BLOCKS_MAX and last.blocks:
        return [*messages[:-1], SlackMessage(last.text, [*last.blocks, actions])]
    return [*messages, SlackMessage(" ", [actions])]


class SlackEncoder(MessageEncoder[list[dict[str, Any]], str]):
    """Blocks become Block Kit blocks (none, one or several), inlines mrkdwn."""

    def escape(self, text: str) -> str:
        return escape(text)

    def mrkdwn(self, inlines: Iterable[Inline]) -> str:
        items = list(inlines)
        pieces = self.inlines(items)
        for index, inline in enumerate(items):
            if isinstance(inline, Bold) and pieces[index].strip().startswith("*"):
                before = pieces[index - 1][-1:] if index else ""
                after = pieces[index + 1][:1] if index + 1 < len(pieces) else ""
                pieces[index] = _spaced(pieces[index], before, after)
        return "".join(pieces)

    def heading(self, block: Heading) -> list[dict[str, Any]]:
        # Slack decodes &amp; &lt; &gt; in plain_text too, and plain_text never notifies anyone.
        plain = self.escape(_plain_inlines(block.inlines).strip())
        if not plain:
            return []
        if len(plain) <= HEADER_MAX:
            return [{"type": "header", "text": {"type": "plain_text", "text": plain, "emoji": True}}]
        return _sections(_bold(plain))  # too long for a header: a bold section keeps every word

    def paragraph(self, block: Paragraph) -> list[dict[str, Any]]:
        return _sections(self.mrkdwn(block.inlines))

    def bullet_list(self, block: BulletList) -> list[dict[str, Any]]:
        return _sections("\n".join(BULLET + self.mrkdwn(item) for item in block.items))

    def fields(self, block: Fields) -> list[dict[str, Any]]:
        return _fields(block.items)

    def progress(self, block: Progress) -> list[dict[str, Any]]:
        line = f"`{progress_bar(block.value)}` *{percent(block.value)}*"
        text = f"{line}  {self.escape(block.label)}" if block.label else line
        if len(text) > CONTEXT_TEXT_MAX:
            return _sections(text)
        return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]

    def divider(self, block: Divider) -> list[dict[str, Any]]:
        return [{"type": "divider"}]

    def image(self, block: Image) -> list[dict[str, Any]]:
        if png_bytes(block) is not None:  # a chart: uploaded as a file after the text (SlackAdapter.send)
            return []
        url_ok = block.url.startswith(("http://", "https://")) and len(block.url) <= IMAGE_URL_MAX
        if url_ok and len(block.alt) <= IMAGE_ALT_MAX and not any(c.isspace() for c in block.url):
            return [{"type": "image", "image_url": block.url, "alt_text": block.alt or "image"}]
        caption = f"{block.alt} {block.url}".strip()
        return _sections(self.escape(caption))

    def text(self, inline: Text) -> str:
        return self.escape(inline.text)

    def bold(self, inline: Bold) -> str:
        return _bold(self.escape(inline.text))

    def mention(self, inline: Mention) -> str:
        if _USER_ID.match(inline.user_id):
            return f"<@{inline.user_id}>"
        return self.escape(f"@{inline.name}")  # not a Slack id (a name from the config): no entity at all

    def link(self, inline: Link) -> str:
        url = inline.url.strip()
        if not url.startswith(_LINK_SCHEMES) or any(c.isspace() for c in url):
            label = inline.text if inline.text == inline.url else f"{inline.text} ({inline.url})"
            return self.escape(label)
        target = self.escape(url).replace("|", "%7C")
        if not inline.text or inline.text == inline.url:
            return f"<{target}>"
        return f"<{target}|{self.escape(inline.text)}>"


# ----- Block Kit pieces --------------------------------------------------------------------------------


def _sections(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in split_mrkdwn(text, SECTION_TEXT_MAX)
        if part.strip()
    ]


def _fields(items: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    row: list[dict[str, Any]] = []
    for label, value in items:
        text = f"*{escape(label)}*\n{escape(value)}" if label.strip() else escape(value)
        if len(text) > FIELD_TEXT_MAX:  # one long value: its own sections, in place
            if row:
                blocks.append({"type": "section", "fields": row})
                row = []
            blocks.extend(_sections(text))
            continue
        row.append({"type": "mrkdwn", "text": text or " "})
        if len(row) == FIELDS_MAX:
            blocks.append({"type": "section", "fields": row})
            row = []
    if row:
        blocks.append({"type": "section", "fields": row})
    return blocks


def _pack(blocks: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Blocks grouped into messages: at most 50 each, and text that fits a message's 40,000."""
    group: list[dict[str, Any]] = []
    size = 0
    for block in blocks:
        length = len(_block_text(block)) + 1
        if group and (len(group) == BLOCKS_MAX or size + length > TEXT_MAX):
            yield group
            group, size = [], 0
        group.append(block)
        size += length
    if group:
        yield group


def _block_text(block: dict[str, Any]) -> str:
    """A block's words as mrkdwn, for the fallback `text` of continuation messages."""
    kind = block["type"]
    if kind == "header":
        return _bold(block["text"]["text"])
    if kind == "section" and "text" in block:
        return str(block["text"]["text"])
    if kind == "section":
        return "\n".join(f["text"] for f in block["fields"])
    if kind == "context":
        return "\n".join(e["text"] for e in block["elements"])
    if kind == "image":
        return escape(block["alt_text"])
    return ""


# ----- text ------------------------------------------------------------------------------------------


def _bold(escaped: str) -> str:
    """`*text*`, with outer spaces kept outside (Slack ignores `* x*`); plain when `*` would clash."""
    core = escaped.strip()
    if not core or "*" in core or "\n" in core:
        return escaped
    start = escaped.index(core)
    return f"{escaped[:start]}*{core}*{escaped[start + len(core) :]}"


def _spaced(bold: str, before: str, after: str) -> str:
    """Slack reads `*` as bold only beside a space or ASCII punctuation: next to a CJK character, a
    full-width mark (：，（) or a letter it shows the asterisks. A space keeps the bold."""
    return (" " if _glued(before) else "") + bold + (" " if _glued(after) else "")


def _glued(char: str) -> bool:
    return bool(char) and (char.isalnum() or unicodedata.east_asian_width(char) in ("W", "F"))


def _plain_inlines(inlines: Iterable[Inline]) -> str:
    parts = []
    for inline in inlines:
        if isinstance(inline, Mention):
            parts.append(f"@{inline.name}")
        elif isinstance(inline, Link):
            parts.append(inline.text or inline.url)
        else:
            parts.append(inline.text)
    return "".join(parts)


# ----- splitting ---------------------------------------------------------------------------------------


def split_mrkdwn(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at a line break, else a space, never inside an
    escape or an entity; together they hold every character of `text`."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    unsafe = _atom_interiors(text, limit)
    for separator in ("\n", " "):
        at = text.rfind(separator, 0, limit)
        while at > 0 and (at + 1) in unsafe:
            at = text.rfind(separator, 0, at)
        if at > limit // 2:
            return at + 1
    cut = limit
    while cut in unsafe:
        cut -= 1
    return max(cut, 1)


def _atom_interiors(text: str, limit: int) -> set[int]:
    """Positions where a cut would fall inside an atom (only the first `limit` + 1 characters matter)."""
    inside: set[int] = set()
    for match in _ATOM.finditer(text, 0, limit + IMAGE_URL_MAX + 100):
        if match.start() > limit:
            break
        inside.update(range(match.start() + 1, match.end()))
    return inside

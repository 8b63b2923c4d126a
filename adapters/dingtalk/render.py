"""Neutral blocks → DingTalk markdown (headings, bold, lists, quotes, links, images, line breaks).

Safety rules, each tested:
- Every piece of text (member words, names, labels) is escaped: markdown specials become their full-width
  look-alikes (`*` → `＊`, `[` → `［`, `#` → `＃` …) and `@` becomes `＠`. Full-width rather than backslash
  escapes because DingTalk's renderer does not reliably honour backslashes, and a full-width `＠所有人` can
  never be read as a mention. So member text can neither notify anyone nor reshape the post around it.
- Only a `Mention` block element produces a real mention: `@userId` in the text plus the id in
  `at.atUserIds` (both are needed, see platforms.md). `isAtAll` is always false.
- Where a message cannot notify (OpenAPI sampleMarkdown and DMs have no `at` field), a mention is shown as
  `＠name`, bold-free and inert.
- A post whose `msgParam` would exceed 15,000 UTF-8 bytes is split between blocks (then between lines,
  then — only for a single enormous line — between characters), never truncated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.messages import (
    Block,
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
)
from bot.rendering.encoder import DIVIDER, MessageEncoder, progress_bar
from bot.rendering.format import percent

MAX_MSG_PARAM_BYTES = 15_000
TITLE_CHARS = 60
BREAK = "  \n"  # a hard line break inside a paragraph or list item
BLOCK_SEPARATOR = "\n\n"

_FULL_WIDTH = str.maketrans(
    {
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "#": "＃",
        "~": "～",
        "|": "｜",
        "\\": "＼",
        "@": "＠",
    }
)
_LIST_MARKER = re.compile(r"^(\s*)([-+])(\s|$)")
_ORDERED_MARKER = re.compile(r"^(\s*)(\d+)\.(\s|$)")
_RULE_LINE = re.compile(r"^(\s*)([-=]{2,})(\s*)$")
_MENTIONABLE_ID = re.compile(r"^[A-Za-z0-9_\-.$:]{1,64}$")
_MENTION_IN_TEXT = re.compile(r"@([A-Za-z0-9_\-.$:]{1,64})")
_SAFE_URL = re.compile(r"^https?://[^\s]+$", re.I)


@dataclass(frozen=True, slots=True)
class Markdown:
    """One DingTalk markdown message: what a robot, a sessionWebhook or OpenAPI is given."""

    title: str
    text: str
    at_user_ids: tuple[str, ...] = ()

    def msg_param(self) -> str:
        """The OpenAPI `msgParam` of msgKey `sampleMarkdown` (a JSON string)."""
        return json.dumps({"title": self.title, "text": self.text}, ensure_ascii=False)

    def robot_body(self) -> dict[str, Any]:
        """The body of a custom robot / sessionWebhook call; never `isAtAll`."""
        return {
            "msgtype": "markdown",
            "markdown": {"title": self.title, "text": self.text},
            "at": {"atUserIds": list(self.at_user_ids), "isAtAll": False},
        }


def escape(text: str) -> str:
    """Member text as inert markdown: specials full-width, line-leading markers defused, breaks kept."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").translate(_FULL_WIDTH).split("\n")
    return BREAK.join(_defuse_line(line) for line in lines)


def _defuse_line(line: str) -> str:
    line = _LIST_MARKER.sub(lambda m: m.group(1) + ("－" if m.group(2) == "-" else "＋") + m.group(3), line)
    line = _ORDERED_MARKER.sub(lambda m: f"{m.group(1)}{m.group(2)}．{m.group(3)}", line)
    return _RULE_LINE.sub(
        lambda m: m.group(1) + m.group(2).replace("-", "－").replace("=", "＝") + m.group(3), line
    )


def _url(url: str) -> str | None:
    """A link target that cannot end the markdown link early; None when not a plain http(s) URL."""
    url = url.strip()
    if not _SAFE_URL.match(url):
        return None
    return url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


@dataclass
class _Chunk:
    text: str
    mentions: list[str] = field(default_factory=list)


class DingTalkEncoder(MessageEncoder[str, str]):
    """Blocks and inlines become markdown; `chunk` also tells which people a block mentions."""

    def __init__(self, notify: bool) -> None:
        self.notify = notify
        self._mentions: list[str] = []

    def escape(self, text: str) -> str:
        return escape(text)

    def chunk(self, block: Block) -> _Chunk:
        self._mentions = []
        return _Chunk(self.block(block), self._mentions)

    def line(self, inlines: Iterable[Inline]) -> str:
        text = "".join(self.inlines(inlines))
        return re.sub(r" {2,}(?!\n)", " ", text).strip(" ")  # spaces around mentions, not breaks

    def heading(self, block: Heading) -> str:
        return "### " + self.line(block.inlines).replace(BREAK, " ")

    def paragraph(self, block: Paragraph) -> str:
        return self.line(block.inlines)

    def bullet_list(self, block: BulletList) -> str:
        return "\n".join("- " + self.line(item).replace(BREAK, BREAK + "  ") for item in block.items)

    def fields(self, block: Fields) -> str:
        return BREAK.join(f"**{self.escape(label)}**: {self.escape(value)}" for label, value in block.items)

    def progress(self, block: Progress) -> str:
        text = f"{progress_bar(block.value)} {percent(block.value)}"
        return f"{text} {self.escape(block.label)}" if block.label else text

    def divider(self, block: Divider) -> str:
        return DIVIDER

    def image(self, block: Image) -> str:
        url = _url(block.url)
        return f"![{self.escape(block.alt)}]({url})" if url else self.escape(block.alt)

    def text(self, inline: Text) -> str:
        return self.escape(inline.text)

    def bold(self, inline: Bold) -> str:
        return f"**{self.escape(inline.text)}**" if inline.text.strip() else self.escape(inline.text)

    def mention(self, inline: Mention) -> str:
        if self.notify and _MENTIONABLE_ID.match(inline.user_id):
            self._mentions.append(inline.user_id)
            return f" @{inline.user_id} "
        return "＠" + self.escape(inline.name)

    def link(self, inline: Link) -> str:
        url = _url(inline.url)
        label = self.escape(inline.text or inline.url)
        return f"[{label}]({url})" if url else label


def title_of(msg: OutgoingMessage) -> str:
    """The notification title: the first heading, else the fallback's first line (plain text)."""
    heading = next((b for b in msg.blocks if isinstance(b, Heading)), None)
    if heading is not None:
        plain = "".join(i.name if isinstance(i, Mention) else i.text for i in heading.inlines)
    else:
        plain = msg.fallback_text
    first = next((line.strip() for line in plain.splitlines() if line.strip()), "") or "teambeat"
    first = first.replace("@", "＠")
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"


def render(msg: OutgoingMessage, *, notify: bool, max_bytes: int = MAX_MSG_PARAM_BYTES) -> list[Markdown]:
    """The message as one or more markdown posts, each with `msgParam` ≤ `max_bytes` UTF-8 bytes."""
    encoder = DingTalkEncoder(notify)
    chunks = [encoder.chunk(block) for block in msg.blocks] or [_Chunk(escape(msg.fallback_text))]
    title = title_of(msg)
    mentioned = list(dict.fromkeys(uid for chunk in chunks for uid in chunk.mentions))
    whole = BLOCK_SEPARATOR.join(chunk.text for chunk in chunks)
    single = Markdown(title, whole, tuple(mentioned))
    if _utf8(single.msg_param()) <= max_bytes:
        return [single]
    budget = max_bytes - _utf8(Markdown(title + " (99/99)", "").msg_param())
    if budget < 64:
        raise ValueError(f"max_bytes {max_bytes} leaves no room for text")
    texts = _pack([c.text for c in chunks], budget)
    total = len(texts)
    posts = []
    for n, text in enumerate(texts, 1):
        shown = set(_MENTION_IN_TEXT.findall(text))  # member text has no "@" left: these are mentions
        posts.append(Markdown(f"{title} ({n}/{total})", text, tuple(u for u in mentioned if u in shown)))
    return posts


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _json_bytes(text: str) -> int:
    """What `text` adds to a JSON string value, in UTF-8 bytes (escapes included)."""
    return _utf8(json.dumps(text, ensure_ascii=False)) - 2


def _pack(pieces: list[str], budget: int, separator: str = BLOCK_SEPARATOR) -> list[str]:
    """Greedy: as many whole pieces per part as fit; a piece too big alone is split by lines, then chars."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    sep = _json_bytes(separator)
    for piece in pieces:
        cost = _json_bytes(piece)
        if cost > budget:
            if current:
                parts.append(separator.join(current))
                current, size = [], 0
            lines = piece.split("\n")
            if len(lines) > 1:
                parts.extend(_pack(lines, budget, "\n"))
            else:
                parts.extend(_split_chars(piece, budget))
            continue
        extra = cost + (sep if current else 0)
        if current and size + extra > budget:
            parts.append(separator.join(current))
            current, size, extra = [], 0, cost
        current.append(piece)
        size += extra
    if current:
        parts.append(separator.join(current))
    return parts


def _split_chars(text: str, budget: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        cost = _json_bytes(char)
        if current and size + cost > budget:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += cost
    if current:
        parts.append("".join(current))
    return parts

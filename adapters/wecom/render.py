"""Neutral blocks -> WeCom markdown (its own subset) or plain text, split under WeCom's byte limits.

WeCom markdown knows headings, **bold**, [links](url), `code`, > quotes, <font color="info|comment|
warning"> and, for group robots only, <@userid> mentions. Member text must never become any of those,
so every character that could start markup is replaced by its full-width twin (＊ ［ ］ ＜ ＞ ｀ ＆), a
`#` that would start a heading likewise, and `@all`/`@所有人` lose their half-width `@`. Nothing then in a
member's words can notify anyone or reach past them into the surrounding formatting.

Limits are UTF-8 bytes of `content`: 2,048 for app messages (message/send, appchat/send, passive text
replies) and robot text, 4,096 for robot markdown. WeCom truncates silently beyond them, so a long
message is split into several (between blocks, else lines, else inside a line), never cut.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

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
)
from bot.rendering.encoder import BULLET, DIVIDER, MessageEncoder, PlainTextEncoder, progress_bar
from bot.rendering.format import percent

APP_MESSAGE_BYTES = 2048
ROBOT_TEXT_BYTES = 2048
ROBOT_MARKDOWN_BYTES = 4096
ROBOT_IMAGE_BYTES = 2 * 1024 * 1024
MAX_LINK_BYTES = 512

_UTF8_MAX = 4

_MARKDOWN_TWINS = str.maketrans(
    {"*": "＊", "`": "｀", "[": "［", "]": "］", "<": "＜", ">": "＞", "&": "＆", "\r": ""}
)
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_EVERYONE = re.compile(r"[@＠](?=(?:all|everyone|here|channel)(?![A-Za-z0-9_])|所有人|全体)", re.IGNORECASE)
_HEADING_START = re.compile(r"^(\s*)#")
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_NOT_A_USER = frozenset({"all", "@all", "everyone", "here", "channel"})
_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpe?g|gif);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")


@dataclass(frozen=True, slots=True)
class Rendered:
    """What one neutral message becomes: message contents in order, then images (robot only)."""

    chunks: tuple[str, ...]
    images: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class _Segment:
    """A run of output: `body` may be cut between characters (each piece re-wrapped in prefix/suffix)
    unless it is markup that only makes sense whole."""

    body: str
    prefix: str = ""
    suffix: str = ""
    breakable: bool = True

    @property
    def full(self) -> str:
        return self.prefix + self.body + self.suffix


_Line = list[_Segment]


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def defang(text: str) -> str:
    """Plain text that cannot address everyone: `@all` -> `＠all`, `@所有人` -> `＠所有人`."""
    return _EVERYONE.sub("＠", _CONTROLS.sub("", text))


def escape_markdown(text: str) -> str:
    """Member text shown literally inside WeCom markdown (one line or several)."""
    return defang(text).translate(_MARKDOWN_TWINS)


def is_user_id(user_id: str) -> bool:
    return bool(_USER_ID.match(user_id)) and user_id.lower() not in _NOT_A_USER


def data_image(url: str) -> bytes | None:
    """The bytes of a `data:image/png;base64,…` URL (how charts travel), else None."""
    match = _DATA_IMAGE.match(url.strip())
    if not match:
        return None
    try:
        return base64.b64decode("".join(match.group("data").split()), validate=True)
    except (binascii.Error, ValueError):
        return None


# ----- markdown -------------------------------------------------------------------------------------


def render_markdown(msg: OutgoingMessage, *, limit: int, robot: bool) -> Rendered:
    """WeCom markdown; `robot` messages may carry <@userid> mentions and images, app messages may not."""
    encoder = WeComMarkdownEncoder(robot)
    blocks = [lines for lines in encoder.blocks(msg.blocks) if lines]
    if not blocks:
        blocks = [[[_Segment(escape_markdown(msg.fallback_text))]]]
    return Rendered(tuple(_pack(blocks, limit)), tuple(encoder.images))


class WeComMarkdownEncoder(MessageEncoder[list[_Line], _Segment | None]):
    """Blocks become lines of segments, inlines a segment (or nothing); chart bytes are kept in `images`."""

    def __init__(self, robot: bool) -> None:
        self.robot = robot
        self.images: list[bytes] = []
        self._single_line = False

    def escape(self, text: str) -> str:
        return escape_markdown(text)

    def segments(self, inlines: Iterable[Inline], *, single_line: bool) -> list[_Segment]:
        self._single_line = single_line  # a heading's text keeps to one line
        return [segment for segment in self.inlines(inlines) if segment is not None]

    def heading(self, block: Heading) -> list[_Line]:
        segments = self.segments(block.inlines, single_line=True)
        return [[_Segment("### ", breakable=False), *segments]] if segments else []

    def paragraph(self, block: Paragraph) -> list[_Line]:
        return _lines(self.segments(block.inlines, single_line=False))

    def bullet_list(self, block: BulletList) -> list[_Line]:
        lines: list[_Line] = []
        for item in block.items:
            item_lines = _lines(self.segments(item, single_line=False)) or [[]]
            item_lines[0] = [_Segment(BULLET, breakable=False), *item_lines[0]]
            lines.extend(item_lines)
        return lines

    def fields(self, block: Fields) -> list[_Line]:
        return [
            [
                _Segment(self.escape(_one_line(label)) + ": ", '<font color="comment">', "</font>"),
                _Segment(self.escape(_one_line(value))),
            ]
            for label, value in block.items
        ]

    def progress(self, block: Progress) -> list[_Line]:
        line = [
            _Segment(progress_bar(block.value), f'<font color="{_progress_color(block.value)}">', "</font>")
        ]
        tail = " " + percent(block.value) + (" " + _one_line(block.label) if block.label else "")
        return [[*line, _Segment(self.escape(tail))]]

    def divider(self, block: Divider) -> list[_Line]:
        return [[_Segment(DIVIDER, '<font color="comment">', "</font>", breakable=False)]]

    def image(self, block: Image) -> list[_Line]:
        data = data_image(block.url)
        if data is not None:
            if self.robot:
                self.images.append(data)
            return (
                [[_Segment(self.escape(_one_line(block.alt)), '<font color="comment">', "</font>")]]
                if block.alt
                else []
            )
        link = _markdown_link(block.url, block.alt or block.url)
        return [[link]] if link else []

    def text(self, inline: Text) -> _Segment | None:
        text = _one_line(inline.text) if self._single_line else inline.text
        return _Segment(self.escape(text)) if text else None

    def bold(self, inline: Bold) -> _Segment | None:
        text = _one_line(inline.text)
        return _Segment(self.escape(text), "**", "**") if text.strip() else None

    def mention(self, inline: Mention) -> _Segment | None:
        if self.robot and is_user_id(inline.user_id):
            return _Segment(f"<@{inline.user_id}>", breakable=False)
        return _Segment(self.escape("@" + _one_line(inline.name)))

    def link(self, inline: Link) -> _Segment | None:
        return _markdown_link(inline.url, inline.text)


def _markdown_link(url: str, text: str) -> _Segment | None:
    label = escape_markdown(_one_line(text)) or escape_markdown(url)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _Segment(label) if label else None
    safe = quote(url.strip(), safe=":/?#@!$&'*+,;=%~-._")
    markup = f"[{label}]({safe})"
    if nbytes(markup) > MAX_LINK_BYTES:
        return _Segment(f"{label} {escape_markdown(safe)}")
    return _Segment(markup, breakable=False)


def _lines(segments: list[_Segment]) -> list[_Line]:
    """Split segments at the newlines inside them; a line that would start a heading is defused."""
    lines: list[_Line] = [[]]
    for segment in segments:
        parts = segment.body.split("\n") if segment.breakable else [segment.body]
        for index, part in enumerate(parts):
            if index:
                lines.append([])
            if part or not segment.breakable:
                lines[-1].append(_Segment(part, segment.prefix, segment.suffix, segment.breakable))
    result = [line for line in lines if line]
    for line in result:
        first = line[0]
        if first.breakable and not first.prefix and _HEADING_START.match(first.body):
            line[0] = _Segment(_HEADING_START.sub(r"\1＃", first.body, count=1))
    return result


def _one_line(text: str) -> str:
    return " ".join(text.replace("\r", "").split("\n"))


def _progress_color(value: float) -> str:
    if math.isfinite(value) and value >= 1:
        return "info"
    if not math.isfinite(value) or value < 0.5:
        return "warning"
    return "comment"


# ----- plain text -----------------------------------------------------------------------------------


def render_text(msg: OutgoingMessage, *, limit: int) -> Rendered:
    """Plain text (passive replies, clients without markdown): nothing is markup, only @all is defused."""
    texts = WeComTextEncoder().blocks(msg.blocks)
    blocks = [[[_Segment(line)] for line in text.split("\n")] for text in texts]
    blocks = [block for block in blocks if any(seg.body for line in block for seg in line)]
    if not blocks:
        blocks = [[[_Segment(defang(msg.fallback_text))]]]
    return Rendered(tuple(_pack(blocks, limit)))


class WeComTextEncoder(PlainTextEncoder):
    def escape(self, text: str) -> str:
        return defang(text)

    def image(self, block: Image) -> str:
        return defang(block.alt) if data_image(block.url) is not None else defang(block.alt or block.url)


# ----- splitting ------------------------------------------------------------------------------------


def _pack(blocks: list[list[_Line]], limit: int) -> list[str]:
    """Fill each message with whole blocks, else whole lines, else pieces of a line; all ≤ limit bytes."""
    if limit < 64:
        raise ValueError("a WeCom message limit below 64 bytes cannot hold markup")
    chunks: list[str] = []
    current = ""

    def add(text: str) -> bool:
        nonlocal current
        joined = f"{current}\n{text}" if current else text
        if nbytes(joined) <= limit:
            current = joined
            return True
        if nbytes(text) <= limit:
            chunks.append(current)
            current = text
            return True
        return False

    for block in blocks:
        rendered = ["".join(s.full for s in line) for line in block]
        if add("\n".join(rendered)):
            continue
        for text, line in zip(rendered, block, strict=True):
            if add(text):
                continue
            for piece in _break_line(line, limit):
                add(piece)
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk]


def _break_line(line: _Line, limit: int) -> list[str]:
    """One over-long line as several, cutting text between characters and re-wrapping bold or colour."""
    pieces: list[str] = []
    current = ""
    for segment in line:
        full = segment.full
        if nbytes(current + full) <= limit:
            current += full
            continue
        if not segment.breakable and nbytes(full) <= limit:
            pieces.append(current)
            current = full
            continue
        body = segment.body
        overhead = nbytes(segment.prefix + segment.suffix)
        while body:
            room = limit - nbytes(current) - overhead
            if room < _UTF8_MAX:
                pieces.append(current)
                current = ""
                room = limit - overhead
            take = _fits(body, room)
            current += segment.prefix + body[:take] + segment.suffix
            body = body[take:]
            if body:
                pieces.append(current)
                current = ""
    pieces.append(current)
    return [piece for piece in pieces if piece]


def _fits(text: str, room: int) -> int:
    """How many leading characters of `text` fit in `room` UTF-8 bytes (at least one)."""
    used = 0
    for index, char in enumerate(text):
        used += nbytes(char)
        if used > room:
            return max(index, 1)
    return len(text)

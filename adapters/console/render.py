"""Render neutral blocks as plain terminal text: what the console adapter, the demo and golden files show."""

from __future__ import annotations

import math
from collections.abc import Iterable

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
    png_bytes,
)
from bot.rendering.format import percent

BAR_CELLS = 10
BAR_DONE = "▓"
BAR_EMPTY = "░"
DIVIDER = "─" * 12
BULLET = "• "


def render_console(msg: OutgoingMessage) -> str:
    """One line (or several) per block, in order."""
    return "\n".join(_block(block) for block in msg.blocks)


def progress_bar(value: float) -> str:
    """A 10-cell bar; it stops at full (and at empty) while the percentage tells the real value."""
    done = max(0, min(BAR_CELLS, math.floor(value * BAR_CELLS + 0.5)))
    return BAR_DONE * done + BAR_EMPTY * (BAR_CELLS - done)


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"【{_inlines(block.inlines)}】"
    if isinstance(block, Paragraph):
        return _inlines(block.inlines)
    if isinstance(block, BulletList):
        return "\n".join(BULLET + _inlines(item) for item in block.items)
    if isinstance(block, Fields):
        return "\n".join(f"{label}: {value}" for label, value in block.items)
    if isinstance(block, Progress):
        line = f"{progress_bar(block.value)} {percent(block.value)}"
        return f"{line} {block.label}" if block.label else line
    if isinstance(block, Divider):
        return DIVIDER
    if isinstance(block, Image):
        tag = f"[image: {block.alt}]" if block.alt else "[image]"
        return tag if png_bytes(block) is not None else f"{tag} {block.url}"  # never the bytes themselves
    raise TypeError(f"unknown block {type(block).__name__}")


def _inlines(inlines: Iterable[Inline]) -> str:
    return "".join(_inline(i) for i in inlines)


def _inline(inline: Inline) -> str:
    if isinstance(inline, Text | Bold):
        return inline.text
    if isinstance(inline, Mention):
        return f"@{inline.name}"
    if isinstance(inline, Link):
        return inline.url if inline.text == inline.url else f"{inline.text} ({inline.url})"
    raise TypeError(f"unknown inline {type(inline).__name__}")

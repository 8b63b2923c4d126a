"""The one walk of the block tree that every platform renderer shares (as satori's `MessageEncoder`).

`MessageEncoder` visits the Blocks and Inlines of bot/messages.py and calls the method named for each
element; a platform's subclass says what each element becomes and how member text is escaped.
`PlainTextEncoder` is the plain-text mapping the console and text-only clients share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

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
    Paragraph,
    Progress,
    Text,
)
from bot.rendering.format import percent

BAR_CELLS = 10
BAR_DONE = "▓"
BAR_EMPTY = "░"
DIVIDER = "─" * 12
BULLET = "• "

B = TypeVar("B")
I = TypeVar("I")  # noqa: E741 - the inline's type, beside B

_BLOCK_METHODS: dict[type, str] = {
    Heading: "heading",
    Paragraph: "paragraph",
    BulletList: "bullet_list",
    Fields: "fields",
    Progress: "progress",
    Divider: "divider",
    Image: "image",
}
_INLINE_METHODS: dict[type, str] = {Text: "text", Bold: "bold", Mention: "mention", Link: "link"}


def progress_bar(value: float) -> str:
    """A 10-cell bar that stops at full and at empty; the percentage beside it tells the real value."""
    cells = 0 if not math.isfinite(value) else math.floor(value * BAR_CELLS + 0.5)
    done = max(0, min(BAR_CELLS, cells))
    return BAR_DONE * done + BAR_EMPTY * (BAR_CELLS - done)


class MessageEncoder(Generic[B, I]):
    """Blocks become `B`, inlines `I`; an element a subclass does not map is a TypeError, not silence."""

    def escape(self, text: str) -> str:
        """Member text made inert on this platform."""
        return text

    def blocks(self, blocks: Iterable[Block]) -> list[B]:
        return [self.block(block) for block in blocks]

    def block(self, block: Block) -> B:
        return self._visit(block, _BLOCK_METHODS, "block")

    def inlines(self, inlines: Iterable[Inline]) -> list[I]:
        return [self.inline(inline) for inline in inlines]

    def inline(self, inline: Inline) -> I:
        return self._visit(inline, _INLINE_METHODS, "inline")

    def _visit(self, element: Any, methods: dict[type, str], kind: str) -> Any:
        name = methods.get(type(element))
        mapped = getattr(self, name, None) if name else None
        if mapped is None:
            raise TypeError(f"unknown {kind} {type(element).__name__}")
        return mapped(element)


class PlainTextEncoder(MessageEncoder[str, str]):
    """Blocks as lines of plain text; `escape` applies to each run of member words. Images are the
    subclass's: how a picture shows differs between a terminal and a chat client."""

    def line(self, inlines: Iterable[Inline]) -> str:
        return self.escape("".join(self.inlines(inlines)))

    def heading(self, block: Heading) -> str:
        return f"【{self.line(block.inlines)}】"

    def paragraph(self, block: Paragraph) -> str:
        return self.line(block.inlines)

    def bullet_list(self, block: BulletList) -> str:
        return "\n".join(BULLET + self.line(item) for item in block.items)

    def fields(self, block: Fields) -> str:
        return "\n".join(f"{self.escape(label)}: {self.escape(value)}" for label, value in block.items)

    def progress(self, block: Progress) -> str:
        line = f"{progress_bar(block.value)} {percent(block.value)}"
        return f"{line} {self.escape(block.label)}" if block.label else line

    def divider(self, block: Divider) -> str:
        return DIVIDER

    def text(self, inline: Text) -> str:
        return inline.text

    def bold(self, inline: Bold) -> str:
        return inline.text

    def mention(self, inline: Mention) -> str:
        return f"@{inline.name}"

    def link(self, inline: Link) -> str:
        return inline.url if inline.text == inline.url else f"{inline.text} ({inline.url})"

"""Render neutral blocks as plain terminal text: what the console adapter, the demo and golden files show."""

from __future__ import annotations

from bot.messages import Button, Image, OutgoingMessage, png_bytes
from bot.rendering.encoder import PlainTextEncoder, progress_bar

__all__ = ["progress_bar", "render_console"]


class ConsoleEncoder(PlainTextEncoder):
    def image(self, block: Image) -> str:
        tag = f"[image: {block.alt}]" if block.alt else "[image]"
        return tag if png_bytes(block) is not None else f"{tag} {block.url}"  # never the bytes themselves


CHOICE_PREFIX = "/"  # a choice is answered with "/1", "/2" …: a bare number is an answer to a question


def choice_word(number: int) -> str:
    return f"{CHOICE_PREFIX}{number}"


def choices(buttons: tuple[Button, ...]) -> str:
    """The buttons as numbered choices, one a line: `[/1] 📝 Fill in the form`."""
    return "\n".join(f"[{choice_word(n)}] {b.label}" for n, b in enumerate(buttons, 1))


def render_console(msg: OutgoingMessage) -> str:
    """One line (or several) per block, in order; then the buttons as numbered choices."""
    lines = ConsoleEncoder().blocks(msg.blocks)
    if msg.buttons:
        lines.append(choices(msg.buttons))
    return "\n".join(lines)

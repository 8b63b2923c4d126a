"""Render neutral blocks as plain terminal text: what the console adapter, the demo and golden files show."""

from __future__ import annotations

from bot.messages import Image, OutgoingMessage, png_bytes
from bot.rendering.encoder import PlainTextEncoder, progress_bar

__all__ = ["progress_bar", "render_console"]


class ConsoleEncoder(PlainTextEncoder):
    def image(self, block: Image) -> str:
        tag = f"[image: {block.alt}]" if block.alt else "[image]"
        return tag if png_bytes(block) is not None else f"{tag} {block.url}"  # never the bytes themselves


def render_console(msg: OutgoingMessage) -> str:
    """One line (or several) per block, in order."""
    return "\n".join(ConsoleEncoder().blocks(msg.blocks))

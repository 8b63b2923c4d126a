"""Render neutral blocks as plain terminal text: what the console adapter, the demo and golden files show."""

from __future__ import annotations

from bot.messages import Button, Form, Image, OutgoingMessage, png_bytes
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


def form_outline(form: Form) -> str:
    """A form as the terminal can show it (the console opens none: this is for reading, and goldens)."""
    lines = [f"〔{form.title} → {form.command}〕"]
    for field in form.fields:
        shown = f" = {field.initial}" if field.initial else ""
        mark = "" if field.required else "?"
        lines.append(f"  {field.key}{mark} ({field.kind}) {field.label}{shown}")
    return "\n".join(lines)


def render_console(msg: OutgoingMessage) -> str:
    """One line (or several) per block, in order; then the buttons as numbered choices, and the
    outline of a form if the message carries one."""
    lines = ConsoleEncoder().blocks(msg.blocks)
    if msg.buttons:
        lines.append(choices(msg.buttons))
    if msg.form is not None:
        lines.append(form_outline(msg.form))
    return "\n".join(lines)

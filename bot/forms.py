"""Checks on a submitted form before it is accepted, by the command the form belongs to.

Runs while the platform waits for the submission's acknowledgement (Slack: 3 s), so it reads nothing
from the database: what it needs rode along in the form's context.
"""

from __future__ import annotations

from bot.rendering.engine import Renderer
from bot.services import checkin_form


def problems(renderer: Renderer, command: str, context: str, values: dict[str, str]) -> dict[str, str]:
    """Field key → what is wrong with its value, in the form's language; {} when it may be taken (a
    form of another command is judged by that command when it runs)."""
    # The check-out's form carries the check-in form's context: the same checks (all its fields text).
    if command.split(maxsplit=1)[0] in ("/checkin", "/checkout"):
        return checkin_form.problems(renderer, context, values)
    return {}

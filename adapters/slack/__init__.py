"""Slack: slash commands, `@teambeat …` in channels and the bot's DM, Block Kit posts (see adapter.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import App
    from bot.ports import Adapter


def build_adapter(app: App) -> Adapter:
    """The adapter for `app.config.slack` (imports here: nothing Slack-related loads until it is used)."""
    from adapters.slack.adapter import SlackAdapter

    return SlackAdapter(app)

"""WeCom (企业微信): a self-built app's encrypted callback and messages, and the team's group robot."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.wecom.adapter import WeComAdapter
    from bot.app import App


def build_adapter(app: App) -> WeComAdapter:
    """The adapter for `app.config.wecom`; imports happen here, not when the package is imported."""
    from adapters.wecom.adapter import WeComAdapter

    return WeComAdapter(
        app.config.wecom,
        clock=app.clock,
        uow_factory=app.uow_factory,
        metrics=app.metrics,
        renderer=app.renderer,
        default_locale=app.config.bot.default_locale,
    )

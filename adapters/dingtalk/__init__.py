"""DingTalk (钉钉): an enterprise-internal app's robot (Stream or HTTP mode) and custom group robots."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import App
    from bot.ports import Adapter


def build_adapter(app: App) -> Adapter:
    from adapters.dingtalk.adapter import DingTalkAdapter

    return DingTalkAdapter(app)

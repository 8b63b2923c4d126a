"""The slack-bolt AsyncApp: signature checks, url_verification, authorization — and thin listeners.

Listeners only acknowledge and hand the payload on (`on_request`), which commits it as a job for the
real work to happen in the background: with `process_before_response=True` bolt answers Slack as soon as
the listener returns, so a request is acknowledged in milliseconds, well inside Slack's 3 seconds,
whatever the work costs (see adapters/intake.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SlackConfig

log = logging.getLogger(__name__)
OnRequest = Callable[[str, dict[str, Any], Any], Awaitable[None]]
"""(kind "command" | "event", payload, bolt context): returns once the request is stored for handling —
at once, or once there is room for it (back-pressure: the acknowledgement waits with it)."""


def build_bolt(
    config: SlackConfig,
    client: AsyncWebClient,
    oauth: AsyncOAuthSettings | None,
    on_request: OnRequest,
) -> AsyncApp:
    bolt = AsyncApp(
        client=client,
        signing_secret=config.signing_secret,
        oauth_settings=oauth,
        process_before_response=True,
        request_verification_enabled=config.mode == "http",
        logger=logging.getLogger("slack_bolt.teambeat"),
    )

    @bolt.command(re.compile(r"^/.+"))
    async def command(ack: Any, body: dict[str, Any], context: Any) -> None:
        await ack()
        await on_request("command", body, context)

    @bolt.event("app_mention")
    async def mention(body: dict[str, Any], context: Any) -> None:
        await on_request("event", body, context)

    @bolt.event("message")
    async def message(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if event.get("channel_type") == "im":
            await on_request("event", body, context)

    @bolt.event(re.compile(r".*"))
    async def anything_else(body: dict[str, Any]) -> None:
        """Acknowledged and dropped: a 404 would make Slack retry the event."""

    return bolt

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

from adapters.slack.forms import BUTTON_ACTION_PREFIX, FORM_CALLBACK_ID
from bot.config import SlackConfig

log = logging.getLogger(__name__)
OnRequest = Callable[[str, dict[str, Any], Any], Awaitable[None]]
"""(kind "command" | "event" | "action" | "form", payload, bolt context): returns once the request is
stored for handling — at once, or once there is room for it (back-pressure: the acknowledgement waits)."""
CheckForm = Callable[[dict[str, Any]], dict[str, str]]
"""A `view_submission` payload → its field errors (block_id → text), none when it may be taken."""


def build_bolt(
    config: SlackConfig,
    client: AsyncWebClient,
    oauth: AsyncOAuthSettings | None,
    on_request: OnRequest,
    check_form: CheckForm,
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

    @bolt.action(re.compile("^" + re.escape(BUTTON_ACTION_PREFIX)))
    async def click(ack: Any, body: dict[str, Any], context: Any) -> None:
        await ack()
        await on_request("action", body, context)

    @bolt.view(FORM_CALLBACK_ID)
    async def submit(ack: Any, body: dict[str, Any], context: Any) -> None:
        """Field errors go back in the acknowledgement itself (the modal stays open, showing them);
        a form without errors is taken like a command, and the modal closes."""
        errors = check_form(body)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await on_request("form", body, context)
        await ack()

    @bolt.view_closed(FORM_CALLBACK_ID)
    async def closed(ack: Any) -> None:
        await ack()

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

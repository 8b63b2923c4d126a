"""The Slack Web API calls teambeat makes, with the workspace's token, and Slack's failures sorted.

Every failure becomes a `DeliveryError`: transient (429 with its Retry-After, 5xx, timeouts, connection
errors, Slack's own "try again" errors) or permanent (unknown channel, revoked token, unknown user …),
and is counted in the metrics. users.info answers and DM channel ids are cached: a person's name is
asked once, not on every message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.cache import TtlCache
from adapters.slack.render import SlackMessage
from bot.messages import UserRef
from bot.metrics import Metrics
from bot.ports import DeliveryError, UserProfile

log = logging.getLogger(__name__)
PLATFORM = "slack"
TIMEOUT_SECONDS = 10
PROFILE_TTL = 6 * 3600.0
DM_TTL = 24 * 3600.0
# Slack's `error` values that mean "the same call may work later".
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
T = TypeVar("T")
ANSWER_RETRIES = 2  # an interactive answer is tried up to three times
ANSWER_MAX_WAIT = 30.0  # seconds of Retry-After an answer may wait; beyond that it fails now


class TokenSource(Protocol):
    """Which bot token speaks for a workspace (Slack team id); None when the app is not installed there."""

    async def bot_token(self, workspace: str) -> str | None: ...


class SingleToken:
    """One workspace, one bot token from the config: the simple default."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def bot_token(self, workspace: str) -> str | None:
        return self._token


class SlackWeb:
    def __init__(self, base_url: str, tokens: TokenSource, metrics: Metrics) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._tokens = tokens
        self._metrics = metrics
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, AsyncWebClient] = {}
        self._profiles: TtlCache[UserProfile] = TtlCache(PROFILE_TTL, 50_000)
        self._dms: TtlCache[str] = TtlCache(DM_TTL, 50_000)

    # ----- plumbing ----------------------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        """One connection pool for every call (slack_sdk opens a new one per call without it)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        return self._session

    def client_for_token(self, token: str | None, *, answer: bool = False) -> AsyncWebClient:
        """`answer`: a client for interactive answers, with slack_sdk's retries (see `answer_retries`)."""
        key = f"{token or ''}|{answer}"
        client = self._clients.get(key)
        if client is None:
            client = AsyncWebClient(
                token=token,
                base_url=self.base_url,
                session=self.session,
                timeout=TIMEOUT_SECONDS,
                retry_handlers=answer_retries() if answer else None,
            )
            self._clients[key] = client
        return client

    async def client(self, workspace: str, *, answer: bool = False) -> AsyncWebClient:
        token = await self._tokens.bot_token(workspace)
        if not token:
            self._metrics.platform_error(PLATFORM, "permanent")
            raise DeliveryError(f"slack: the app is not installed in workspace {workspace}", transient=False)
        return self.client_for_token(token, answer=answer)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._clients.clear()

    async def call(
        self, workspace: str, method: str, *, answer: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """One Web API method by name, its data on success; a DeliveryError otherwise."""
        client = await self.client(workspace, answer=answer)
        verb = "GET" if method == "users.info" else "POST"
        if verb == "GET":
            request = client.api_call(method, http_verb="GET", params=kwargs)
        else:
            request = client.api_call(method, json=kwargs)
        response = await self.guard(method, request)
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def guard(self, what: str, request: Awaitable[T]) -> T:
        try:
            return await request
        except DeliveryError:
            raise
        except SlackApiError as exc:
            error = classify(what, exc)
        except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = DeliveryError(f"slack {what}: {type(exc).__name__}: {exc}", transient=True)
        self._metrics.platform_error(PLATFORM, "transient" if error.transient else "permanent")
        raise error

    # ----- calls -------------------------------------------------------------------------------------

    async def post_message(
        self, workspace: str, channel: str, message: SlackMessage, *, answer: bool = False, **extra: Any
    ) -> str:
        payload = message.payload()
        data = await self.call(
            workspace, "chat.postMessage", answer=answer, channel=channel, **payload, **extra
        )
        return str(data.get("ts", ""))

    async def update_message(self, workspace: str, channel: str, ts: str, message: SlackMessage) -> None:
        """chat.update: `channel` must be the id (not a name); blocks replace the old ones (sent even
        when empty, else Slack keeps the old blocks)."""
        payload = message.payload()
        payload.setdefault("blocks", [])
        await self.call(workspace, "chat.update", channel=channel, ts=ts, **payload)

    async def upload_png(self, workspace: str, channel: str, data: bytes, name: str, alt: str) -> str:
        """A chart into a channel by Slack's external upload (files.getUploadURLExternal, the bytes,
        files.completeUploadExternal); the file's id."""
        client = await self.client(workspace)
        response = await self.guard(
            "files.upload",
            client.files_upload_v2(
                content=data, filename=name, title=alt or name, alt_txt=alt, channel=channel
            ),
        )
        file = response.get("file") or {}
        return str(file.get("id", ""))

    async def post_ephemeral(self, workspace: str, channel: str, user: str, message: SlackMessage) -> None:
        payload = message.payload()
        await self.call(workspace, "chat.postEphemeral", answer=True, channel=channel, user=user, **payload)

    async def respond(self, response_url: str, message: SlackMessage) -> None:
        """An ephemeral answer through a slash command's response_url (works where the bot is absent)."""
        hook = AsyncWebhookClient(
            response_url, session=self.session, timeout=TIMEOUT_SECONDS, retry_handlers=answer_retries()
        )
        response = await self.guard(
            "response_url",
            hook.send(text=message.text, blocks=message.blocks or None, response_type="ephemeral"),
        )
        if response.status_code != 200:
            transient = response.status_code == 429 or response.status_code >= 500
            self._metrics.platform_error(PLATFORM, "transient" if transient else "permanent")
            raise DeliveryError(
                f"slack response_url: HTTP {response.status_code} {response.body[:100]}", transient=transient
            )

    async def dm_channel(self, workspace: str, user: str) -> str:
        """The bot's DM with `user` (conversations.open, once per person)."""
        key = (workspace, user)
        cached = self._dms.get(key)
        if cached is not None:
            return cached
        data = await self.call(workspace, "conversations.open", users=user)
        channel = str((data.get("channel") or {}).get("id", ""))
        if not channel:
            raise DeliveryError("slack conversations.open: no channel in the answer", transient=True)
        self._dms.put(key, channel)
        return channel

    def remember_dm(self, workspace: str, user: str, channel: str) -> None:
        """A DM the person opened themselves (message.im tells us its id): no conversations.open needed."""
        self._dms.put((workspace, user), channel)

    def known_dm(self, workspace: str, user: str) -> str | None:
        return self._dms.get((workspace, user))

    async def profile(self, user: UserRef) -> UserProfile:
        """Name, time zone and e-mail from users.info, cached for hours."""
        key = (user.workspace, user.id)
        cached = self._profiles.get(key)
        if cached is not None:
            return cached
        data = await self.call(user.workspace, "users.info", user=user.id)
        info = data.get("user") or {}
        profile = info.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or info.get("real_name")
            or info.get("name")
            or user.id
        )
        found = UserProfile(
            user=user, name=str(name), timezone=info.get("tz") or None, email=profile.get("email") or None
        )
        self._profiles.put(key, found)
        return found

    def trusts_response_url(self, url: str) -> bool:
        """Only Slack's own hooks (or the host the API is pointed at, for proxies and fakes)."""
        try:
            parts, api = urlsplit(url), urlsplit(self.base_url)
        except ValueError:
            return False
        if parts.scheme == "https" and (parts.hostname or "").endswith(".slack.com"):
            return True
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)


def classify(what: str, exc: SlackApiError) -> DeliveryError:
    """Slack's answer to a failed call, as transient (with Retry-After) or permanent."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    error = str(data.get("error") or f"HTTP {status}")
    reason = f"slack {what}: {error}"
    if status == 429 or error == "ratelimited":
        return DeliveryError(reason, transient=True, retry_after=retry_after(response.headers))
    if status >= 500 or error in TRANSIENT_ERRORS:
        return DeliveryError(reason, transient=True)
    return DeliveryError(reason, transient=False)


def retry_after(headers: Any) -> float:
    """Retry-After in seconds (Slack sends whole seconds); 1 when absent or unreadable."""
    value = None
    if headers is not None:
        value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def answer_retries() -> list[AsyncRetryHandler]:
    """slack_sdk's own retries, for interactive answers: nothing else would try them again. The delivery
    worker's sends keep the SDK's default (one retry of a dropped connection); the outbox retries the rest."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=ANSWER_RETRIES),
        _ShortRateLimitRetryHandler(max_retry_count=ANSWER_RETRIES),
        AsyncServerErrorRetryHandler(max_retry_count=ANSWER_RETRIES),
    ]


class _ShortRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, except that an answer does not wait longer than ANSWER_MAX_WAIT."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        value = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        return retry_after({"Retry-After": value[0] if isinstance(value, list) else value}) <= ANSWER_MAX_WAIT

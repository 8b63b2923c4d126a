"""The Slack adapter: bolt in Socket Mode (default) or HTTP mode in front, the outbox's sender behind.

Inbound: every request is acknowledged at once; the payload becomes an `IncomingMessage` in a background
task, the dispatcher answers, and the answer goes back to the speaker only — ephemeral (response_url,
else chat.postEphemeral) where others could see it, a plain message in the bot's own DM. Outbound:
`send` (called by the delivery worker only) posts channel posts and DMs with chat.postMessage, opening
DMs with conversations.open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from slack_bolt.adapter.starlette.async_handler import (
    AsyncSlackRequestHandler,
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.intake import Intake
from adapters.slack import forms, inbound
from adapters.slack.bolt_app import build_bolt
from adapters.slack.cache import TtlCache
from adapters.slack.client import SingleToken, SlackWeb, TokenSource
from adapters.slack.oauth import INSTALL_PATH, REDIRECT_PATH, OAuthSetup
from adapters.slack.render import TEXT_MAX, SlackMessage, render_slack
from adapters.slack.socket_mode import SocketModeRunner, WatchdogSettings
from adapters.web.timestamps import parse_timestamp
from bot import forms as form_checks
from bot.app import App
from bot.messages import ChannelRef, Image, OutgoingMessage, SentMessage, UserRef, png_bytes
from bot.ports import (
    Capability,
    ChannelLimits,
    DeliveryError,
    MessageGone,
    MessageSink,
    PartProgress,
    UserProfile,
)

log = logging.getLogger(__name__)
PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
RESPONSE_URL_USES = 5  # Slack accepts five answers per response_url
STOP_GRACE_SECONDS = 10.0
# chat.update's answers meaning the message cannot be edited any more: the board is posted anew.
GONE = {"message_not_found", "cant_update_message", "edit_window_closed"}


class SlackAdapter:
    name = PLATFORM
    capabilities = (
        Capability.RICH_TEXT
        | Capability.MENTIONS
        | Capability.OPEN_DM
        | Capability.IMAGES
        | Capability.EPHEMERAL
        | Capability.EDIT
    )
    # chat.postMessage: about one message a second per channel, short bursts allowed.
    limits = ChannelLimits(max_message_bytes=TEXT_MAX, rate_per_minute=60.0, burst=3)

    def __init__(self, app: App, *, watchdog: WatchdogSettings | None = None) -> None:
        self._app = app
        self._config = app.config.slack
        self._watchdog = watchdog or WatchdogSettings()
        self._oauth = OAuthSetup(self._config, app.engine) if self._config.oauth else None
        tokens: TokenSource = self._oauth.tokens if self._oauth else SingleToken(self._config.bot_token)
        self.web = SlackWeb(self._config.api_base_url, tokens, app.metrics)
        self._sink: MessageSink | None = None
        self._bolt: AsyncApp | None = None
        self._socket: SocketModeRunner | None = None
        self._intake = Intake("slack", app.sessionmaker, app.clock, self._from_intake)
        self._taken: TtlCache[bool] = TtlCache(3600.0, 20_000)  # event ids already being handled

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    # ----- lifecycle -----------------------------------------------------------------------------------

    async def start(self, sink: MessageSink, *, serve: bool = True, work: bool = True) -> None:
        """`serve`: bolt for /slack/events (and Socket Mode); `work`: answer the commands taken in, by
        any process — with response_url or the Web API, which need no connection of our own."""
        self._sink = sink
        if self._oauth is not None:
            await self._oauth.prepare()
        await self._intake.start(work=work)
        if not serve:
            return
        token = None if self._oauth else self._config.bot_token
        self._bolt = build_bolt(
            self._config,
            self.web.client_for_token(token),
            self._oauth.settings if self._oauth else None,
            self._on_request,
            self._check_form,
        )
        if self._config.mode == "socket":
            self._socket = SocketModeRunner(self._bolt, self._config.app_token, self._watchdog)
            await self._socket.start()

    async def stop(self) -> None:
        """No new events, then the work already acknowledged finishes (bounded), then connections close."""
        if self._socket is not None:
            await self._socket.stop()
            self._socket = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE_SECONDS):
                await self.wait_idle()
        await self._intake.stop()
        self._bolt = None
        self._sink = None
        await self.web.close()

    async def wait_idle(self) -> None:
        """Until every acknowledged request has been handled and answered."""
        await self._intake.wait_idle()

    async def health(self) -> dict[str, Any]:
        if self._socket is not None:
            return self._socket.health()
        return {"ok": self._bolt is not None, "mode": self._config.mode}

    # ----- HTTP ----------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        if self._config.mode == "http":
            routes.append(Route(EVENTS_PATH, self._events, methods=["POST"]))
        if self._config.oauth:
            routes.append(Route(INSTALL_PATH, self._oauth_page, methods=["GET"]))
            routes.append(Route(REDIRECT_PATH, self._oauth_page, methods=["GET"]))
        return routes

    async def _events(self, request: Request) -> Response:
        bolt = self._bolt
        if bolt is None:
            return JSONResponse({"error": "not_ready", "detail": "the Slack adapter is not running"}, 503)
        problem = unreadable_signature(request.headers)
        if problem:
            return JSONResponse({"error": "invalid_signature", "detail": problem}, 401)
        body = await request.body()
        try:
            bolt_request = to_async_bolt_request(request, body)
            # bolt reads `event` as an object and its type as text: anything else fails in bolt, as a 500
            event = bolt_request.body.get("event", {})
            readable = isinstance(event, dict) and isinstance(event.get("type", ""), str)
        except Exception:  # not UTF-8, not JSON, not a form
            readable = False
        if not readable:  # but first, was it even from Slack?
            if not signed_by_slack(self._config.signing_secret, body, request.headers):
                return JSONResponse({"error": "invalid_signature"}, 401)
            return JSONResponse({"error": "bad_request", "detail": "the body is not a Slack payload"}, 400)
        if bolt_request.body.get("type") == "app_rate_limited":  # not an event: bolt would answer 404
            return self._rate_limited(body, request.headers, bolt_request.body)
        response = await bolt.async_dispatch(bolt_request)
        if response.status >= 500:  # authorization could not be checked: Slack retries events later
            return JSONResponse({"error": "unavailable"}, 503)
        return to_starlette_response(response)

    def _rate_limited(self, body: bytes, headers: Mapping[str, str], payload: dict[str, Any]) -> Response:
        """Slack dropped events to this app for a minute: acknowledged (else Slack retries the notice),
        counted in /metrics, logged."""
        if not signed_by_slack(self._config.signing_secret, body, headers):
            return JSONResponse({"error": "invalid_signature"}, 401)
        self._app.metrics.events_dropped(PLATFORM)
        log.warning(
            "slack: Slack dropped events for workspace %r in the minute from %r (app_rate_limited)",
            payload.get("team_id"),
            payload.get("minute_rate_limited"),
        )
        return JSONResponse({"ok": True})

    async def _oauth_page(self, request: Request) -> Response:
        if self._bolt is None:
            return JSONResponse({"error": "not_ready", "detail": "the Slack adapter is not running"}, 503)
        return await AsyncSlackRequestHandler(self._bolt).handle(request)

    # ----- inbound -------------------------------------------------------------------------------------

    def _check_form(self, body: dict[str, Any]) -> dict[str, str]:
        """A submitted form's field errors (block_id → text), answered in the acknowledgement."""
        found = forms.submitted(body.get("view") or {})
        if found is None:
            return {}
        command, context, values = found
        return form_checks.problems(self._app.renderer, command, context, values)

    async def _on_request(self, kind: str, body: dict[str, Any], context: Any) -> None:
        """Called inside bolt's listener: commit the request as a job and return (bolt then acks); the
        intake hands it to `_handle` in the background (see adapters/intake.py)."""
        if kind == "form":  # one view is submitted once; its trigger_id is new on each try
            view_id = (body.get("view") or {}).get("id")
            key = f"view:{view_id}" if isinstance(view_id, str) and view_id else None
        else:
            key = body.get("event_id") if kind == "event" else body.get("trigger_id")
        if isinstance(key, str) and key:
            if key in self._taken:  # a retry of something already in hand (X-Slack-Retry-Num)
                log.info("slack: retry of %s ignored", key)
                return
            self._taken.put(key, True)
        who = inbound.speaker(body)
        if who is None:
            return
        if self._oauth is not None:
            self._oauth.tokens.remember(who[0], context.get("bot_token"))
        try:
            await self._intake.take({"kind": kind, "body": body, "bot_user_id": context.get("bot_user_id")})
        except BaseException:
            if isinstance(key, str) and key:
                self._taken.pop(key)  # not acknowledged: Slack's retry must be taken
            raise

    async def _from_intake(self, taken: dict[str, Any], received_at: datetime) -> None:
        await self._handle(taken["kind"], taken["body"], taken.get("bot_user_id"), received_at)

    async def _handle(
        self, kind: str, body: dict[str, Any], bot_user: str | None, received_at: datetime
    ) -> None:
        if self._sink is None:
            return
        who = inbound.speaker(body)
        if who is None:
            return
        workspace, user = who
        name = await self._name(UserRef(PLATFORM, workspace, user), body.get("user_name"))
        now = received_at
        if kind == "command":
            channel = str(body.get("channel_id") or "")
            private = await self._is_bot_dm(workspace, user, channel)
            item = inbound.from_command(
                body, bot_user_id=bot_user, now=now, display_name=name, private_dm=private
            )
        elif kind == "action":
            channel = str((body.get("channel") or {}).get("id") or "")
            private = await self._is_bot_dm(workspace, user, channel)
            item = inbound.from_click(body, now=now, display_name=name, private_dm=private)
        elif kind == "form":
            try:
                dm = await self.web.dm_channel(workspace, user)
            except DeliveryError as exc:
                log.warning("slack: no DM with %s for a form's answer: %s", user, exc.reason)
                dm = ""
            item = inbound.from_submission(body, now=now, display_name=name, dm_channel=dm)
        else:
            item = inbound.from_event(body, bot_user_id=bot_user, now=now, display_name=name)
            if item is not None and item.reply_to.private:
                self.web.remember_dm(workspace, user, item.reply_to.channel)
        if item is None:
            return
        reply = await self._sink(item.message)
        if reply is not None:
            await self._answer(item.reply_to, reply)

    async def _name(self, user: UserRef, fallback: Any) -> str | None:
        try:
            return (await self.web.profile(user)).name
        except DeliveryError as exc:
            log.warning("slack users.info for %s failed: %s", user.id, exc.reason)
            return fallback if isinstance(fallback, str) and fallback else None

    async def _is_bot_dm(self, workspace: str, user: str, channel: str) -> bool:
        """Whether a command came from the bot's own DM (a plain answer) or from a DM between people."""
        if not channel.startswith("D"):
            return False
        known = self.web.known_dm(workspace, user)
        if known is None:
            try:
                known = await self.web.dm_channel(workspace, user)
            except DeliveryError:
                return False
        return known == channel

    async def _answer(self, to: inbound.ReplyTo, reply: OutgoingMessage) -> None:
        if reply.form is not None and to.trigger_id and await self._open_form(to, reply):
            return
        chunks = render_slack(reply)
        thread = {"thread_ts": to.thread_ts} if to.thread_ts else {}
        try:
            if to.private:  # in the bot's DM: in the thread the person wrote in, if they did
                for chunk in chunks:
                    await self.web.post_message(to.workspace, to.channel, chunk, answer=True, **thread)
                return
            sent = 0
            if to.response_url and self.web.trusts_response_url(to.response_url):
                url = to.response_url
                try:
                    for chunk in chunks[:RESPONSE_URL_USES]:
                        await self.web.respond(url, chunk)
                        sent += 1
                except DeliveryError as exc:
                    log.info("slack response_url failed (%s); answering with chat.postEphemeral", exc.reason)
            for chunk in chunks[sent:]:
                await self._ephemeral(to, chunk)
        except DeliveryError as exc:
            log.warning("slack: could not answer %s in %s: %s", to.user, to.channel, exc.reason)

    async def _open_form(self, to: inbound.ReplyTo, reply: OutgoingMessage) -> bool:
        """The reply's form as a modal (views.open with the request's trigger_id, which Slack takes
        once and within 3 s); False when it could not open — the reply's text then says what to do."""
        assert reply.form is not None and to.trigger_id
        try:
            view = forms.modal_view(reply.form)
            # No slack_sdk retries: a trigger_id is single-use, so a retry could only fail.
            await self.web.call(to.workspace, "views.open", trigger_id=to.trigger_id, view=view)
        except (DeliveryError, ValueError) as exc:
            log.warning("slack: could not open the form for %s: %s", to.user, exc)
            return False
        return True

    async def _ephemeral(self, to: inbound.ReplyTo, chunk: SlackMessage) -> None:
        extra = {"thread_ts": to.thread_ts} if to.thread_ts else {}
        try:
            await self.web.call(
                to.workspace,
                "chat.postEphemeral",
                answer=True,
                channel=to.channel,
                user=to.user,
                **chunk.payload(),
                **extra,
            )
        except DeliveryError as exc:
            if exc.transient:
                raise
            # The bot is not in that channel (or it is archived): the person still gets the answer.
            dm = await self.web.dm_channel(to.workspace, to.user)
            await self.web.post_message(to.workspace, dm, chunk, answer=True)

    # ----- outbound (the delivery worker) -------------------------------------------------------------

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        """The text in chunks, then each chart as its own file; a retry starts after the parts already
        sent (`progress`, kept by the delivery worker)."""
        chunks = render_slack(msg)
        channel = to.id if to.kind == "group" else await self.web.dm_channel(to.workspace, to.id)
        if not channel:
            raise DeliveryError("slack: the team has no channel id", transient=False)
        pictures = [(png, b.alt) for b in msg.blocks if isinstance(b, Image) and (png := png_bytes(b))]
        total = len(chunks) + len(pictures)
        first = ""
        for index in range(progress.done if progress else 0, total):
            if index < len(chunks):
                ts = await self.web.post_message(to.workspace, channel, chunks[index])
            else:  # the charts after the text, each its own file in the channel
                png, alt = pictures[index - len(chunks)]
                name = f"chart-{hashlib.sha256(png).hexdigest()[:12]}.png"
                ts = await self.web.upload_png(to.workspace, channel, png, name, alt)
            first = first or ts
            if progress is not None and total > 1 and index + 1 < total:
                await progress.sent(index + 1)
        return SentMessage(message_id=first, channel=to)

    def can_edit(self, to: ChannelRef) -> bool:
        return True  # chat.update edits the bot's own messages anywhere it posts

    async def edit(self, to: ChannelRef, message_id: str, msg: OutgoingMessage) -> SentMessage:
        """chat.update of the message posted at `message_id` (its ts), with the board's text and blocks.

        A board longer than one message keeps its first message's worth (the rest cannot be edited
        into one message; a new post per change is what boards are there to avoid)."""
        chunks = render_slack(msg)
        if len(chunks) > 1:
            log.warning("slack: a board of %d messages is edited as its first only", len(chunks))
        channel = to.id if to.kind == "group" else await self.web.dm_channel(to.workspace, to.id)
        try:
            await self.web.update_message(to.workspace, channel, message_id, chunks[0])
        except DeliveryError as exc:
            if not exc.transient and any(exc.reason.endswith(f": {error}") for error in GONE):
                raise MessageGone(exc.reason) from exc
            raise
        return SentMessage(message_id=message_id, channel=to)

    async def open_dm(self, user: UserRef) -> ChannelRef:
        await self.web.dm_channel(user.workspace, user.id)
        return ChannelRef(PLATFORM, user.workspace, user.id, "dm")

    async def resolve_user(self, user: UserRef) -> UserProfile:
        return await self.web.profile(user)


def unreadable_signature(headers: Headers) -> str:
    """Why Slack's timestamp and signature headers cannot even be checked, or "": bolt's check turns the
    timestamp into a number with int() and compares the signature as text, and raises (a 500) on a
    400-digit number or a signature that is not ASCII. It also reads the last of repeated headers."""
    stamps, signatures = headers.getlist(TIMESTAMP_HEADER), headers.getlist(SIGNATURE_HEADER)
    if len(stamps) != 1 or parse_timestamp(stamps[0]) is None:
        return "X-Slack-Request-Timestamp must be one unix time in ASCII digits"
    if len(signatures) != 1 or not signatures[0].isascii():
        return "X-Slack-Signature must be one ASCII value"
    return ""


def signed_by_slack(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's signature over the raw bytes — for bodies bolt cannot even read (it verifies the rest)."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    sent_at = parse_timestamp(timestamp)
    if sent_at is None or abs(time.time() - sent_at) > 300:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), headers.get(SIGNATURE_HEADER, "").encode())

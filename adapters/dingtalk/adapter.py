"""The DingTalk adapter: robot messages in (Stream or HTTP), replies, channel posts and DMs out.

Where each message goes:
- the reply to a command → the message's `sessionWebhook` while it is valid (it carries `at`, so
  mentions notify); after it expired → OpenAPI, like a post.
- a channel post (from the outbox) → the team's custom robot webhook when it has one (signed with its
  `channel_secret`; mentions notify), else OpenAPI `groupMessages/send` to the openConversationId
  (sampleMarkdown has no `at` field: mentions are shown as names and notify nobody).
- a DM (from the outbox) → OpenAPI `oToMessages/batchSend`, identical DMs folded 20 users a call.
- a DM with buttons (a prompt, a reminder …) → a robot interactive card (cards.py) whose buttons come
  back as clicks (Stream topic `/v1.0/card/instances/callback`, or `POST /dingtalk/card` in HTTP mode);
  a click is the command its button stands for, typed by the person who clicked, in their DM with
  the robot. A reply through a sessionWebhook stays markdown (it cannot carry a card): its text says
  what to type instead.
- a board (bot/delivery/boards.py: the day's leaderboard, a 小组PK's standings) in a group the app robot
  posts to (no custom robot webhook) → a StandardCard sent to the openConversationId, then updated in
  place (`Capability.EDIT`); a custom robot cannot update what it sent, so there a board is new posts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from starlette.routing import BaseRoute

from adapters.dingtalk.batch import DmBatcher
from adapters.dingtalk.callback import callback_route
from adapters.dingtalk.card_callback import PATH as CARD_PATH
from adapters.dingtalk.card_callback import ForeignCard, card_route
from adapters.dingtalk.cards import MAX_BUTTONS, NotAClick, card_data, parse_click
from adapters.dingtalk.client import DingTalkClient
from adapters.dingtalk.inbound import PLATFORM, to_incoming
from adapters.dingtalk.render import MAX_MSG_PARAM_BYTES, Markdown, render
from adapters.dingtalk.stream import HEARTBEAT_SECONDS, SILENCE_SECONDS, StreamClient
from adapters.dingtalk.throttle import RobotWindow
from adapters.intake import Intake
from bot.app import App
from bot.messages import (
    CardClick,
    ChannelRef,
    Image,
    IncomingMessage,
    OutgoingMessage,
    SentMessage,
    UserRef,
    png_bytes,
)
from bot.ports import (
    Capability,
    ChannelLimits,
    DeliveryError,
    MessageGone,
    MessageSink,
    PartProgress,
    UserProfile,
)
from bot.services import directory, sent_cards
from bot.services.media import media_url, store_png
from bot.services.sent_cards import Verdict

log = logging.getLogger(__name__)

GROUP_LIMITS = ChannelLimits(max_message_bytes=MAX_MSG_PARAM_BYTES, rate_per_minute=20, burst=10)
"""A group robot: 20 messages a minute (DingTalk blocks it for 10 minutes beyond that)."""
DM_LIMITS = ChannelLimits(max_message_bytes=MAX_MSG_PARAM_BYTES, rate_per_minute=20, burst=5)
SESSION_MARGIN_MS = 5_000  # a sessionWebhook this close to expiry is treated as expired
HTTP_TIMEOUT_SECONDS = 10.0
MAX_MEDIA_TOKENS = 256
STOP_GRACE_SECONDS = 10.0  # a stop waits this long for the messages taken in to be handled


@dataclass(frozen=True, slots=True)
class Picture:
    """A chart to post after a message's text (the app robot's `sampleImageMsg`)."""

    png: bytes


@dataclass(frozen=True, slots=True)
class _CardPart:
    """The last part of a message with buttons: sent as a card."""

    markdown: Markdown


CARD_LIFETIME = timedelta(hours=24)
"""A prompt's buttons speak for its day ("skip today"): an older card no longer acts."""
CLICK_KEY = "card_click"  # an intake payload holding a card click rather than a robot message
BLOCK_BREAK = "\n\n"


class RobotBusy(DeliveryError):
    """Refused here, before DingTalk: the robot's minute is full (not a platform error)."""


class DingTalkAdapter:
    name = PLATFORM
    capabilities = (
        Capability.RICH_TEXT | Capability.MENTIONS | Capability.OPEN_DM | Capability.IMAGES | Capability.EDIT
    )
    limits = GROUP_LIMITS

    def __init__(
        self,
        app: App,
        *,
        http: httpx.AsyncClient | None = None,
        heartbeat: float = HEARTBEAT_SECONDS,
        silence: float = SILENCE_SECONDS,
        max_backoff: float | None = None,
        dm_window: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        config = app.config.dingtalk
        self._app = app
        self.mode = config.mode
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)
        self.client = DingTalkClient(
            self._http,
            app_key=config.app_key,
            app_secret=config.app_secret,
            robot_code=config.robot_code,
            api_base_url=config.api_base_url,
            oapi_base_url=config.oapi_base_url,
            now_ms=self._now_ms,
            monotonic=monotonic,
            api_qps=config.api_qps,
        )
        self._stream_options = {"heartbeat": heartbeat, "silence": silence}
        if max_backoff is not None:
            self._stream_options["max_backoff"] = max_backoff
        self._batcher = (
            DmBatcher(self.client.batch_send)
            if dm_window is None
            else DmBatcher(self.client.batch_send, window=dm_window)
        )
        self._window = RobotWindow()
        self._media_tokens: dict[str, str] = {}  # picture digest -> its /media token (retries reuse it)
        self._sink: MessageSink | None = None
        self.stream: StreamClient | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._intake = Intake(PLATFORM, app.sessionmaker, app.clock, self._from_intake)

    def _now_ms(self) -> int:
        return int(self._app.clock.now().timestamp() * 1000)

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return GROUP_LIMITS if to.kind == "group" else DM_LIMITS

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self, sink: MessageSink, *, serve: bool = True, work: bool = True) -> None:
        """`serve`: the Stream connection (HTTP mode: the caller serves `routes`); `work`: handle the
        commands taken in, by any process (the reply goes by the message's sessionWebhook)."""
        self._sink = sink
        await self._intake.start(work=work)
        if self.mode == "http" and serve:
            await self._register_card_callback()
        if self.mode != "stream" or not serve:
            return
        if not self.client.has_app:
            log.warning("dingtalk: no app_key/app_secret: not receiving messages (channel webhooks only)")
            return
        config = self._app.config.dingtalk
        self.stream = StreamClient(
            config.app_key,
            config.app_secret,
            api_base_url=config.api_base_url,
            http=self._http,
            **self._stream_options,
        )
        self.stream.subscribe(self.accept, self.accept_click)
        self._stream_task = asyncio.create_task(self.stream.start())

    async def _register_card_callback(self) -> None:
        """HTTP mode: tell DingTalk to send card clicks to <public_url>/dingtalk/card, signed with
        card_secret (nothing to do without them: the README says how to register by hand)."""
        config = self._app.config.dingtalk
        public_url = self._app.config.server.public_url
        if not (self.client.has_app and config.card_secret and public_url):
            return
        url = str(public_url).rstrip("/") + CARD_PATH
        try:
            await self.client.register_card_callback(config.card_route_key, url, config.card_secret)
        except DeliveryError as exc:  # messages still work; only clicks wait for a registration
            log.warning("dingtalk: registering the card callback %s failed: %s", url, exc.reason)
        else:
            log.info("dingtalk: card clicks go to %s (route key %s)", url, config.card_route_key)

    async def stop(self) -> None:
        """Stop receiving, finish the commands already taken (and their replies) within the grace
        period, then close."""
        if self._stream_task is not None:
            self._stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream_task
            self._stream_task = None
        with contextlib.suppress(TimeoutError):  # what is left stays in the jobs table for the next start
            async with asyncio.timeout(STOP_GRACE_SECONDS):
                await self.settle()
        await self._intake.stop()
        self._sink = None
        await self._batcher.close()
        if self._owns_http:
            await self._http.aclose()

    async def settle(self) -> None:
        """Wait until every message taken so far has been handled and answered."""
        await self._intake.wait_idle()

    def routes(self) -> list[BaseRoute]:
        if self.mode != "http":
            return []
        config = self._app.config.dingtalk
        return [
            callback_route(config.app_secret, self._now_ms, self.accept),
            card_route(config.card_secret, self._now_ms, self.accept_click),
        ]

    async def health(self) -> dict[str, Any]:
        if self.mode == "http" or self.stream is None:
            return {"ok": True, "mode": self.mode, "receiving": self.mode == "http"}
        connected = self.stream.connected.is_set()
        loop = asyncio.get_running_loop()
        return {
            "ok": connected,
            "mode": "stream",
            "connected": connected,
            "connections": self.stream.connections,
            "watchdog_drops": self.stream.watchdog_drops,
            "seconds_since_frame": round(loop.time() - self.stream.last_alive, 1) if connected else None,
        }

    # -- receiving -----------------------------------------------------------------------------------

    async def accept(self, payload: Mapping[str, Any]) -> None:
        """Take one robot message (HTTP body or Stream data) into the intake, to be handled after the ACK
        (see adapters/intake.py). Raises NotAMessage for a payload that is not a text message from a
        person, and the database's error when the message could not be kept (DingTalk sends it again).
        """
        if self._sink is None:
            raise RuntimeError("the DingTalk adapter is not started")
        to_incoming(payload, self._app.clock.now())  # NotAMessage now, not after the ACK
        await self._intake.take(dict(payload))

    async def _from_intake(self, payload: dict[str, Any], received_at: datetime) -> None:
        if self._sink is None:
            return
        if CLICK_KEY in payload:
            await self._handle_click(self._sink, payload[CLICK_KEY], received_at)
        else:
            await self._handle(self._sink, to_incoming(payload, received_at))

    # -- card clicks ---------------------------------------------------------------------------------

    async def accept_click(self, payload: Mapping[str, Any]) -> None:
        """Take one card click (HTTP body or Stream data) into the intake. Raises NotAClick for a
        payload that is not a click on a button, ForeignCard for a click on a card we did not send in
        that organisation (HTTP mode only: over Stream, DingTalk itself vouches for the click, and the
        person is told the card no longer works)."""
        if self._sink is None:
            raise RuntimeError("the DingTalk adapter is not started")
        click = parse_click(payload)
        async with self._app.sessionmaker() as session:
            card = await sent_cards.find(session, PLATFORM, click.card_id)
        strict = self.mode == "http"
        if card is None and strict:
            raise ForeignCard("no card with this outTrackId was sent by teambeat")
        if card is not None and (click.corp_id or strict) and click.corp_id != card.workspace:
            raise ForeignCard("the card was sent in another organisation (corpId)")
        index = click.button_index()
        if card is not None and (index is None or index >= len(card.buttons)):
            raise NotAClick(f"the card has no button {click.action!r}")
        corp = card.workspace if card is not None else click.corp_id
        await self._intake.take(
            {CLICK_KEY: {"card": click.card_id, "user": click.user_id, "corp": corp, "button": index}}
        )

    async def _handle_click(self, sink: MessageSink, click: dict[str, Any], received_at: datetime) -> None:
        """The button's command as typed by the clicker in their DM — once per card: a double click or
        a redelivered callback finds the card answered (bot/services/sent_cards.py judges the click), and
        a click the command refused leaves the card as it was, its buttons still to be chosen."""
        user = UserRef(PLATFORM, str(click["corp"]), str(click["user"]))
        dm = ChannelRef(PLATFORM, user.workspace, user.id, "dm")
        button = click["button"]
        clicked = CardClick(str(click["card"]), -1 if button is None else int(button))
        try:
            async with self._app.sessionmaker() as session:
                judged = await sent_cards.judge(
                    session,
                    platform=PLATFORM,
                    workspace=user.workspace,
                    user_id=user.id,
                    click=clicked,
                    lifetime=CARD_LIFETIME,
                    now=self._app.clock.now(),
                )
            if judged.verdict is Verdict.REPEAT:  # answered: the card shows it (no click id to tell more)
                return
            if judged.verdict is not Verdict.ACT or judged.card is None or judged.button is None:
                context = sent_cards.stale_context(judged, CARD_LIFETIME)
                await self._say(user, sent_cards.STALE_TEMPLATE, **context)
                return
            message = IncomingMessage(
                event_id=f"card:{clicked.card_id}:{clicked.button}",  # a refused button leaves the others
                user=user,
                channel=dm,
                text=judged.button.command,
                addressed_to_bot=True,
                received_at=received_at,
                raw={},
                clicked=clicked,
            )
            reply = await sink(message)
            if reply is None:  # the dispatcher saw this click before, or another click came first
                return
            async with self._app.sessionmaker() as session:
                chosen = await sent_cards.acted(session, PLATFORM, clicked)
            if chosen:
                await self._show_choice(judged.card, judged.button.label, user)
                # the answer does not offer the same click again ("fill in" → question 1, "skip" only)
                command = judged.button.command
                reply = replace(reply, buttons=tuple(b for b in reply.buttons if b.command != command))
            await self._reply(message, reply)
        except DeliveryError as exc:
            self._count(exc)
            log.warning("dingtalk: the answer to click %s was not delivered: %s", click["card"], exc.reason)
        except Exception:
            log.exception("dingtalk: handling a click on card %s failed", click["card"])

    async def _locale_of(self, user: UserRef) -> str:
        async with self._app.sessionmaker() as session:
            team, _ = await directory.first_team_of_user(session, user)
        return team.locale if team is not None else self._app.config.bot.default_locale

    async def _say(self, user: UserRef, template: str, **context: Any) -> None:
        msg = self._app.renderer.render(template, await self._locale_of(user), **context)
        for part in render(msg, notify=False):
            await self.client.batch_send([user.id], part.msg_param())

    async def _show_choice(self, card: sent_cards.Card, label: str, user: UserRef) -> None:
        """Show the choice on the card in place of the buttons (once)."""
        async with self._app.uow_factory() as uow:
            first = await sent_cards.take_update(uow.session, PLATFORM, card.card_id)
            await uow.commit()
        if not first:
            return
        line = self._app.renderer.render("card_chosen", await self._locale_of(user), label=label)
        shown = card.text + BLOCK_BREAK + render(line, notify=False)[0].text
        try:
            await self.client.card_update(card.card_id, card_data(card.title, shown, ()))
        except DeliveryError as exc:  # the choice counts all the same; only the card looks older
            log.warning("dingtalk: card %s not updated: %s", card.card_id, exc.reason)

    async def _send_card(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None
    ) -> SentMessage:
        """The message as markdown DMs and, last, a card with its buttons (kept so clicks can be checked)."""
        *before, last = render(msg, notify=False)

        async def send(part: Markdown | _CardPart) -> str:
            if isinstance(part, Markdown):
                return await self._batcher.send(to.id, part.msg_param())
            card_id = "tb" + secrets.token_hex(15)  # unguessable: the id is what a click names
            async with self._app.uow_factory() as uow:
                await sent_cards.record(
                    uow.session,
                    platform=PLATFORM,
                    card_id=card_id,
                    workspace=to.workspace,
                    user_id=to.id,
                    title=part.markdown.title,
                    text=part.markdown.text,
                    buttons=msg.buttons[:MAX_BUTTONS],
                    now=self._app.clock.now(),
                )
                await uow.commit()
            route_key = self._app.config.dingtalk.card_route_key if self.mode == "http" else ""
            card = card_data(part.markdown.title, part.markdown.text, msg.buttons)
            await self.client.card_send(card_id, to.id, card, route_key)
            return card_id

        return await self._send_parts(to, [*before, _CardPart(last)], send, progress)

    async def _handle(self, sink: MessageSink, message: IncomingMessage) -> None:
        try:
            reply = await sink(message)
            if reply is not None:
                await self._reply(message, reply)
        except DeliveryError as exc:
            self._count(exc)
            log.warning("dingtalk: the reply to %s was not delivered: %s", message.event_id, exc.reason)
        except Exception:
            log.exception("dingtalk: handling message %s failed", message.event_id)

    async def _reply(self, message: IncomingMessage, reply: OutgoingMessage) -> None:
        webhook = message.raw.get("sessionWebhook")
        try:
            expires = int(message.raw.get("sessionWebhookExpiredTime") or 0)
        except (TypeError, ValueError):
            expires = 0
        if _callable_url(webhook) and expires > self._now_ms() + SESSION_MARGIN_MS:
            for part in render(reply, notify=True):
                await self.client.session_send(webhook, part)
            return
        # the session is over (a slow command, a redelivery): answer the way posts go
        if message.channel.kind == "group":
            for part in render(reply, notify=False):
                await self.client.group_send(message.channel.id, part)
        elif reply.buttons and self.client.has_app:
            await self._send_card(message.channel, reply, None)
        else:
            for part in render(reply, notify=False):
                await self.client.batch_send([message.user.id], part.msg_param())

    # -- sending (the delivery worker) ---------------------------------------------------------------

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        try:
            if to.kind == "dm":
                if msg.buttons and self.client.has_app:
                    return await self._send_card(to, msg, progress)
                parts = render(msg, notify=False)
                return await self._send_parts(to, parts, self._dm_sender(to), progress)
            webhook, secret = await self._webhook_of(to)
            if not webhook and not self.client.has_app:
                raise DeliveryError(
                    f"cannot post in {to.id}: the team has no channel_webhook and "
                    "[dingtalk] app_key/app_secret are not set",
                    transient=False,
                )
            shown = msg
            if webhook and self._app.config.server.public_url:  # markdown shows pictures by URL only
                shown = await self._picture_links(msg)
            parts: list[Markdown | Picture] = list(render(shown, notify=bool(webhook)))
            if not webhook:  # the app robot shows pictures; a custom robot would need a public URL
                parts += [Picture(png) for b in msg.blocks if isinstance(b, Image) and (png := png_bytes(b))]
            sender = self._group_sender(to, webhook, secret)
            return await self._send_parts(to, parts, sender, progress, robot=True)
        except RobotBusy:
            raise
        except DeliveryError as exc:
            self._count(exc)
            raise

    # -- boards (cards updated in place) -------------------------------------------------------------

    def can_edit(self, to: ChannelRef) -> bool:
        """A group the app robot posts to: its cards can be updated. A team's custom robot webhook
        (configured per team, so known without a lookup) only posts; a webhook team whose group is not
        configured (set later by `团队 setup`) may be this one, so its workspace's groups stay posts."""
        if to.kind != "group" or not self.client.has_app:
            return False
        return not any(
            team.platform == PLATFORM
            and team.workspace == to.workspace
            and team.channel_webhook
            and team.channel in (to.id, "")
            for team in self._app.config.teams
        )

    async def post_board(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        """The board as a StandardCard in the group; its cardBizId is the message id `edit` updates.
        Not recorded as a sent card: it has no buttons, so no click can name it."""
        card_id = "tb" + secrets.token_hex(15)
        card = _board_card(msg)

        async def send(card: dict[str, Any]) -> str:
            await self.client.group_card_send(card_id, to.id, card)
            return card_id

        try:
            return await self._send_parts(to, [card], send, progress, robot=True)
        except RobotBusy:
            raise
        except DeliveryError as exc:
            self._count(exc)
            raise

    async def edit(self, to: ChannelRef, message_id: str, msg: OutgoingMessage) -> SentMessage:
        """The board's card updated with `msg` (no buttons). A card DingTalk refuses for good (unknown
        cardBizId: recalled, or never sent) → MessageGone, and the board is posted anew."""
        try:
            await self.client.card_update(message_id, _board_card(msg))
        except DeliveryError as exc:
            self._count(exc)
            if not exc.transient:
                raise MessageGone(exc.reason) from exc
            raise
        return SentMessage(message_id=message_id, channel=to)

    async def _picture_links(self, msg: OutgoingMessage) -> OutgoingMessage:
        """The message with each chart kept for a week at <public_url>/media/<token>.png and linked from
        there (a retry links the same picture again, not a copy)."""
        blocks = []
        for block in msg.blocks:
            png = png_bytes(block) if isinstance(block, Image) else None
            if png is None or not isinstance(block, Image):
                blocks.append(block)
                continue
            digest = hashlib.sha256(png).hexdigest()
            token = self._media_tokens.get(digest)
            if token is None:
                async with self._app.uow_factory() as uow:
                    token = await store_png(uow.session, png, self._app.clock.now())
                    await uow.commit()
                self._media_tokens[digest] = token
                while len(self._media_tokens) > MAX_MEDIA_TOKENS:
                    self._media_tokens.pop(next(iter(self._media_tokens)))
            blocks.append(Image(media_url(self._app.config.server.public_url, token), block.alt))
        return OutgoingMessage(tuple(blocks), msg.fallback_text)

    def _dm_sender(self, to: ChannelRef) -> Callable[[Markdown], Awaitable[str]]:
        async def send(part: Markdown) -> str:
            return await self._batcher.send(to.id, part.msg_param())

        return send

    def _group_sender(
        self, to: ChannelRef, webhook: str, secret: str
    ) -> Callable[[Markdown | Picture], Awaitable[str]]:
        async def send(part: Markdown | Picture) -> str:
            if isinstance(part, Picture):  # media upload, then the image naming its media id
                name = f"chart-{hashlib.sha256(part.png).hexdigest()[:12]}.png"
                return await self.client.group_image(to.id, await self.client.upload_image(name, part.png))
            if webhook:
                await self.client.robot_send(webhook, secret, part)
                return ""
            return await self.client.group_send(to.id, part)

        return send

    async def _send_parts(
        self,
        to: ChannelRef,
        parts: Sequence[Markdown | Picture | _CardPart],
        send: Callable[[Any], Awaitable[str]],
        progress: PartProgress | None,
        *,
        robot: bool = False,
    ) -> SentMessage:
        """Send each part in order; a retry after a failure part-way resumes after the parts `progress`
        (the delivery worker's record) says were sent."""
        key = f"{to.kind}:{to.workspace}:{to.id}"
        done = progress.done if progress else 0
        remaining = parts[done:]
        if robot:
            wait = self._window.wait_for(key, len(remaining), self._app.clock.now())
            if wait > 0:
                raise RobotBusy(
                    f"the robot of {to.id} has sent its 20 messages this minute",
                    transient=True,
                    retry_after=wait,
                )
        message_id = ""
        for number, part in enumerate(remaining, done + 1):
            try:
                message_id = await send(part) or message_id
            except DeliveryError as exc:
                if robot and exc.transient and exc.retry_after:
                    self._window.hold(key, self._app.clock.now() + timedelta(seconds=exc.retry_after))
                raise
            finally:
                if robot:
                    self._window.sent(key, self._app.clock.now())
            if progress is not None and number < len(parts):
                await progress.sent(number)
        return SentMessage(message_id=message_id, channel=to)

    async def _webhook_of(self, to: ChannelRef) -> tuple[str, str]:
        """The team's custom robot (webhook, secret) for this channel, or ("", "") to use OpenAPI."""
        async with self._app.sessionmaker() as session:
            team = await directory.team_for_channel(session, to)
        if team is None or not team.channel_webhook:
            return "", ""
        return team.channel_webhook, team.channel_secret

    def _count(self, exc: DeliveryError) -> None:
        self._app.metrics.platform_error(PLATFORM, "transient" if exc.transient else "permanent")

    # -- people --------------------------------------------------------------------------------------

    async def open_dm(self, user: UserRef) -> ChannelRef:
        """DingTalk needs no "open" call: the robot DMs a staffId directly."""
        return ChannelRef(PLATFORM, user.workspace, user.id, "dm")

    async def resolve_user(self, user: UserRef) -> UserProfile:
        try:
            info = await self.client.user_get(user.id)
        except DeliveryError as exc:
            log.warning("dingtalk: no profile for %s: %s", user.id, exc.reason)
            return UserProfile(user=user, name=user.id)
        return UserProfile(
            user=user,
            name=str(info.get("name") or user.id),
            email=info.get("email") or info.get("org_email") or None,
            mobile=info.get("mobile") or None,
        )


def _board_card(msg: OutgoingMessage) -> dict[str, Any]:
    """A board as a card without buttons: its first message's worth (a card is one message; a board
    longer than that keeps its top, as on Slack)."""
    parts = render(msg, notify=False)
    if len(parts) > 1:
        log.warning("dingtalk: a board of %d messages is shown as its first only", len(parts))
    return card_data(parts[0].title, parts[0].text, ())


def _callable_url(url: object) -> bool:
    """A sessionWebhook we can call: an http(s) URL in printable ASCII, as DingTalk's always are."""
    return (
        isinstance(url, str)
        and url.startswith(("https://", "http://"))
        and url.isascii()
        and url.isprintable()
        and " " not in url
    )

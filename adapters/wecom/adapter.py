"""The WeCom (企业微信) adapter: a self-built app's callback and messages, plus the team's group robot.

Inbound, the callback is answered at once: when the dispatcher has the reply within
`passive_reply_within` (commands take milliseconds) and it fits one text message, it goes back as an
encrypted passive reply — no API call, no access token, no trusted-IP dependency, shown in WeChat too.
Otherwise WeCom gets an empty 200 (well inside its 5 s) and the reply follows through message/send as
markdown; if that is rate-limited or fails transiently, it goes to the outbox for the worker to retry.
Outbound, DMs use message/send, a team channel its group robot (`channel_webhook`) when it has one,
else appchat/send with the channel as the appchat's chatid. A DM with buttons is a template card
(cards.py); its clicks come back to the callback as `template_card_event` and are taken in like commands.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.intake import Intake
from adapters.wecom import cards
from adapters.wecom.callback import open_message, passive_text_reply, verify_url
from adapters.wecom.client import ALL_RECEIVERS_INVALID, WeComApiError, WeComClient
from adapters.wecom.crypto import CallbackRejected, WeComCrypto
from adapters.wecom.inbound import PLATFORM, to_incoming
from adapters.wecom.ratelimit import SlidingWindows
from adapters.wecom.render import (
    APP_MESSAGE_BYTES,
    ROBOT_IMAGE_BYTES,
    ROBOT_MARKDOWN_BYTES,
    render_markdown,
    render_text,
)
from bot.clock import Clock
from bot.config import WeComConfig
from bot.delivery.outbox import SentParts, enqueue
from bot.messages import (
    ChannelRef,
    Image,
    IncomingMessage,
    OutgoingMessage,
    SentMessage,
    UserRef,
    png_bytes,
)
from bot.metrics import Metrics
from bot.ports import Capability, ChannelLimits, DeliveryError, MessageSink, PartProgress, UserProfile
from bot.rendering.engine import Renderer
from bot.services import directory, sent_cards
from bot.services.sent_cards import Judged, Verdict
from bot.storage.orm import ProcessedEvent
from bot.storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

PASSIVE_REPLY_WITHIN = 1.5
FORGET_EVERY = 1000
# WeCom's own rules, whole: a member takes 30 app messages a minute and 1,000 an hour (more are dropped
# silently); a group robot 20 a minute (more are refused with 45009). Appchats get the robot's pace.
DM_LIMITS = ChannelLimits(APP_MESSAGE_BYTES, rate_per_minute=30.0, burst=30, per_hour=1000)
ROBOT_LIMITS = ChannelLimits(ROBOT_MARKDOWN_BYTES, rate_per_minute=20.0, burst=20)
APPCHAT_LIMITS = ChannelLimits(APP_MESSAGE_BYTES, rate_per_minute=20.0, burst=20)
_EMPTY = b""


@dataclass(frozen=True, slots=True)
class _GroupRoute:
    robot_key: str | None
    chat_id: str


class AtLimit(DeliveryError):
    """Not sent: the destination's window is full (our guard, not a platform error)."""


def robot_key(webhook: str) -> str | None:
    """The `key` of a group-robot webhook URL (…/cgi-bin/webhook/send?key=KEY), or None."""
    keys = parse_qs(urlsplit(webhook.strip()).query).get("key")
    return keys[0] if keys and keys[0] else None


class WeComAdapter:
    name = PLATFORM
    capabilities = (
        Capability.RICH_TEXT
        | Capability.MENTIONS
        | Capability.OPEN_DM
        | Capability.IMAGES
        | Capability.BUTTONS
    )
    limits = APPCHAT_LIMITS

    def __init__(
        self,
        config: WeComConfig,
        *,
        clock: Clock,
        uow_factory: UnitOfWorkFactory,
        metrics: Metrics | None = None,
        http: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        passive_reply_within: float = PASSIVE_REPLY_WITHIN,
        renderer: Renderer | None = None,
        default_locale: str = "zh-CN",
    ) -> None:
        self._config = config
        self._renderer = renderer
        self._default_locale = default_locale
        self._clock = clock
        self._uow_factory = uow_factory
        self._metrics = metrics
        self._client = WeComClient(
            str(config.api_base_url), config.corp_id, config.secret, http=http, monotonic=monotonic
        )
        self._crypto = (
            WeComCrypto(config.token, config.encoding_aes_key, config.corp_id)
            if config.token and config.encoding_aes_key
            else None
        )
        self._windows = SlidingWindows(monotonic)
        self._passive_within = passive_reply_within
        self._sink: MessageSink | None = None
        self._intake = Intake(PLATFORM, uow_factory.sessionmaker, clock, self._from_intake)
        # Callbacks waiting for their command's reply (a passive reply), by the token in the job.
        self._handovers: dict[str, asyncio.Future[OutgoingMessage | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._robot_channels: dict[str, bool] = {}
        self._sends = 0

    # ----- lifecycle ----------------------------------------------------------------------------------

    async def start(self, sink: MessageSink, *, serve: bool = True, work: bool = True) -> None:
        """`work`: handle the commands taken in; a callback then waits briefly for its reply (a passive
        reply). A process that only serves answers at once, and the worker replies through the API."""
        self._sink = sink
        await self._intake.start(work=work)

    async def stop(self) -> None:
        """Finish the replies still being worked on, then close the HTTP client."""
        await self.settle()
        await self._intake.stop()
        self._sink = None
        await self._client.aclose()

    async def settle(self) -> None:
        """Wait until every message taken in has been handled and its reply sent (or queued)."""
        await self._intake.wait_idle()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def health(self) -> dict[str, Any]:
        return {"ok": True, "callbacks": self._crypto is not None, "access_token": self._client.has_token}

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        if to.kind == "dm":
            return DM_LIMITS
        return ROBOT_LIMITS if self._robot_channels.get(to.id) else APPCHAT_LIMITS

    async def open_dm(self, user: UserRef) -> ChannelRef:
        return ChannelRef(PLATFORM, user.workspace, user.id, "dm")

    async def resolve_user(self, user: UserRef) -> UserProfile:
        try:
            data = await self._client.app_call("GET", "/cgi-bin/user/get", params={"userid": user.id})
        except DeliveryError as exc:
            log.warning("wecom: cannot look up user %s: %s", user.id, exc.reason)
            return UserProfile(user=user, name=user.id)
        return UserProfile(
            user=user,
            name=str(data.get("name") or user.id),
            email=data.get("email") or None,
            mobile=data.get("mobile") or None,
        )

    # ----- inbound ------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        if self._crypto is None:
            return []
        return [Route("/wecom/callback", self._callback, methods=["GET", "POST"])]

    async def _callback(self, request: Request) -> Response:
        now = self._clock.now()
        try:
            if request.method == "GET":
                return Response(verify_url(self._crypto, request.query_params, now), media_type="text/plain")
            fields = open_message(self._crypto, request.query_params, await request.body(), now)
        except CallbackRejected as exc:
            log.warning("wecom callback refused (%s): %s", exc.reason, exc.detail)
            return JSONResponse({"error": exc.reason, "detail": exc.detail}, status_code=exc.status)
        if cards.to_click(fields) is not None:
            return await self._take_click(fields)
        message = to_incoming(fields, self._config.corp_id, now)
        if message is None:
            return Response(_EMPTY)
        if self._sink is None:
            return JSONResponse({"error": "not_started"}, status_code=503)
        return await self._answer(message, fields)

    async def _take_click(self, fields: dict[str, str]) -> Response:
        """A card click is taken in like a command (committed before WeCom gets its empty 200) and
        handled by the intake: its command, the reply through message/send, then the card's update."""
        if self._sink is None:
            return JSONResponse({"error": "not_started"}, status_code=503)
        await self._intake.take({"click": fields})
        return Response(_EMPTY)

    async def _answer(self, message: IncomingMessage, fields: dict[str, str]) -> Response:
        """Take the message into the intake (committed before WeCom gets its answer), then wait briefly
        for the reply: a short one goes back as the callback's passive reply; otherwise the command
        sends its reply itself when done (WeCom retries an unanswered callback; the dispatcher drops the
        repeat)."""
        token = uuid.uuid4().hex
        if not self._intake.works:  # another process handles it and replies through the API
            await self._intake.take({"fields": fields, "handover": token})
            return Response(_EMPTY)
        handover: asyncio.Future[OutgoingMessage | None] = asyncio.get_running_loop().create_future()
        self._handovers[token] = handover
        try:
            await self._intake.take({"fields": fields, "handover": token})
            reply = await asyncio.wait_for(handover, self._passive_within)
        except TimeoutError:  # the handover is cancelled: the work sends the reply itself when done
            return Response(_EMPTY)
        finally:
            self._handovers.pop(token, None)
        if reply is None:
            return Response(_EMPTY)
        passive = self._passive_reply(message, reply)
        if passive is not None:
            return Response(passive, media_type="application/xml")
        self._track(asyncio.create_task(self._deliver_reply(message, reply)))
        return Response(_EMPTY)

    async def _from_intake(self, payload: dict[str, Any], received_at: datetime) -> None:
        """A command job: its reply to the callback still waiting for it (in this process), else sent."""
        sink = self._sink
        if "click" in payload:
            if sink is not None:
                await self._clicked(sink, payload["click"], received_at)
            return
        message = to_incoming(payload["fields"], self._config.corp_id, received_at)
        if sink is None or message is None:
            return
        handover = self._handovers.get(str(payload.get("handover")))
        await self._work(sink, message, handover)

    def _passive_reply(self, message: IncomingMessage, reply: OutgoingMessage) -> str | None:
        """An encrypted text reply when the reply fits one message and the member's quota allows it."""
        if message.channel.kind != "dm" or self._crypto is None or reply.buttons:
            return None  # buttons need a card, which only message/send can carry
        rendered = render_text(reply, limit=APP_MESSAGE_BYTES)
        if len(rendered.chunks) != 1:
            return None
        if self._windows.reserve(_window_key(message.channel), DM_LIMITS) > 0:
            return None
        return passive_text_reply(self._crypto, message.user.id, rendered.chunks[0], self._clock.now())

    async def _work(
        self,
        sink: MessageSink,
        message: IncomingMessage,
        handover: asyncio.Future[OutgoingMessage | None] | None,
    ) -> None:
        """The command; its reply goes back through the callback's answer while that still waits for
        it, else through the API."""
        try:
            reply = await sink(message)
        except Exception:
            log.exception("wecom: handling message %s failed", message.event_id)
            reply = None
        if handover is not None and not handover.done():
            handover.set_result(reply)
        elif reply is not None:
            await self._deliver_reply(message, reply)

    async def _deliver_reply(self, message: IncomingMessage, reply: OutgoingMessage) -> None:
        """The speaker's reply through message/send; the outbox takes it when that must wait."""
        to = ChannelRef(PLATFORM, message.user.workspace, message.user.id, "dm")
        progress = SentParts()
        try:
            await self.send(to, reply, progress)
        except DeliveryError as exc:
            if not isinstance(exc, AtLimit):  # the worker counts its own sends; replies bypass it
                self._count(exc)
            if not exc.transient:
                log.warning("wecom: reply to %s dropped: %s", message.user.id, exc.reason)
                return
            try:
                async with self._uow_factory() as uow:
                    await enqueue(
                        uow.session,
                        channel=to,
                        message=reply,
                        dedupe_key=f"wecom:reply:{message.event_id}",
                        now=self._clock.now(),
                        parts_sent=progress.done,
                    )
                    await uow.commit()
            except Exception:
                log.exception("wecom: could not queue the reply to %s", message.user.id)

    # ----- card clicks --------------------------------------------------------------------------------

    async def _clicked(self, sink: MessageSink, fields: dict[str, str], received_at: datetime) -> None:
        """A click on one of our cards: the command its button stands for, typed by the person who
        clicked, in their conversation with the app — once per card, whoever clicks again or retries
        (bot/services/sent_cards.py judges it). Then the card shows what was chosen; a refused command
        leaves it as it was. A card we never sent them, or an old one, gets a clear line."""
        click = cards.to_click(fields)
        if click is None:
            return
        clicked = cards.card_click(click)
        corp = self._config.corp_id
        now = received_at  # when WeCom delivered the click, however late a worker gets to it
        judged = await self._judge(click, now)
        message = IncomingMessage(
            event_id=f"card:{click.task_id}:{click.response_code or click.create_time}",
            user=UserRef(PLATFORM, corp, click.user_id),
            channel=ChannelRef(PLATFORM, corp, click.user_id, "dm"),
            text=judged.button.command if judged.verdict is Verdict.ACT and judged.button else "",
            addressed_to_bot=True,
            received_at=received_at,
            raw=dict(fields),
            clicked=clicked,
        )
        if judged.verdict is Verdict.REPEAT and judged.button is not None:
            await self._update_card(click, judged.button.label)  # unless done: a retry after a crash
            return
        if judged.verdict is not Verdict.ACT or judged.button is None:
            await self._stale_line(message, click, judged)
            return
        try:
            reply = await sink(message)
        except Exception:
            log.exception("wecom: handling the click on card %s failed", click.task_id)
            reply = None
        if reply is not None:
            await self._deliver_reply(message, reply)
        async with self._uow_factory() as uow:
            chosen = await sent_cards.acted(uow.session, PLATFORM, clicked)
        if chosen:
            await self._update_card(click, judged.button.label)
        elif reply is None:  # another press of the card acted while this one ran: say which
            judged = await self._judge(click, now)
            if judged.verdict is Verdict.CHOSEN:
                await self._stale_line(message, click, judged)

    async def _judge(self, click: cards.Click, now: datetime) -> Judged:
        async with self._uow_factory() as uow:
            return await sent_cards.judge(
                uow.session,
                platform=PLATFORM,
                workspace=self._config.corp_id,
                user_id=click.user_id,
                click=cards.card_click(click),
                lifetime=cards.CARD_LIFETIME,
                now=now,
            )

    async def _stale_line(self, message: IncomingMessage, click: cards.Click, judged: Judged) -> None:
        """Say why the click did nothing — once per click, however often WeCom delivers it."""
        if self._renderer is None:
            log.warning("wecom: click on card %s refused (%s)", click.task_id, judged.verdict)
            return
        seen = {
            "platform": PLATFORM,
            "event_id": f"cardline:{click.task_id}:{click.response_code or click.create_time}"[:200],
            "received_at": self._clock.now(),
        }
        async with self._uow_factory() as uow:
            try:
                await uow.session.execute(insert(ProcessedEvent.__table__), seen)
            except IntegrityError:
                return
            team, _ = await directory.first_team_of_user(uow.session, message.user)
            await uow.commit()
        locale = team.locale if team is not None else self._default_locale
        context = sent_cards.stale_context(judged, cards.CARD_LIFETIME)
        reply = self._renderer.render(sent_cards.STALE_TEMPLATE, locale, **context)
        await self._deliver_reply(message, reply)

    async def _update_card(self, click: cards.Click, label: str) -> None:
        """The card's one update: the clicker's buttons become one grey button saying what was chosen."""
        if not click.response_code:
            return
        async with self._uow_factory() as uow:
            first = await sent_cards.take_update(uow.session, PLATFORM, click.task_id)
            await uow.commit()
        if not first:
            return
        payload = cards.update_payload(self._agent_id(), click.user_id, click.response_code, label)
        try:
            await self._client.app_call("POST", "/cgi-bin/message/update_template_card", json=payload)
        except DeliveryError as exc:
            self._count(exc)
            log.warning("wecom: could not update card %s: %s", click.task_id, exc.reason)

    def _track(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)

    # ----- outbound -----------------------------------------------------------------------------------

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        """One neutral message to a member or a team channel, split as needed (called by the worker)."""
        if to.platform != PLATFORM or not to.id:
            raise DeliveryError(f"wecom: cannot send to {to}", transient=False)
        self._sends += 1
        if self._sends % FORGET_EVERY == 0:
            self._windows.forget_idle()
        pictures = app_pictures(msg)
        if to.kind == "dm" and msg.buttons and self._crypto is not None:  # clicks need the callback
            return await self._send_card(to, msg, pictures, progress)
        if to.kind == "dm":
            rendered = render_markdown(msg, limit=APP_MESSAGE_BYTES, robot=False)
            payloads = [_app_markdown(self._agent_id(), to.id, chunk) for chunk in rendered.chunks]
            payloads += [{"touser": to.id, "agentid": self._agent_id(), **_image_stub(p)} for p in pictures]
            sender = self._with_media(pictures, self._send_app)
            return await self._deliver(to, DM_LIMITS, payloads, sender, progress)
        route = await self._group_route(to)
        if route.robot_key is not None:
            key = route.robot_key
            rendered = render_markdown(msg, limit=ROBOT_MARKDOWN_BYTES, robot=True)
            payloads = [{"msgtype": "markdown", "markdown": {"content": c}} for c in rendered.chunks]
            payloads += [robot_image(image) for image in rendered.images if len(image) <= ROBOT_IMAGE_BYTES]

            async def via_robot(payload: dict[str, Any]) -> str:
                await self._client.robot_send(key, payload)
                return ""

            return await self._deliver(to, ROBOT_LIMITS, payloads, via_robot, progress)
        rendered = render_markdown(msg, limit=APP_MESSAGE_BYTES, robot=False)
        payloads = [
            {"chatid": route.chat_id, "msgtype": "markdown", "markdown": {"content": c}, "safe": 0}
            for c in rendered.chunks
        ]
        payloads += [{"chatid": route.chat_id, **_image_stub(p)} for p in pictures]
        return await self._deliver(
            to, APPCHAT_LIMITS, payloads, self._with_media(pictures, self._send_appchat), progress
        )

    async def _send_card(
        self, to: ChannelRef, msg: OutgoingMessage, pictures: list[bytes], progress: PartProgress | None
    ) -> SentMessage:
        """A DM with buttons: a `button_interaction` card carrying its title, text and buttons — with the
        text sent ahead as markdown when it is longer than a card shows. Each card is recorded just
        before it is sent, under a task id of its own, so its clicks can be checked."""
        text = cards.card_text(msg)
        payloads: list[dict[str, Any]] = []
        if text.text_apart:
            rendered = render_markdown(replace(msg, buttons=()), limit=APP_MESSAGE_BYTES, robot=False)
            payloads = [_app_markdown(self._agent_id(), to.id, chunk) for chunk in rendered.chunks]
        payloads += [{"touser": to.id, "agentid": self._agent_id(), **_image_stub(p)} for p in pictures]
        payloads.append({"touser": to.id, "msgtype": "template_card"})
        media = self._with_media(pictures, self._send_app)

        async def send(payload: dict[str, Any]) -> str:
            if payload.get("msgtype") != "template_card":
                return await media(payload)
            task_id = cards.new_task_id()
            now = self._clock.now()
            async with self._uow_factory() as uow:
                await sent_cards.record(
                    uow.session,
                    platform=PLATFORM,
                    card_id=task_id,
                    workspace=to.workspace,
                    user_id=to.id,
                    title=text.title,
                    text=text.subtitle,
                    buttons=msg.buttons[: cards.BUTTONS_MAX],
                    now=now,
                )
                await uow.commit()
            return await self._send_app(
                cards.template_card(self._agent_id(), to.id, task_id, text, msg.buttons)
            )

        return await self._deliver(to, DM_LIMITS, payloads, send, progress)

    def _with_media(
        self, pictures: list[bytes], call: Callable[[dict[str, Any]], Awaitable[str]]
    ) -> Callable[[dict[str, Any]], Awaitable[str]]:
        """App messages show a picture by media id: each image part uploads its bytes first (media/upload),
        then sends the image message naming the id the upload returned."""
        by_digest = {hashlib.sha256(p).hexdigest(): p for p in pictures}

        async def send(payload: dict[str, Any]) -> str:
            if payload.get("msgtype") != "image":
                return await call(payload)
            digest = payload["image"]["sha256"]
            media_id = await self._client.upload_image(f"chart-{digest[:12]}.png", by_digest[digest])
            return await call({**payload, "image": {"media_id": media_id}})

        return send

    async def _deliver(
        self,
        to: ChannelRef,
        limits: ChannelLimits,
        payloads: list[dict[str, Any]],
        call: Callable[[dict[str, Any]], Awaitable[str]],
        progress: PartProgress | None,
    ) -> SentMessage:
        """Send the parts in order within the destination's window; a retry resumes after the last part
        that went out (`progress`, the delivery worker's record), so a split message is never sent twice
        in part."""
        window = _window_key(to)
        first_id = ""
        for index in range(progress.done if progress else 0, len(payloads)):
            wait = self._windows.reserve(window, limits)
            if wait > 0:
                raise AtLimit(
                    f"wecom: {to.kind} {to.id} is at its limit ({limits.rate_per_minute:g}/min)",
                    transient=True,
                    retry_after=wait,
                )
            message_id = await call(payloads[index])
            first_id = first_id or message_id
            if progress is not None and index + 1 < len(payloads):
                await progress.sent(index + 1)
        return SentMessage(message_id=first_id, channel=to)

    def _count(self, error: DeliveryError) -> None:
        if self._metrics is not None:
            self._metrics.platform_error(PLATFORM, "transient" if error.transient else "permanent")

    def _agent_id(self) -> int:
        if self._config.agent_id is None:
            raise DeliveryError("wecom: [wecom] agent_id is not set", transient=False)
        return self._config.agent_id

    async def _send_app(self, payload: dict[str, Any]) -> str:
        user = payload["touser"]
        try:
            data = await self._client.app_call("POST", "/cgi-bin/message/send", json=payload)
        except WeComApiError as exc:
            if exc.code == ALL_RECEIVERS_INVALID:
                raise _unreachable(user, exc.reason) from None
            raise
        if user in str(data.get("invaliduser", "")).split("|"):
            raise _unreachable(user, "invaliduser")
        return str(data.get("msgid", ""))

    async def _send_appchat(self, payload: dict[str, Any]) -> str:
        await self._client.app_call("POST", "/cgi-bin/appchat/send", json=payload)
        return ""

    async def _group_route(self, to: ChannelRef) -> _GroupRoute:
        """A team's channel goes through its group robot when it has one, else it is an appchat."""
        async with self._uow_factory() as uow:
            team = await directory.team_for_channel(uow.session, to)
            webhook = team.channel_webhook if team is not None else ""
        key = robot_key(webhook) if webhook else None
        if webhook and key is None:
            raise DeliveryError("wecom: the team's channel_webhook has no key=… parameter", transient=False)
        self._robot_channels[to.id] = key is not None
        return _GroupRoute(robot_key=key, chat_id=to.id)


def _window_key(to: ChannelRef) -> str:
    return f"{to.kind}:{to.workspace}:{to.id}"


def _app_markdown(agent_id: int, user_id: str, content: str) -> dict[str, Any]:
    return {"touser": user_id, "msgtype": "markdown", "agentid": agent_id, "markdown": {"content": content}}


def app_pictures(msg: OutgoingMessage) -> list[bytes]:
    """The charts a message carries, for app messages (a robot's go inline as base64)."""
    return [png for block in msg.blocks if isinstance(block, Image) and (png := png_bytes(block)) is not None]


def _image_stub(png: bytes) -> dict[str, Any]:
    """An app image part before its upload: named by the bytes' digest (so a retry resumes the same part)."""
    return {"msgtype": "image", "image": {"sha256": hashlib.sha256(png).hexdigest()}}


def robot_image(data: bytes) -> dict[str, Any]:
    """A group-robot image message (charts): base64 of the bytes and the md5 of the raw bytes."""
    return {
        "msgtype": "image",
        "image": {"base64": base64.b64encode(data).decode("ascii"), "md5": hashlib.md5(data).hexdigest()},
    }


def _unreachable(user: str, detail: str) -> DeliveryError:
    """`invaliduser`: the member left, or is outside the app's visible range — retrying cannot help."""
    log.warning(
        "wecom: member %s cannot receive app messages (%s): check the app's visible range (可见范围) "
        "or remove them from the team",
        user,
        detail,
    )
    return DeliveryError(
        f"wecom invaliduser {user}: outside the app's visible range or left", transient=False
    )

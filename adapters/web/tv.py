"""`GET /tv/<team>?key=KEY` (the board's page) and `GET /tv/<team>/events?key=KEY` (its live events).

The page is one jinja template with its CSS and a little JavaScript inlined: nothing comes from another
host, so a screen without internet shows it. The events are server-sent events whose `id:` is the highest
deal id the board has been told about; a board that reconnects says where it stopped (`Last-Event-ID`,
or `last=` when the page opens a new stream itself) and is sent the 喜报 it missed.

A wrong key and an unknown team get the same 401, and the key is compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import tomllib
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import anyio
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bot.app import App
from bot.tv import board, keys
from bot.tv.hub import BoardEvent, HubClosed, TvHub

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0  # a comment this often keeps proxies from closing a quiet stream
RETRY_MS = 3000
REFUSED = (
    "这个看板链接无效或已更换，请向团队长要新链接（在群里发「/团队 tv」）。\n"
    "This board link is not valid or has been replaced: ask a team leader for the current one (/team tv).\n"
)
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class EventStreamResponse(StreamingResponse):
    """A stream that ends as soon as the client goes away, not at the next write (what Starlette does
    under ASGI 2.4): an open board costs its poller a viewer until then."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


def sse(event: BoardEvent) -> str:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


class TvBoards:
    """The board's two routes over one hub of live feeds; `close()` ends open streams when the server
    stops (uvicorn would otherwise wait its whole grace period for them)."""

    def __init__(self, app: App, hub: TvHub | None = None) -> None:
        self.app = app
        self.hub = hub or TvHub(app.sessionmaker, app.renderer, app.clock)
        self._env = Environment(
            loader=PackageLoader("adapters.web", "tv_page"), autoescape=True, undefined=StrictUndefined
        )
        self._env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
        self._words: dict[str, dict[str, Any]] = {}
        self._assets: dict[str, Markup] = {}
        app.uow_factory.after_commit.append(self.hub.notice)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/tv/{team}", self.page, methods=["GET"]),
            Route("/tv/{team}/events", self.events, methods=["GET"]),
        ]

    async def close(self) -> None:
        if self.hub.notice in self.app.uow_factory.after_commit:
            self.app.uow_factory.after_commit.remove(self.hub.notice)
        await self.hub.close()

    async def page(self, request: Request) -> Response:
        try:
            return await self._page(request)
        except (SQLAlchemyError, OSError) as exc:
            return _unavailable(exc)

    async def events(self, request: Request) -> Response:
        try:
            return await self._events(request)
        except (SQLAlchemyError, OSError, HubClosed) as exc:
            return _unavailable(exc)

    async def _page(self, request: Request) -> Response:
        async with self.app.sessionmaker() as session:
            key = request.query_params.get("key")
            team = await keys.team_for_key(session, request.path_params["team"], key)
            if team is None:
                return _refused()
            shown = await board.snapshot(session, team, self.app.clock.now(), self.app.renderer)
        locale = str(shown.view["locale"])
        words = self.words(locale)
        nonce = secrets.token_urlsafe(16)
        html = self._env.get_template("board.html").render(
            lang=locale,
            title=words["page_title"].replace("{team}", team.name),
            words=words,
            board=shown.view,
            css=self._asset("board.css"),
            js=self._asset("board.js"),
            nonce=nonce,
        )
        policy = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
        )
        return HTMLResponse(html, headers={**PAGE_HEADERS, "Content-Security-Policy": policy})

    async def _events(self, request: Request) -> Response:
        key = request.query_params.get("key")
        async with self.app.sessionmaker() as session:
            team = await keys.team_for_key(session, request.path_params["team"], key)
        if team is None or key is None:
            return _refused()
        last = _event_id(request.headers.get("last-event-id") or request.query_params.get("last"))
        viewer = await self.hub.open(team.id, key, last)
        hub = self.hub

        async def stream() -> AsyncIterator[str]:
            try:
                yield f"retry: {RETRY_MS}\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(viewer.next(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if event is None:
                        return
                    yield sse(event)
            finally:
                hub.leave(viewer)

        return EventStreamResponse(
            stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **PAGE_HEADERS}
        )

    def words(self, locale: str) -> dict[str, Any]:
        """The board's words in a locale (`bot/templates/<locale>/_tv.toml`), read once."""
        found = self._words.get(locale)
        if found is None:
            text = resources.files("bot").joinpath("templates", locale, "_tv.toml").read_text("utf-8")
            found = self._words[locale] = tomllib.loads(text)
        return found

    def _asset(self, name: str) -> Markup:
        found = self._assets.get(name)
        if found is None:
            text = resources.files("adapters.web").joinpath("tv_page", name).read_text("utf-8")
            found = self._assets[name] = Markup(text.replace("</", "<\\/") if name.endswith(".js") else text)
        return found


def _event_id(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _unavailable(exc: Exception) -> Response:
    """The database is down or the server is stopping: the page tries again by itself."""
    log.warning("tv: a board could not be served: %s", exc)
    text = "看板暂时不可用（数据库或服务器正在恢复），稍后会自动重连。\n"
    text += "The board is briefly unavailable (the database or server is coming back); it will reconnect.\n"
    headers = {**PAGE_HEADERS, "Retry-After": "5"}
    return Response(text, status_code=503, media_type="text/plain; charset=utf-8", headers=headers)


def _refused() -> Response:
    return Response(REFUSED, status_code=401, media_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)

"""The ASGI app: /healthz, /metrics and the routes each adapter (and the deal webhook) brings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from prometheus_client import Counter
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.web.contract import ReportsHealth, ServesHttp
from adapters.web.limits import BodyLimit
from adapters.web.tv import TvBoards
from bot.app import App
from bot.metrics import CONTENT_TYPE, Metrics
from bot.observe import refresh_gauges
from bot.ports import Adapter
from bot.services.media import load as load_media

log = logging.getLogger(__name__)
DATABASE_CHECK_TIMEOUT = 2.0


def adapter_routes(adapters: Mapping[str, Adapter]) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for adapter in adapters.values():
        if isinstance(adapter, ServesHttp):
            routes.extend(adapter.routes())
    return routes


def build_health_app(app: App) -> ASGIApp:
    """`--role worker`: /healthz and /metrics only, no platform routes (the workers are scraped too)."""
    return build_web_app(app, {}, platform_routes=False)


def build_web_app(
    app: App,
    adapters: Mapping[str, Adapter],
    extra: Iterable[BaseRoute] = (),
    *,
    platform_routes: bool = True,
) -> ASGIApp:
    """One app for every route; bodies are size-limited before any handler sees them."""

    async def healthz(request: Request) -> Response:
        database = await _database_health(app)
        report: dict[str, Any] = {"database": database, "adapters": {}}
        for name, adapter in adapters.items():
            report["adapters"][name] = await _adapter_health(adapter)
        status = 200 if database == "ok" else 503
        report["status"] = "ok" if status == 200 else "unavailable"
        return JSONResponse(report, status_code=status)

    async def metrics(request: Request) -> Response:
        try:
            await _refresh_outbox_counts(app)
        except Exception as exc:  # the database is down: still show the other figures
            log.warning("metrics: database figures unavailable: %s", exc)
        return Response(app.metrics.exposition(), media_type=CONTENT_TYPE)

    async def media(request: Request) -> Response:
        """A picture a post links to (DingTalk custom robots); an unknown or expired token is 404."""
        async with app.sessionmaker() as session:
            data = await load_media(session, request.path_params["token"], app.clock.now())
        if data is None:
            return Response("no such picture", status_code=404, media_type="text/plain")
        return Response(data, media_type="image/png", headers={"Cache-Control": "public, max-age=604800"})

    tv = TvBoards(app)
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if platform_routes:
        routes += [
            Route("/media/{token}.png", media, methods=["GET"]),
            *extra,
            *adapter_routes(adapters),
            *tv.routes(),
        ]
    starlette = Starlette(routes=routes)
    known = {getattr(route, "path", "") for route in routes}
    counted = CountRequests(starlette, app.metrics, known)
    return WebApp(BodyLimit(counted, app.config.server.max_body_bytes), tv.close)


class WebApp:
    """The ASGI app, and what must end before the server can stop gracefully (open TV streams)."""

    def __init__(self, asgi: ASGIApp, close_streams: Callable[[], Awaitable[None]]) -> None:
        self.asgi = asgi
        self.close_streams = close_streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)


def http_routes_configured(app: App, adapters: Mapping[str, Adapter]) -> bool:
    """Whether anything beyond /healthz and /metrics must be reachable over HTTP."""
    return bool(app.config.hooks.deals_secret) or bool(adapter_routes(adapters))


async def _database_health(app: App) -> str:
    try:
        async with asyncio.timeout(DATABASE_CHECK_TIMEOUT):
            async with app.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"


async def _adapter_health(adapter: Adapter) -> dict[str, Any]:
    if not isinstance(adapter, ReportsHealth):
        return {"ok": True}
    try:
        return await adapter.health()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


async def _refresh_outbox_counts(app: App) -> None:
    async with app.sessionmaker() as session:
        await refresh_gauges(app.metrics, session, app.clock.now())


class CountRequests:
    """Counts answers by route and status (unknown paths count as "other" so labels stay few)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, known_paths: set[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.known = known_paths
        self._counters: dict[tuple[str, int], Counter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in self.known else "other"
        await self.app(scope, receive, self._counting(route, send))

    def _counting(self, route: str, send: Send) -> Send:
        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._counter(route, message["status"]).inc()
            await send(message)

        return counting_send

    def _counter(self, route: str, status: int) -> Counter:
        """The counter of one (route, status): looked up once, not on every request."""
        key = (route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.http_requests.labels(route=route, status=str(status))
        return counter

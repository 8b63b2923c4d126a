"""The HTTP server: health, metrics, the body limit and a graceful stop, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.web.serve import WebServer
from adapters.web.server import build_web_app, http_routes_configured
from bot.app import build_app
from bot.config import load_config
from tests.support.chat import Chat, FakeAdapter
from tests.support.loopback import serve

LIMIT = 2048


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"received": len(body)})


class SickAdapter(FakeAdapter):
    """An adapter whose connection is down, as a socket-mode adapter reports after losing its socket."""

    async def health(self) -> dict[str, Any]:
        return {"ok": False, "error": "socket closed 40 s ago"}


def _configure(chat: Chat, section: str, **changes: Any) -> None:
    config = chat.app.config
    updated = getattr(config, section).model_copy(update=changes)
    chat.app.config = config.model_copy(update={section: updated})


def _asgi(chat: Chat, adapters=None):
    _configure(chat, "server", max_body_bytes=LIMIT)
    return build_web_app(
        chat.app, adapters or {"console": chat.adapter}, [Route("/echo", _echo, methods=["POST"])]
    )


async def test_healthz_reports_database_and_each_adapter(chat: Chat) -> None:
    adapters = {"console": chat.adapter, "slack": SickAdapter(name="slack")}
    async with serve(_asgi(chat, adapters)) as base, httpx.AsyncClient(base_url=base) as client:
        answer = await client.get("/healthz")
    assert answer.status_code == 200
    report = answer.json()
    assert report["database"] == "ok"
    assert report["adapters"]["console"] == {"ok": True}
    assert report["adapters"]["slack"] == {"ok": False, "error": "socket closed 40 s ago"}


async def test_healthz_is_503_when_the_database_is_unreachable(tmp_path) -> None:
    path = tmp_path / "down.toml"
    path.write_text('[database]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:9/none"\n', encoding="utf-8")
    app = await build_app(load_config(path, environ={}), migrate=False)
    try:
        async with serve(build_web_app(app, {})) as base, httpx.AsyncClient(base_url=base) as client:
            answer = await client.get("/healthz")
            metrics = await client.get("/metrics")
    finally:
        await app.close()
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"
    assert answer.json()["database"].startswith("unreachable")
    assert metrics.status_code == 200  # still answers with what it knows


async def test_metrics_count_commands_outbox_rows_and_requests(chat: Chat) -> None:
    await chat.say("boss", "/goal team 300000 month")
    await chat.say("alice", "/deal 12800")
    await chat.say("alice", "/deal abc")
    async with serve(_asgi(chat)) as base, httpx.AsyncClient(base_url=base) as client:
        await client.get("/healthz")
        text = (await client.get("/metrics")).text
    assert 'teambeat_commands_total{command="goal",outcome="ok"} 1.0' in text
    assert 'teambeat_commands_total{command="deal",outcome="ok"} 1.0' in text
    assert 'teambeat_commands_total{command="deal",outcome="invalid_argument"} 1.0' in text
    sent = len(chat.adapter.sent)
    assert sent > 0
    assert f'teambeat_outbox_rows{{state="sent"}} {float(sent)}' in text
    assert 'teambeat_http_requests_total{route="/healthz",status="200"} 1.0' in text


async def test_a_body_over_the_limit_is_refused_with_413_by_length_or_while_streaming(chat: Chat) -> None:
    async def chunks():
        for _ in range(10):
            yield b"x" * 512

    async with serve(_asgi(chat)) as base, httpx.AsyncClient(base_url=base) as client:
        small = await client.post("/echo", content=b"y" * LIMIT)
        declared = await client.post("/echo", content=b"y" * (LIMIT + 1))
        streamed = await client.post("/echo", content=chunks())
    assert small.json() == {"received": LIMIT}
    assert declared.status_code == 413
    assert "2048 bytes" in declared.json()["detail"]
    assert streamed.status_code == 413


async def test_stop_lets_the_request_in_flight_finish_and_then_refuses_new_ones(chat: Chat) -> None:
    started = asyncio.Event()

    async def slow(request: Request) -> JSONResponse:
        started.set()
        await asyncio.sleep(0.5)
        return JSONResponse({"done": True})

    server = WebServer(build_web_app(chat.app, {}, [Route("/slow", slow)]), "127.0.0.1", 0)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base) as client:
        in_flight = asyncio.create_task(client.get("/slow"))
        await started.wait()
        await server.stop()
        answer = await in_flight
    assert answer.json() == {"done": True}
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=base) as client:
            await client.get("/healthz")


def test_the_server_runs_only_when_an_http_route_is_configured(chat: Chat) -> None:
    assert not http_routes_configured(chat.app, {"console": chat.adapter})
    _configure(chat, "hooks", deals_secret="s3cret")
    assert http_routes_configured(chat.app, {"console": chat.adapter})


async def test_every_connection_sends_without_waiting_for_the_clients_delayed_ack(chat: Chat) -> None:
    """Nagle off (TCP_NODELAY) on accepted connections: with it on, an answer written as headers then
    body waits for the client's delayed ACK — 40 ms on every keep-alive request."""
    seen: list[int] = []
    server = WebServer(build_web_app(chat.app, {}), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            for protocol in server._server.server_state.connections:
                sock = protocol.transport.get_extra_info("socket")
                seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    finally:
        await server.stop()
    assert seen and all(seen)

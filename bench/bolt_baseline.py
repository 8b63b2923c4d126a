"""P1's baseline: a bare slack-bolt AsyncApp that only acks slash commands, served at POST /slack/events
the way `teambeat run` serves it (one uvicorn worker, same settings, a process of its own).

It verifies signatures and authorizes with a bot token (auth.test once, against the fake), as any bolt
app does; it does nothing else, so its throughput is the ceiling bolt itself sets on this machine.

Run: python -m bench.bolt_baseline --port P --secret S --token xoxb-… --api-base-url http://…/api/
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.cli import run_on_server_loop
from adapters.web.serve import WebServer


def build(secret: str, token: str, api_base_url: str) -> Starlette:
    bolt = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_base_url),
        signing_secret=secret,
        process_before_response=True,
        logger=logging.getLogger("slack_bolt.baseline"),
    )

    @bolt.command(re.compile(r"^/.+"))
    async def command(ack: Any) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def serve(args: argparse.Namespace) -> None:
    server = WebServer(build(args.secret, args.token, args.api_base_url), "127.0.0.1", args.port)
    await server.start()
    await asyncio.Event().wait()  # until the benchmark terminates this process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--api-base-url", required=True)
    run_on_server_loop(serve(parser.parse_args()))  # the loop `teambeat run` uses


if __name__ == "__main__":
    main()

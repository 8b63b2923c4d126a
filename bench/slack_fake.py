"""The fake Slack Web API (tests/fakes/slack.py) in a process of its own, for benchmarks of `teambeat run`.

In its own process so that its work does not slow the load generator down, nor the other way round.
`GET /_bench/counts` says how many calls of each method (and response_url answers) it accepted;
`GET /_bench/answers` when each response_url answer arrived (wall clock), by the hook's name;
`GET /_bench/posts` each chat.postMessage accepted, as [channel, when].

Run: python -m bench.slack_fake --port P --team T --token xoxb-… --channel C[,C2,…] [--users U1,U2,…]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.web.serve import WebServer
from tests.fakes.slack import FakeSlack, Workspace


def build(team: str, token: str, channel: str, users: list[str]) -> FakeSlack:
    workspace = Workspace(team, token, channels=set(channel.split(",")))
    for user in users:
        workspace.add_user(user, f"User{user}")
    return FakeSlack([workspace])


def counts_route(fake: FakeSlack) -> Route:
    async def counts(request: Request) -> JSONResponse:
        accepted = Counter(call.method for call in fake.calls if call.ok)
        failed = Counter(call.method for call in fake.calls if not call.ok)
        return JSONResponse(
            {"accepted": dict(accepted), "failed": dict(failed), "response_url": len(fake.responses)}
        )

    return Route("/_bench/counts", counts, methods=["GET"])


def posts_route(fake: FakeSlack) -> Route:
    async def posts(request: Request) -> JSONResponse:
        sent = [[c.args.get("channel"), c.at] for c in fake.calls if c.ok and c.method == "chat.postMessage"]
        return JSONResponse(sent)

    return Route("/_bench/posts", posts, methods=["GET"])


class AnswerTimes:
    """Notes when each response_url answer arrived (the bot's reply latency is measured against it)."""

    PREFIX = "/hooks/commands/"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.arrived: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(self.PREFIX):
            self.arrived.setdefault(path.removeprefix(self.PREFIX), []).append(time.time())
        await self.app(scope, receive, send)

    def route(self) -> Route:
        async def answers(request: Request) -> JSONResponse:
            return JSONResponse(self.arrived)

        return Route("/_bench/answers", answers, methods=["GET"])


async def serve(args: argparse.Namespace) -> None:
    fake = build(args.team, args.token, args.channel, [u for u in args.users.split(",") if u])
    app = fake.app()
    app.router.routes.append(counts_route(fake))
    app.router.routes.append(posts_route(fake))
    timed = AnswerTimes(app)
    app.router.routes.append(timed.route())
    server = WebServer(timed, "127.0.0.1", args.port)
    await server.start()
    await asyncio.Event().wait()  # until the benchmark terminates this process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--team", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--users", default="")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()

"""The fake Slack Web API (tests/fakes/slack.py) in a process of its own, for benchmarks of `teambeat run`.

In its own process so that its work does not slow the load generator down, nor the other way round.
`GET /_bench/counts` says how many calls of each method (and response_url answers) it accepted.

Run: python -m bench.slack_fake --port P --team T --token xoxb-… --channel C [--users U1,U2,…]
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.web.serve import WebServer
from tests.fakes.slack import FakeSlack, Workspace


def build(team: str, token: str, channel: str, users: list[str]) -> FakeSlack:
    workspace = Workspace(team, token, channels={channel})
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


async def serve(args: argparse.Namespace) -> None:
    fake = build(args.team, args.token, args.channel, [u for u in args.users.split(",") if u])
    app = fake.app()
    app.router.routes.append(counts_route(fake))
    server = WebServer(app, "127.0.0.1", args.port)
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

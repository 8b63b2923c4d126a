"""The other processes of the P2 benchmark: the fake platforms and the bare baseline endpoints.

Each runs in a process of its own (`python -m bench.p2_servers ROLE PORT [FAKE_URL]`) so that neither
shares a core's event loop with the load generator, exactly like `teambeat run`:

- `fake-dingtalk`: tests/fakes' FakeDingTalk (token, OpenAPI group posts for the 喜报…) plus a
  `sendBySession` endpoint that stamps each reply's arrival with time.monotonic() (the same clock in
  every process on Linux) and `GET /bench/replies` to read the stamps back.
- `fake-wecom`: tests/fakes' FakeWeCom (token, message/send, the team's group robot).
- `base-dingtalk`: checks `timestamp`/`sign`, parses the JSON and answers 200 — the floor of what the
  DingTalk adapter must do before its answer (the command and its reply come after).
- `base-wecom`: checks `msg_signature`, decrypts, parses the XML and answers with an encrypted passive
  reply of a fixed text — the floor of what the WeCom adapter must do.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import signal
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from adapters.cli import run_on_server_loop
from adapters.web.serve import WebServer

BASELINE_REPLY = "本月排行（金额）\n" + "\n".join(
    f"{n}. 成员{n:03d}  ¥{(11 - n) * 12800:,}" for n in range(1, 11)
)
"""What the baselines answer: about the size of a `/排行 本月` reply."""


def healthz(request: Request) -> Response:
    return Response(b"ok")


def fake_dingtalk() -> Starlette:
    from bot.clock import SystemClock
    from tests.fakes.dingtalk import EAST, FakeDingTalk

    fake = FakeDingTalk(SystemClock(), conversations={EAST})
    arrivals: dict[str, tuple[float, str]] = {}

    async def session_send(request: Request) -> JSONResponse:
        arrived = time.monotonic()
        body = json.loads(await request.body())
        session = request.query_params.get("session", "")
        if not session or body.get("msgtype") not in ("text", "markdown"):
            return JSONResponse({"errcode": 300001, "errmsg": "session is not exist"})
        text = body.get("markdown", {}).get("text") or body.get("text", {}).get("content", "")
        arrivals.setdefault(session, (arrived, text))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def replies(request: Request) -> JSONResponse:
        prefix = request.query_params.get("prefix", "")
        return JSONResponse({k: v for k, v in arrivals.items() if k.startswith(prefix)})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/bench/replies", replies),
            Route("/robot/sendBySession", session_send, methods=["POST"]),
            Mount("/", fake.asgi()),
        ]
    )


def fake_wecom(members: int) -> Starlette:
    from bench.p2_callbacks import member_ids
    from bot.clock import SystemClock
    from tests.fakes.wecom import AGENT_ID, CORP_ID, ROBOT_KEY, SECRET, FakeWeCom

    users = {member: member for member in member_ids(members)}
    fake = FakeWeCom(SystemClock(), CORP_ID, SECRET, AGENT_ID, users=users, robot_keys={ROBOT_KEY})
    return Starlette(routes=[Route("/healthz", healthz), Mount("/", fake.asgi())])


def base_dingtalk() -> Starlette:
    from tests.fakes.dingtalk import APP_SECRET

    async def callback(request: Request) -> JSONResponse:
        timestamp, sign = request.headers.get("timestamp", ""), request.headers.get("sign", "")
        message = f"{timestamp}\n{APP_SECRET}".encode()
        expected = base64.b64encode(hmac.new(APP_SECRET.encode(), message, hashlib.sha256).digest())
        if abs(time.time() * 1000 - int(timestamp or 0)) > 3_600_000 or not hmac.compare_digest(
            expected, sign.encode()
        ):
            return JSONResponse({"error": "bad_signature"}, status_code=401)
        payload = json.loads(await request.body())
        if not payload.get("msgId"):
            return JSONResponse({"error": "not_a_message"}, status_code=400)
        return JSONResponse({"status": "accepted"})

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/dingtalk/callback", callback, methods=["POST"])]
    )


def base_wecom() -> Starlette:
    from datetime import UTC, datetime

    from adapters.wecom.callback import passive_text_reply
    from adapters.wecom.crypto import CallbackRejected, WeComCrypto
    from adapters.wecom.payload import parse_xml
    from tests.fakes.wecom import AES_KEY, CORP_ID, TOKEN

    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)

    async def callback(request: Request) -> Response:
        query = request.query_params
        try:
            encrypt = parse_xml(await request.body())["Encrypt"]
            plain = crypto.decrypt_message(
                query["msg_signature"], query["timestamp"], query["nonce"], encrypt
            )
        except CallbackRejected as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        user = parse_xml(plain)["FromUserName"]
        answer = passive_text_reply(crypto, user, BASELINE_REPLY, datetime.now(UTC))
        return Response(answer, media_type="application/xml")

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/wecom/callback", callback, methods=["POST"])]
    )


async def serve(args: argparse.Namespace) -> None:
    apps = {
        "fake-dingtalk": fake_dingtalk,
        "fake-wecom": lambda: fake_wecom(args.members),
        "base-dingtalk": base_dingtalk,
        "base-wecom": base_wecom,
    }
    server = WebServer(apps[args.role](), "127.0.0.1", args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["fake-dingtalk", "fake-wecom", "base-dingtalk", "base-wecom"])
    parser.add_argument("port", type=int)
    parser.add_argument("--members", type=int, default=200, help="members the fake knows (fake-wecom)")
    run_on_server_loop(serve(parser.parse_args()))  # the loop `teambeat run` uses


if __name__ == "__main__":
    main()

"""HTTP mode: `POST /dingtalk/callback`, the robot's message callback.

The `timestamp` and `sign` headers are checked against the app secret within one hour (401 otherwise,
before the body is even parsed, so nothing is recorded); a body that is not a robot message is a 400 with
the reason. A good message is answered 200 at once (once there is room, in a burst); the command runs
after, and its reply goes back through the message's sessionWebhook.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.dingtalk.inbound import NotAMessage
from adapters.dingtalk.sign import callback_problem

log = logging.getLogger(__name__)
PATH = "/dingtalk/callback"

Accept = Callable[[Mapping[str, Any]], Awaitable[None]]
"""Keeps one message for handling after the answer (waiting for room when too many are waiting); raises
NotAMessage for a body that is not one."""


async def json_object(request: Request) -> dict[str, Any] | Response:
    """The body as a JSON object, or the 400 that says it is not one."""
    try:
        payload = json.loads(await request.body())
    except (ValueError, RecursionError):
        return JSONResponse({"error": "not_json", "detail": "the body must be JSON"}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"error": "not_json", "detail": "the body must be a JSON object"}, 400)
    return payload


def callback_route(secret: str, now_ms: Callable[[], int], accept: Accept) -> Route:
    async def callback(request: Request) -> Response:
        problem = callback_problem(
            secret, request.headers.get("timestamp"), request.headers.get("sign"), now_ms()
        )
        if problem:
            return JSONResponse({"error": "bad_signature", "detail": problem}, status_code=401)
        payload = await json_object(request)
        if isinstance(payload, Response):
            return payload
        try:
            await accept(payload)
        except RuntimeError as exc:  # not started yet, or stopping: DingTalk retries later
            return JSONResponse({"error": "unavailable", "detail": str(exc)}, status_code=503)
        except NotAMessage as exc:
            if payload.get("msgtype") not in (None, "text", "richText"):
                return JSONResponse({"status": "ignored", "detail": str(exc)})  # a picture: nothing to do
            return JSONResponse({"error": "not_a_message", "detail": str(exc)}, status_code=400)
        except SQLAlchemyError as exc:  # not kept, so not acknowledged: DingTalk sends it again
            log.warning("dingtalk: could not keep a message: %s", exc)
            detail = "the message could not be stored; send it again"
            return JSONResponse({"error": "unavailable", "detail": detail}, status_code=503)
        return JSONResponse({"status": "accepted"})

    return Route(PATH, callback, methods=["POST"])

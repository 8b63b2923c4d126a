"""HTTP mode: `POST /dingtalk/card`, where DingTalk reports clicks on our interactive cards.

The URL is registered with `POST /v1.0/card/callbacks/register {callbackRouteKey, callbackUrl, apiSecret}`
(README), and each callback is signed with that apiSecret: `x-ddpaas-signature-timestamp` (ms) and
`x-ddpaas-signature` = base64(HMAC-SHA256(apiSecret, timestamp)), checked within one hour (sign.py).
The signature does not cover the body, so the body is checked too: a card we never sent, or one sent in
another organisation, is as foreign as a bad signature. Every refusal is a 401 before anything is kept;
a good click is kept as a job (adapters/intake.py) and answered 200 at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.dingtalk.callback import json_object
from adapters.dingtalk.cards import NotAClick
from adapters.dingtalk.sign import CARD_SIGNATURE_HEADER, CARD_TIMESTAMP_HEADER, card_problem

log = logging.getLogger(__name__)
PATH = "/dingtalk/card"


class ForeignCard(ValueError):
    """A click on a card that is not ours (never sent, or sent in another organisation)."""


AcceptClick = Callable[[Mapping[str, Any]], Awaitable[None]]
"""Keeps one click for handling after the answer; raises NotAClick or ForeignCard."""


def card_route(secret: str, now_ms: Callable[[], int], accept: AcceptClick) -> Route:
    async def callback(request: Request) -> Response:
        problem = card_problem(
            secret,
            request.headers.get(CARD_TIMESTAMP_HEADER),
            request.headers.get(CARD_SIGNATURE_HEADER),
            now_ms(),
        )
        if problem:
            return JSONResponse({"error": "bad_signature", "detail": problem}, status_code=401)
        payload = await json_object(request)
        if isinstance(payload, Response):
            return payload
        try:
            await accept(payload)
        except ForeignCard as exc:
            return JSONResponse({"error": "foreign_card", "detail": str(exc)}, status_code=401)
        except NotAClick as exc:
            return JSONResponse({"error": "not_a_click", "detail": str(exc)}, status_code=400)
        except RuntimeError as exc:  # not started yet, or stopping: DingTalk retries later
            return JSONResponse({"error": "unavailable", "detail": str(exc)}, status_code=503)
        except SQLAlchemyError as exc:
            log.warning("dingtalk: could not keep a card click: %s", exc)
            detail = "the click could not be stored; send it again"
            return JSONResponse({"error": "unavailable", "detail": detail}, status_code=503)
        return JSONResponse({"status": "accepted"})

    return Route(PATH, callback, methods=["POST"])

"""`POST /hooks/deals`: the signature, the JSON and the status codes; the rules live in deal_intake.

Answers (product.md): 202 recorded, 200 duplicate or void, 400 not JSON, 401 bad or stale signature,
413 too large (the server's BodyLimit), 422 with every invalid field. The deal and its announcement are
committed (marked for the announcement queue) before any 2xx leaves, so nothing acknowledged can be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.web.timestamps import parse_timestamp
from bot.app import App
from bot.services import deal_intake
from bot.storage.db import is_postgres

log = logging.getLogger(__name__)

PATH = "/hooks/deals"
TIMESTAMP_HEADER = "X-Teambeat-Timestamp"
SIGNATURE_HEADER = "X-Teambeat-Signature"
SIGNATURE_VERSION = "v1="
WINDOW_SECONDS = 300
_STATUS_OF = {"recorded": 202, "duplicate": 200, "voided": 200, "already_void": 200}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Teambeat-Signature` value for a body: what senders compute, and what we compare against."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_VERSION + digest


def signature_problem(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> str:
    """Why a request's signature is refused, or "" when it is good."""
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
    sent_at = parse_timestamp(timestamp)
    if sent_at is None:
        return f"{TIMESTAMP_HEADER} must be unix seconds (ASCII digits)"
    if abs(now - sent_at) > WINDOW_SECONDS:
        return f"{TIMESTAMP_HEADER} is more than {WINDOW_SECONDS} s from the server's clock"
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return f"{SIGNATURE_HEADER} does not match the body"
    return ""


def deal_hook_routes(app: App, on_enqueued: Callable[[], None] = lambda: None) -> list[BaseRoute]:
    """The webhook route, or none when `[hooks] deals_secret` is unset (an unsigned door stays shut)."""
    secret = app.config.hooks.deals_secret
    if not secret:
        return []
    rules = deal_intake.IntakeRules(max_amount=app.config.bot.max_amount)
    # SQLite has one writer at a time and lets waiting writers poll for the lock, unfairly: in a burst
    # some wait past the busy timeout. Queueing this process's webhook transactions in FIFO order keeps
    # every wait short; PostgreSQL locks rows, not the database, and needs no queue.
    queue: contextlib.AbstractAsyncContextManager[object] = (
        contextlib.nullcontext() if is_postgres(app.engine) else asyncio.Lock()
    )

    async def deals_hook(request: Request) -> Response:
        body = await request.body()
        problem = signature_problem(
            secret,
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            app.clock.now().timestamp(),
        )
        if problem:
            return _error(401, "bad_signature", problem)
        try:
            data = json.loads(body, parse_float=Decimal, parse_int=_json_int, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return _error(400, "not_json", "the body must be a UTF-8 JSON object")
        if not isinstance(data, dict):
            return _error(400, "not_json", "the body must be a JSON object, not an array or a value")
        try:
            async with queue:
                result = await deal_intake.submit(app.uow_factory, data, app.clock.now(), rules)
        except deal_intake.InvalidDeal as invalid:
            return JSONResponse(
                {"error": "invalid_fields", "fields": [e.as_dict() for e in invalid.errors]},
                status_code=422,
            )
        except OperationalError as exc:  # the database is locked or down: nothing stored, try later
            log.warning("deal webhook: database unavailable: %s", exc)
            return _error(503, "unavailable", "the database is unavailable; retry later", retry_after=1)
        on_enqueued()
        return JSONResponse(
            {"status": result.outcome, "deal": result.deal_id, "announced": result.announced},
            status_code=_STATUS_OF[result.outcome],
        )

    return [Route(PATH, deals_hook, methods=["POST"])]


def _json_int(digits: str) -> int | Decimal:
    """An integer, or a Decimal past Python's int-conversion limit: still a number, so the field it
    is in gets its own 422 (an amount "too_large") instead of the whole body being called not JSON."""
    try:
        return int(digits)
    except ValueError:
        return Decimal(digits)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _error(status: int, code: str, detail: str, *, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)

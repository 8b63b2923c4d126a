"""Which DingTalk failures are worth trying again, and after how long.

OpenAPI (api.dingtalk.com) answers errors with an HTTP status (mostly 400) and a string `code`; the robot
endpoints (oapi robot/send, a sessionWebhook) answer HTTP 200 with a numeric `errcode`. A wrong guess
either way is costly: retrying a permanent error wastes the robot's 20 messages a minute, and giving up on
a transient one loses a 喜报.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.ports import DeliveryError

RATE_LIMIT_RETRY_SECONDS = 60.0
ROBOT_BLOCK_SECONDS = 600.0  # over 20 messages a minute, DingTalk blocks a robot for 10 minutes

TOKEN_CODES = frozenset({"invalidauthentication", "invalidaccesstoken", "accesstokenexpired", "unauthorized"})
_THROTTLED = re.compile(r"throttl|qpslimit|ratelimit|flowcontrol|limitexceeded|toomanyrequests", re.I)
_SERVER_SIDE = re.compile(r"systemerror|system\.error|internalerror|serviceunavailable|timeout|busy", re.I)

ROBOT_RATE_LIMITED = 130101  # 发送速度太快而限流: the robot is blocked for 10 minutes
ROBOT_TOO_FAST = 410100  # 发送速度太快而限流 (short-term)
ROBOT_BUSY = -1  # 系统繁忙
_ROBOT_TRANSIENT = {ROBOT_RATE_LIMITED: ROBOT_BLOCK_SECONDS, ROBOT_TOO_FAST: RATE_LIMIT_RETRY_SECONDS}


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failure; `token_expired` asks the caller to refresh the token once and retry."""

    reason: str
    transient: bool
    retry_after: float | None = None
    token_expired: bool = False

    def error(self) -> DeliveryError:
        return DeliveryError(self.reason, transient=self.transient, retry_after=self.retry_after)


def _retry_after(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def classify_openapi(status: int, body: Any, retry_after_header: str | None = None) -> Failure:
    """An api.dingtalk.com error answer (`{"code", "message"}` with a 4xx/5xx status)."""
    data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    code = str(data.get("code") or "")
    reason = f"HTTP {status} {code}: {data.get('message') or ''}".strip().rstrip(":")
    retry_after = _retry_after(retry_after_header)
    if code.lower() in TOKEN_CODES or status == 401:
        return Failure(reason, transient=True, token_expired=True)
    if status == 429 or _THROTTLED.search(code):
        return Failure(reason, transient=True, retry_after=max(retry_after or 0.0, RATE_LIMIT_RETRY_SECONDS))
    if status >= 500 or _SERVER_SIDE.search(code):
        return Failure(reason, transient=True, retry_after=retry_after)
    # 400 parameter errors (unknown robotCode, openConversationId, user), 403 missing permission, 404
    return Failure(reason, transient=False)


def classify_robot(status: int, body: Any, retry_after_header: str | None = None) -> Failure | None:
    """A custom robot or sessionWebhook answer; None when it is a success (`errcode` 0)."""
    if status != 200:
        transient = status == 429 or status >= 500
        retry_after = _retry_after(retry_after_header)
        if status == 429:
            retry_after = max(retry_after or 0.0, RATE_LIMIT_RETRY_SECONDS)
        return Failure(f"HTTP {status}", transient=transient, retry_after=retry_after)
    data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    try:
        errcode = int(data.get("errcode", 0))
    except (TypeError, ValueError):
        return Failure(f"unreadable answer: {str(body)[:200]}", transient=True)
    if errcode == 0:
        return None
    reason = f"errcode {errcode}: {data.get('errmsg') or ''}".strip().rstrip(":")
    if errcode in _ROBOT_TRANSIENT:
        return Failure(reason, transient=True, retry_after=_ROBOT_TRANSIENT[errcode])
    if errcode == ROBOT_BUSY:
        return Failure(reason, transient=True)
    # 310000 sign/keyword/IP check failed, 300001/400101 unknown token, 400102 robot disabled,
    # 400013 group dissolved, 430xxx content refused: retrying cannot help
    return Failure(reason, transient=False)

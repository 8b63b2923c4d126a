"""DingTalk's two signatures: the custom group robot's signed URL and the app robot's HTTP callback.

Both are base64(HMAC-SHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}")); the robot URL carries it
URL-encoded, the callback header carries it as is. Neither covers a body, so the time window is what
keeps a captured signature from being reused for long.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

from adapters.web.timestamps import parse_timestamp

WINDOW_MS = 3_600_000  # DingTalk accepts (and we demand) a timestamp within one hour


def _digest(secret: str, timestamp_ms: int | str) -> str:
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def robot_sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` query parameter of a custom group robot call, already URL-encoded."""
    return quote_plus(_digest(secret, timestamp_ms))


def signed_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """The robot's webhook with `timestamp` and `sign` added (unchanged when the robot has no secret)."""
    if not secret:
        return webhook
    joiner = "&" if "?" in webhook else "?"
    return f"{webhook}{joiner}timestamp={timestamp_ms}&sign={robot_sign(secret, timestamp_ms)}"


def callback_sign(secret: str, timestamp_ms: int | str) -> str:
    """The `sign` header DingTalk sends with an HTTP-mode robot callback (not URL-encoded)."""
    return _digest(secret, timestamp_ms)


def callback_problem(secret: str, timestamp: str | None, sign: str | None, now_ms: int) -> str:
    """Why a callback's `timestamp`/`sign` headers are refused, or "" when they are good."""
    if not secret:
        return "no app_secret is configured, so no callback can be verified"
    if not timestamp or not sign:
        return "missing timestamp or sign header"
    sent_at = parse_timestamp(timestamp)
    if sent_at is None:
        return "timestamp must be milliseconds since the epoch (ASCII digits)"
    if abs(now_ms - sent_at) > WINDOW_MS:
        return "timestamp is more than an hour from the server's clock"
    expected = callback_sign(secret, timestamp)
    if not hmac.compare_digest(expected.encode(), sign.strip().encode()):
        return "sign does not match"
    return ""


# The interactive card's HTTP callback (`POST /dingtalk/card`) is signed differently: headers
# `x-ddpaas-signature-timestamp` (ms) and `x-ddpaas-signature` = base64(HMAC-SHA256(key=apiSecret,
# msg=timestamp)), apiSecret being the one given to `/v1.0/card/callbacks/register`.
CARD_TIMESTAMP_HEADER = "x-ddpaas-signature-timestamp"
CARD_SIGNATURE_HEADER = "x-ddpaas-signature"


def card_sign(secret: str, timestamp_ms: int | str) -> str:
    digest = hmac.new(secret.encode(), str(timestamp_ms).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def card_problem(secret: str, timestamp: str | None, sign: str | None, now_ms: int) -> str:
    """Why a card callback's signature headers are refused, or "" when they are good."""
    if not secret:
        return "no [dingtalk] card_secret is configured, so no card callback can be verified"
    if not timestamp or not sign:
        return f"missing {CARD_TIMESTAMP_HEADER} or {CARD_SIGNATURE_HEADER} header"
    sent_at = parse_timestamp(timestamp)
    if sent_at is None:
        return "the timestamp must be milliseconds since the epoch (ASCII digits)"
    if abs(now_ms - sent_at) > WINDOW_MS:
        return "the timestamp is more than an hour from the server's clock"
    if not hmac.compare_digest(card_sign(secret, timestamp).encode(), sign.strip().encode()):
        return "the signature does not match"
    return ""

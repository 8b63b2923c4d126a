"""GET|POST /wecom/callback, checked before anything is recorded: query, freshness, size, XML, signature,
ciphertext and receive id — each failure a CallbackRejected with its own 4xx, never a 500.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime

from adapters.web.timestamps import parse_timestamp
from adapters.wecom.crypto import CallbackRejected, WeComCrypto
from adapters.wecom.payload import MAX_XML_BYTES, UnsafeXml, encrypted_envelope, parse_xml, text_reply

MAX_SKEW_SECONDS = 300
MAX_ECHOSTR = 4096


class StaleRequest(CallbackRejected):
    """A timestamp far from our clock: a replay, or a clock that needs fixing (both refused)."""

    status = 401


class TooLarge(CallbackRejected):
    status = 413


class NotConfigured(CallbackRejected):
    status = 404


class MissingSignature(CallbackRejected):
    """No signature at all is as unauthenticated as a wrong one: 401, like every other endpoint."""

    status = 401


SIGNATURE_PARAMETERS = ("msg_signature", "timestamp", "nonce")


def _params(query: Mapping[str, str], *names: str) -> list[str]:
    values = []
    for name in names:
        value = query.get(name, "")
        if not value and name in SIGNATURE_PARAMETERS:
            raise MissingSignature("missing_signature", f"missing query parameter {name}: unsigned request")
        if not value:
            raise CallbackRejected("missing_parameter", f"missing query parameter {name}")
        values.append(value)
    return values


def _check_fresh(timestamp: str, now: datetime) -> None:
    sent_at = parse_timestamp(timestamp)
    if sent_at is None:
        raise CallbackRejected("bad_timestamp", "timestamp must be unix seconds (ASCII digits)")
    if abs(now.timestamp() - sent_at) > MAX_SKEW_SECONDS:
        raise StaleRequest("stale_timestamp", f"timestamp more than {MAX_SKEW_SECONDS} s from now")


def verify_url(crypto: WeComCrypto | None, query: Mapping[str, str], now: datetime) -> bytes:
    """URL verification: the decrypted echostr, to be answered byte for byte."""
    if crypto is None:
        raise NotConfigured("not_configured", "[wecom] token and encoding_aes_key are not set")
    signature, timestamp, nonce, echostr = _params(query, "msg_signature", "timestamp", "nonce", "echostr")
    if len(echostr) > MAX_ECHOSTR:
        raise CallbackRejected("bad_echostr", "echostr too long")
    _check_fresh(timestamp, now)
    # A '+' sent unencoded arrives as a space; base64 never contains spaces.
    return crypto.verify_url(signature, timestamp, nonce, echostr.replace(" ", "+"))


def open_message(
    crypto: WeComCrypto | None, query: Mapping[str, str], body: bytes, now: datetime
) -> dict[str, str]:
    """The decrypted message's fields, once everything about the request has been checked."""
    if crypto is None:
        raise NotConfigured("not_configured", "[wecom] token and encoding_aes_key are not set")
    signature, timestamp, nonce = _params(query, "msg_signature", "timestamp", "nonce")
    _check_fresh(timestamp, now)
    if len(body) > MAX_XML_BYTES:
        raise TooLarge("body_too_large", f"WeCom callbacks are limited to {MAX_XML_BYTES} bytes")
    try:
        outer = parse_xml(body)
    except UnsafeXml as exc:
        raise CallbackRejected("bad_xml", str(exc)) from None
    encrypt = outer.get("Encrypt", "").strip()
    if not encrypt:
        raise CallbackRejected("missing_encrypt", "no <Encrypt> in the body")
    plain = crypto.decrypt_message(signature, timestamp, nonce, encrypt)
    try:
        return parse_xml(plain)
    except UnsafeXml as exc:
        raise CallbackRejected("bad_xml", f"decrypted message: {exc}") from None


def passive_text_reply(crypto: WeComCrypto, to_user: str, content: str, now: datetime) -> str:
    """An encrypted passive reply carrying one text message to the member who wrote."""
    timestamp = str(int(now.timestamp()))
    nonce = str(secrets.randbelow(10**10))
    plain = text_reply(to_user, crypto.receive_id, int(timestamp), content)
    encrypt = crypto.encrypt(plain.encode("utf-8"))
    return encrypted_envelope(encrypt, crypto.sign(timestamp, nonce, encrypt), timestamp, nonce)

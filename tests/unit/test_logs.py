"""`teambeat`'s log lines: a connection failing (and retried) is one line; a bug keeps its traceback."""

from __future__ import annotations

import logging
import sys

import httpx
from sqlalchemy.exc import OperationalError

from adapters.logs import OneLineFormatter, is_connection_trouble

FORMAT = OneLineFormatter("%(levelname)s %(name)s: %(message)s")


def logged(name: str, message: str, exc: BaseException, *args: object) -> str:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, info)
    return FORMAT.format(record)


def test_our_retry_loop_losing_the_database_is_one_line():
    lost = OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))
    line = logged("bot.delivery.worker", "could not claim outbox rows; retrying every %ss", lost, 1.0)
    assert "\n" not in line
    assert line.startswith("ERROR bot.delivery.worker: could not claim outbox rows; retrying every 1.0s: ")
    assert "OperationalError" in line and "Connection refused" in line


def test_an_sdk_retrying_is_one_line_and_says_the_reason_once():
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
    line = logged("slack_bolt.teambeat", "Failed to connect (error: %s); Retrying...", refused, refused)
    assert line == f"ERROR slack_bolt.teambeat: Failed to connect (error: {refused}); Retrying..."
    other = logged("slack_sdk.socket_mode", "on_message failed", KeyError("type"))
    assert other == "ERROR slack_sdk.socket_mode: on_message failed: KeyError: 'type'"


def test_a_bug_in_our_code_keeps_its_traceback():
    line = logged("adapters.slack.adapter", "handling failed", ValueError("bad"))
    assert "Traceback (most recent call last)" in line and "ValueError: bad" in line


def test_what_counts_as_connection_trouble():
    assert is_connection_trouble(httpx.ConnectError("All connection attempts failed"))
    assert is_connection_trouble(TimeoutError())
    try:
        try:
            raise ConnectionResetError(104, "reset")
        except ConnectionResetError as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as wrapped:
        assert is_connection_trouble(wrapped)
    assert not is_connection_trouble(ValueError("x"))
    assert not is_connection_trouble(KeyError("x"))

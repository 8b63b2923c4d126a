"""How the `teambeat` command logs: one line per event on stderr.

Warnings and errors only, plus the one "ready" line `teambeat run` writes once everything is up. A
connection that fails and is retried is one line each time (what failed and why), not a traceback: the
SDKs (slack_sdk's Socket Mode client, aiohttp, httpx) and our own retry loops log those with the exception
attached. Tracebacks stay for everything else, where they are what a bug report needs.
"""

from __future__ import annotations

import asyncio
import logging
import sys

READY_LOGGER = "teambeat"  # the one INFO line shown: what `teambeat run` runs
OWN_PACKAGES = ("bot", "adapters", "scheduling", READY_LOGGER)
# Exceptions from these packages are about the network or a peer, whatever their class.
NETWORK_PACKAGES = {"aiohttp", "httpx", "httpcore", "websockets"}


def setup_logging() -> None:
    """Like `logging.basicConfig`: nothing when logging is already set up (a host, or pytest)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger(READY_LOGGER).setLevel(logging.INFO)


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or (_own(record.name) and not is_connection_trouble(exc)):
            return super().format(record)
        message = record.getMessage()
        said = " ".join(str(exc).split())
        line = logging.makeLogRecord(
            {
                **record.__dict__,
                "msg": message if said and said in message else f"{message}: {describe(exc)}",
                "args": None,
                "exc_info": None,
                "exc_text": None,
                "stack_info": None,
            }
        )
        return super().format(line)


def describe(exc: BaseException) -> str:
    """`ConnectError: All connection attempts failed` — the class and what it says, on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_connection_trouble(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a network or database connection failing."""
    from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | asyncio.TimeoutError | DisconnectionError):
            return True
        if isinstance(current, OperationalError | InterfaceError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if type(current).__module__.split(".")[0] in NETWORK_PACKAGES:
            return True
        current = current.__cause__ or current.__context__
    return False


def _own(name: str) -> bool:
    return name.split(".")[0] in OWN_PACKAGES

"""Serving an ASGI app (a fake platform, or teambeat's own server) on 127.0.0.1 at a free port for a test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.types import ASGIApp

from adapters.web.serve import WebServer


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT`) while the app is served; stop gracefully after."""
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()

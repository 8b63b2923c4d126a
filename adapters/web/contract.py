"""What an adapter offers the HTTP server: its routes and its health, both optional."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from starlette.routing import BaseRoute


@runtime_checkable
class ServesHttp(Protocol):
    """An adapter that receives callbacks over HTTP (Slack http mode, DingTalk http mode, WeCom)."""

    def routes(self) -> list[BaseRoute]: ...


@runtime_checkable
class ReportsHealth(Protocol):
    """An adapter that can say whether its connection is alive; `ok` False makes /healthz say so."""

    async def health(self) -> dict[str, Any]: ...

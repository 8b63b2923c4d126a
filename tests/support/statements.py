"""The SQL an engine runs while a block is open, for tests that count statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextmanager
def statements_run(engine: AsyncEngine, keep: Callable[[str], bool]) -> Iterator[list[str]]:
    """The statements `keep` accepts, in the order the engine runs them inside the block."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if keep(statement):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


def statements_starting(engine: AsyncEngine, prefix: str) -> AbstractContextManager[list[str]]:
    """The statements starting with `prefix` (upper case) that the engine runs inside the block."""
    return statements_run(engine, lambda statement: statement.lstrip().upper().startswith(prefix))

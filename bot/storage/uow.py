"""Unit of work: one transaction per command or job, plus the domain events that transaction produced.

Events are only worth publishing if the change that caused them was committed, so they are collected
here and handed out (`committed_events`) after a successful commit. `before_commit` hooks run inside the
transaction, which is how the announcer writes outbox rows atomically with their cause; `after_commit`
hooks see what was committed (the announcement queue wakes when a deal to announce was recorded).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

BeforeCommitHook = Callable[["UnitOfWork"], Awaitable[None]]
AfterCommitHook = Callable[[list[object]], None]


OUTBOX_ENQUEUED = "teambeat.outbox_enqueued"
"""`session.info` key holding the destinations the transaction added outbox rows for: the unit of work
rings `on_outbox` with them after it commits, so the delivery worker looks for work only when there is
some it may send."""

OutboxBell = Callable[[frozenset[str]], None]
"""Told, after a commit, which destinations got new outbox rows."""


def mark_enqueued(session: AsyncSession, destination: str) -> None:
    session.info.setdefault(OUTBOX_ENQUEUED, set()).add(destination)


class UnitOfWork:
    """`async with UnitOfWork(sessionmaker) as uow: …; await uow.commit()`.

    Leaving the block without committing, or with an exception, rolls back. `commit()` may be called
    more than once (a job committing in batches); each commit runs the hooks and moves the pending
    `events` to `committed_events`. A failed commit rolls back and drops the pending events.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        before_commit: Iterable[BeforeCommitHook] = (),
        after_commit: Iterable[AfterCommitHook] = (),
        on_outbox: Iterable[OutboxBell] = (),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._entered = False
        self.events: list[object] = []
        self.committed_events: list[object] = []
        self.before_commit: list[BeforeCommitHook] = list(before_commit)
        self.after_commit: list[AfterCommitHook] = list(after_commit)
        self.on_outbox: list[OutboxBell] = list(on_outbox)
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork.session is only available inside `async with`")
        return self._session

    def add_event(self, event: object) -> None:
        """Record a domain event, published only if the transaction commits."""
        self.events.append(event)

    async def commit(self) -> None:
        """Flush, run the before-commit hooks in order, commit; roll everything back if any step fails."""
        session = self.session
        try:
            await session.flush()
            for hook in list(self.before_commit):
                await hook(self)
            await session.commit()
        except BaseException:
            await self.rollback()
            raise
        destinations = session.info.pop(OUTBOX_ENQUEUED, None)
        if destinations:
            for ring in self.on_outbox:
                ring(frozenset(destinations))
        committed = list(self.events)
        self.committed_events.extend(committed)
        self.events.clear()
        self.committed = True
        for notify in self.after_commit:
            notify(committed)

    async def rollback(self) -> None:
        """Undo everything since the last commit and forget the events it produced."""
        self.events.clear()
        self.session.info.pop(OUTBOX_ENQUEUED, None)
        await self.session.rollback()

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("a UnitOfWork is single-use: make a new one from the factory")
        self._entered = True
        self._session = self._sessionmaker()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            # Whatever was not committed never happened, whether the block raised or just ended.
            self.events.clear()
            session.info.pop(OUTBOX_ENQUEUED, None)
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None


class UnitOfWorkFactory:
    """Makes fresh units of work; services receive this instead of a session or an engine.

    Hooks given here (e.g. the announcer's outbox writer) are installed on every unit of work it makes.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        before_commit: Iterable[BeforeCommitHook] = (),
        after_commit: Iterable[AfterCommitHook] = (),
        on_outbox: Iterable[OutboxBell] = (),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.before_commit: list[BeforeCommitHook] = list(before_commit)
        self.after_commit: list[AfterCommitHook] = list(after_commit)
        self.on_outbox: list[OutboxBell] = list(on_outbox)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(
            self.sessionmaker,
            before_commit=self.before_commit,
            after_commit=self.after_commit,
            on_outbox=self.on_outbox,
        )

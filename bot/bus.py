"""The message bus: one table of domain events → handlers (cosmicpython's `EVENT_HANDLERS`).

The bus is a before-commit hook of every unit of work: each event the transaction raised goes to its
handlers inside that transaction, so whatever they write (a post in the outbox, a job) commits or rolls
back with its cause. Handlers that are slow (a deal's dozen boards) only queue a job here; the job
worker does the work after the commit (`bot.deal_announcements`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot.announcer import Announcer
from bot.clock import Clock
from bot.domain.events import CheckinCompleted, DealRecorded, DealVoided, KudosGiven
from bot.jobs import queue
from bot.jobs.kinds import ANNOUNCE_DEAL, announce_key
from bot.storage.uow import UnitOfWork

EventHandler = Callable[[UnitOfWork, Any], Awaitable[None]]


def event_handlers(announcer: Announcer, clock: Clock) -> dict[type, Sequence[EventHandler]]:
    async def queue_announcement(uow: UnitOfWork, event: DealRecorded) -> None:
        if event.announce:
            await queue.enqueue(
                uow.session,
                ANNOUNCE_DEAL,
                {"deal_id": event.deal_id},
                now=clock.now(),
                team_id=event.team_id,
                key=announce_key(event.deal_id),
            )

    return {
        DealRecorded: [queue_announcement],
        DealVoided: [announcer.void],
        KudosGiven: [announcer.kudos],
        CheckinCompleted: [announcer.checkin],
    }


class MessageBus:
    """A before-commit hook: hands each pending event of the unit of work to its handlers, in order."""

    def __init__(self, handlers: Mapping[type, Sequence[EventHandler]]) -> None:
        self._handlers = handlers

    async def __call__(self, uow: UnitOfWork) -> None:
        for event in list(uow.events):
            for handler in self._handlers.get(type(event), ()):
                await handler(uow, event)

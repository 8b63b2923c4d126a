"""Folding identical DMs into `oToMessages/batchSend` calls of at most 20 users.

The delivery worker sends one outbox row per call, many destinations at once. Check-in prompts and
reminders are the same text for everyone, so DMs with the same `msgParam` that arrive within a short
window share one API call; each caller still gets its own outcome (sent, invalid user, flow-controlled).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from adapters.dingtalk.client import MAX_BATCH_USERS, BatchOutcome
from adapters.dingtalk.errors import RATE_LIMIT_RETRY_SECONDS
from bot.ports import DeliveryError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 0.05

SendBatch = Callable[[Sequence[str], str], Awaitable[BatchOutcome]]


@dataclass
class _Batch:
    msg_param: str
    waiters: dict[str, asyncio.Future[str]] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None


class DmBatcher:
    def __init__(
        self, send_batch: SendBatch, *, window: float = WINDOW_SECONDS, size: int = MAX_BATCH_USERS
    ) -> None:
        self._send_batch = send_batch
        self._window = window
        self._size = size
        self._open: dict[str, _Batch] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def send(self, user_id: str, msg_param: str) -> str:
        """The batch's processQueryKey once DingTalk accepted the DM for `user_id`; DeliveryError else."""
        loop = asyncio.get_running_loop()
        batch = self._open.get(msg_param)
        if batch is not None and user_id in batch.waiters:
            self._flush(batch)  # the same DM twice to one person: two calls, never one merged
            batch = None
        if batch is None:
            batch = _Batch(msg_param)
            batch.timer = loop.call_later(self._window, self._flush, batch)
            self._open[msg_param] = batch
        future: asyncio.Future[str] = loop.create_future()
        batch.waiters[user_id] = future
        if len(batch.waiters) >= self._size:
            self._flush(batch)
        return await future

    def _flush(self, batch: _Batch) -> None:
        if self._open.get(batch.msg_param) is batch:
            del self._open[batch.msg_param]
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
        if not batch.waiters:
            return
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: _Batch) -> None:
        users = list(batch.waiters)
        try:
            outcome = await self._send_batch(users, batch.msg_param)
        except DeliveryError as exc:
            error: DeliveryError = exc
        except Exception as exc:  # an unexpected failure: each row retries
            log.exception("batchSend to %d users failed", len(users))
            error = DeliveryError(f"{type(exc).__name__}: {exc}", transient=True)
        else:
            for user, future in batch.waiters.items():
                if future.done():
                    continue
                if user in outcome.invalid:
                    future.set_exception(
                        DeliveryError(f"DingTalk does not know user {user}", transient=False)
                    )
                elif user in outcome.flow_controlled:
                    future.set_exception(
                        DeliveryError(
                            f"DM to {user} flow-controlled",
                            transient=True,
                            retry_after=RATE_LIMIT_RETRY_SECONDS,
                        )
                    )
                else:
                    future.set_result(outcome.process_query_key)
            return
        for future in batch.waiters.values():
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        """Send what is waiting now and wait for every call in flight."""
        for batch in list(self._open.values()):
            self._flush(batch)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

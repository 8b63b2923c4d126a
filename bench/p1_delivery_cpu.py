"""P1's delivery cost, in process: the CPU and SQL statements the outbox worker spends per post it sends.

Each "deal" queues P1's three channel posts (a 喜报 that may fold into a digest, the day's board edited
in place, a milestone) to one of a few channels, and the real DeliveryWorker sends them at once to an
adapter that answers instantly with Slack's limits. The clock steps so no channel is ever rate-limited,
but every limit check runs. Run:
python -m bench.p1_delivery_cpu [--deals 200] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.common import Report, measure_on, run, scratch_dir
from bot.clock import FixedClock
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, SentMessage, Text
from bot.ports import Capability, ChannelLimits, PartProgress
from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.migrate import upgrade
from bot.storage.orm import OutboxRow
from bot.storage.uow import UnitOfWorkFactory

CHANNELS = ("C1", "C2", "C3")
STEP = timedelta(seconds=1.6)  # per deal: each channel gets 3 posts per 4.8 s, within 60/min, 3 per 3 s
WARM_UP = 20


class InstantSlack:
    """Answers at once, with Slack's per-channel limits and board edits."""

    name = "slack"
    capabilities = Capability.RICH_TEXT | Capability.EDIT
    limits = ChannelLimits(max_message_bytes=40_000, rate_per_minute=60.0, burst=3)

    def __init__(self) -> None:
        self.sent = 0

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    def can_edit(self, to: ChannelRef) -> bool:
        return True

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        self.sent += 1
        return SentMessage(message_id=f"ts{self.sent}", channel=to)

    async def edit(self, to: ChannelRef, message_id: str, msg: OutgoingMessage) -> SentMessage:
        self.sent += 1
        return SentMessage(message_id=message_id, channel=to)


async def digest(session: AsyncSession, rows: list[OutboxRow]) -> OutgoingMessage:
    return post(f"{len(rows)} deals")


def post(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)),), text)


async def queue_deal(uow_factory: UnitOfWorkFactory, i: int, now: datetime) -> int:
    """The posts one deal queues, in one transaction as the announcer does; how many."""
    channel = ChannelRef("slack", "T1", CHANNELS[i % len(CHANNELS)], "group")
    async with uow_factory() as uow:
        s = uow.session
        await enqueue(
            s,
            channel=channel,
            message=post(f"喜报 {i}"),
            dedupe_key=f"deal:{i}",
            now=now,
            fold=("deal", {"amount_minor": 100}),
        )
        await enqueue(
            s,
            channel=channel,
            message=post(f"board {i}"),
            dedupe_key=f"board:{i}",
            now=now,
            board=f"board:{channel.id}",
            quiet=True,
        )
        await enqueue(s, channel=channel, message=post(f"milestone {i}"), dedupe_key=f"ms:{i}", now=now)
        await uow.commit()
    return 3


class Counter:
    """SQL statements and commits through one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = self.commits = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)

    def _statement(self, *args: Any) -> None:
        self.statements += 1

    def _commit(self, *args: Any) -> None:
        self.commits += 1


async def measure(url: str, deals: int, backend: str) -> Report:
    report = Report(f"P1 delivery: CPU and SQL a post sent, in process ({backend})")
    await upgrade(url)
    engine = create_engine(url)
    uow_factory = UnitOfWorkFactory(create_sessionmaker(engine))
    clock = FixedClock(datetime(2026, 11, 23, 2, tzinfo=UTC))
    adapter = InstantSlack()
    worker = DeliveryWorker(uow_factory, {"slack": adapter}, clock, folder=digest)
    counter = Counter(engine)
    try:
        for i in range(WARM_UP):
            await queue_deal(uow_factory, i, clock.now())
            await worker.drain()
            clock.advance(STEP)
        cpu = 0.0
        posts = statements = commits = 0
        for i in range(WARM_UP, WARM_UP + deals):
            posts += await queue_deal(uow_factory, i, clock.now())
            before = (counter.statements, counter.commits)
            started = time.process_time()
            await worker.drain()
            cpu += time.process_time() - started
            statements += counter.statements - before[0]
            commits += counter.commits - before[1]
            clock.advance(STEP)
    finally:
        await engine.dispose()
    report.figure("posts", posts)
    report.figure("sent", adapter.sent)
    report.figure("cpu_ms_per_post", cpu * 1000 / posts)
    report.figure("statements_per_post", statements / posts)
    report.figure("commits_per_post", commits / posts)
    return report


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    folder: Path = scratch_dir()

    async def measured(url: str) -> Report:
        return await measure(url, args.deals, args.backend)

    return await measure_on(args.backend, folder, "delivery", "P1 delivery", measured)


if __name__ == "__main__":
    run(main)

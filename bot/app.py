"""The bootstrap: builds the core (database, renderer, commands, dispatcher, announcer) from a config.

Nothing here runs at import time; adapters and schedules are wired on top of an App by their caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.announcer import Announcer
from bot.bus import MessageBus, event_handlers
from bot.clock import Clock, SystemClock
from bot.commands import build_registry
from bot.commands.context import Core, CoreSettings
from bot.commands.help import HelpCatalog
from bot.config import Config
from bot.deal_announcements import DealAnnouncements
from bot.dispatcher import Dispatcher
from bot.domain.events import DealRecorded
from bot.jobs.kinds import ANNOUNCE_DEAL
from bot.jobs.worker import JobWorker
from bot.metrics import Metrics
from bot.rendering.engine import Renderer
from bot.services.seed import seed_teams
from bot.services.standings import ROSTER_CACHE, RosterCache
from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.migrate import upgrade
from bot.storage.uow import UnitOfWorkFactory
from bot.tv.keys import base_url


@dataclass(slots=True)
class App:
    config: Config
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    uow_factory: UnitOfWorkFactory
    renderer: Renderer
    core: Core
    dispatcher: Dispatcher
    metrics: Metrics
    jobs: JobWorker
    """Runs the jobs table's work: deals' announcements here; `teambeat run` adds the scheduled posts."""

    async def close(self) -> None:
        await self.engine.dispose()


async def build_app(
    config: Config, clock: Clock | None = None, *, migrate: bool = True, pg_schema: str | None = None
) -> App:
    """Open the database (migrating it to head), seed configured teams, and wire the command core."""
    clock = clock or SystemClock()
    if migrate:
        await upgrade(config.database.url, pg_schema=pg_schema)
    engine = create_engine(
        config.database.url,
        pg_schema=pg_schema,
        sqlite_connections=config.database.sqlite_connections,
        sqlite_queue_writers=config.database.sqlite_queue_writers,
    )
    shared = {ROSTER_CACHE: RosterCache()}  # every session of this process
    sessionmaker = create_sessionmaker(engine, shared)
    renderer = Renderer()
    announcer = Announcer(renderer, clock)
    bus = MessageBus(event_handlers(announcer, clock))
    uow_factory = UnitOfWorkFactory(sessionmaker, before_commit=[bus])
    jobs = JobWorker(sessionmaker, clock)
    deal_announcements = DealAnnouncements(uow_factory, announcer)
    # serial: a deal's boards are read as of the deals announced before it, one deal at a time
    jobs.register(ANNOUNCE_DEAL, deal_announcements.run, serial=True, on_parked=deal_announcements.on_parked)
    uow_factory.after_commit.append(
        lambda events: jobs.wake() if any(isinstance(e, DealRecorded) for e in events) else None
    )
    core = Core(
        registry=build_registry(),
        renderer=renderer,
        help=HelpCatalog(),
        settings=CoreSettings(
            max_amount=config.bot.max_amount,
            default_locale=config.bot.default_locale,
            base_url=base_url(config.server),
        ),
    )
    metrics = Metrics()
    dispatcher = Dispatcher(core, uow_factory, clock, metrics)
    if config.teams:
        async with uow_factory() as uow:
            await seed_teams(uow, list(config.teams), clock.now(), images=config.images.enabled)
            await uow.commit()
    return App(
        config,
        clock,
        engine,
        sessionmaker,
        uow_factory,
        renderer,
        core,
        dispatcher,
        metrics,
        jobs,
    )

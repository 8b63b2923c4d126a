"""`teambeat run`: wires the core, the configured adapters, the delivery worker, the scheduler and the
HTTP server, runs them until stdin ends (console) or SIGTERM/SIGINT, then stops them in a safe order.

`--role` splits one bot over several processes sharing a PostgreSQL database (README, "Roles"):
- `all` (default): everything below in one process.
- `web`: the HTTP server and the platforms' inbound connections (Slack Socket Mode, DingTalk Stream);
  it only takes requests in — each a committed `command.<adapter>` job — and works no job.
- `worker`: every job — the commands (answered through the platforms' APIs: Slack response_url and
  chat.postMessage, DingTalk sessionWebhook, WeCom app messages), announcements, scheduled posts — and
  the delivery worker; no inbound connection, no HTTP (with `[server] worker_port` set: /healthz and
  /metrics there, so each worker can be scraped).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
import sys
from collections.abc import Callable
from typing import Literal

from sqlalchemy.engine import make_url

from adapters.console.adapter import ConsoleAdapter
from adapters.console.session import ConsoleSession
from adapters.console.stdin import StdinLines
from adapters.logs import READY_LOGGER
from adapters.web.serve import WebServer
from adapters.web.server import build_health_app, build_web_app
from bot.app import App, build_app
from bot.config import Config, ConfigError, TeamConfig
from bot.delivery.digest import DealDigestFolder
from bot.delivery.worker import DeliveryWorker
from bot.messages import IncomingMessage, OutgoingMessage
from bot.ports import Adapter

log = logging.getLogger(__name__)
Role = Literal["all", "web", "worker"]
ROLE_SHARE = {
    "web": "HTTP and platform connections, taking requests in; every job (commands, schedules, "
    "deliveries, announcements) is left to --role worker",
    "worker": "every job: commands, schedules, deliveries and announcements; no platform routes or "
    "connections",
}
PLATFORM_MODULES = {"slack": "adapters.slack", "dingtalk": "adapters.dingtalk", "wecom": "adapters.wecom"}


def console_team(config: Config) -> TeamConfig | None:
    return next((t for t in config.teams if t.platform == "console"), None)


def platforms_in_use(config: Config) -> list[str]:
    """A platform runs when a configured team lives on it or its credentials are set."""
    used = {team.platform for team in config.teams}
    if config.slack.bot_token or config.slack.oauth:
        used.add("slack")
    if config.dingtalk.app_key:
        used.add("dingtalk")
    if config.wecom.corp_id:
        used.add("wecom")
    return [name for name in PLATFORM_MODULES if name in used]


def build_adapters(app: App) -> dict[str, Adapter]:
    adapters: dict[str, Adapter] = {}
    team = console_team(app.config)
    if team is not None:
        speaker = app.config.console.user or (team.leaders[0] if team.leaders else "")
        adapters["console"] = ConsoleAdapter(
            team.workspace or "default", team.channel or team.id, speaker, app.clock
        )
    for platform in platforms_in_use(app.config):
        module = importlib.import_module(PLATFORM_MODULES[platform])
        adapters[platform] = module.build_adapter(app)
    return adapters


class Runtime:
    """Everything `teambeat run` keeps alive, started and stopped as one."""

    def __init__(self, app: App, adapters: dict[str, Adapter], role: Role = "all") -> None:
        from scheduling import Scheduler

        self.app = app
        self.adapters = adapters
        self.role = role
        self.works = role in ("all", "worker")  # every job: commands, schedules, delivery, announcements
        self.serves = role in ("all", "web")  # HTTP and inbound platform connections
        self.worker = DeliveryWorker.from_config(
            app.uow_factory,
            adapters,
            app.clock,
            app.config.delivery,
            metrics=app.metrics,
            folder=DealDigestFolder(app.renderer),
            images=app.config.images.enabled,
        )
        app.uow_factory.on_outbox.append(self.worker.wake)
        self.scheduler = Scheduler(app, on_enqueued=self.worker.wake, jobs=app.jobs)
        self.web: WebServer | None = None
        self.stopping = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._jobs_task: asyncio.Task[None] | None = None
        self._started: list[Adapter] = []
        self._scheduling = False

    def describe(self) -> str:
        """What runs, for the one "ready" line: adapters, the HTTP address, the scheduler, the database."""
        config = self.app.config
        doors = []
        for name in self.adapters:
            if name == "console":
                team = console_team(config)
                doors.append(f"console (team {team.id if team else '?'})")
            elif name in ("slack", "dingtalk"):
                doors.append(f"{name} ({getattr(config, name).mode} mode)")
            else:
                doors.append(name)
        if self.role != "all":
            doors.insert(0, f"--role {self.role} ({ROLE_SHARE[self.role]})")
        if self.web is not None and not self.serves:
            doors.append(f"/healthz and /metrics on http://{config.server.host}:{self.web.port}")
        elif self.web is not None:
            doors.append(f"HTTP on http://{config.server.host}:{self.web.port}")
        elif self.serves and not config.server.enabled and set(self.adapters) - {"console"}:
            doors.append("no HTTP server ([server] enabled = false: no /healthz, no /metrics)")
        if self.scheduler.leading:
            doors.append("scheduler")
        else:
            doors.append("scheduler on standby (another replica schedules)")
        url = make_url(config.database.url).render_as_string(hide_password=True)
        return "ready: " + ", ".join(doors) + f"; database {url}"

    async def handle(self, message: IncomingMessage) -> OutgoingMessage | None:
        """The sink every adapter feeds (the worker is woken by the commit that queued a post, if any)."""
        return await self.app.dispatcher.handle(message)

    async def start(self) -> None:
        if self.works:
            self._worker_task = asyncio.create_task(self.worker.run_forever(self.stopping))
            self._jobs_task = asyncio.create_task(self.app.jobs.run_forever(self.stopping))
        for adapter in self.adapters.values():
            await adapter.start(self.handle, serve=self.serves, work=self.works)
            self._started.append(adapter)
        if self.works:
            self._scheduling = True
            await self.scheduler.start()
        # /healthz and /metrics whenever this process serves, whatever the platforms' modes.
        if self.serves and self.app.config.server.enabled:
            from adapters.web.deals_hook import deal_hook_routes

            asgi = build_web_app(
                self.app, self.adapters, deal_hook_routes(self.app, on_enqueued=self.worker.wake)
            )
            server = self.app.config.server
            self.web = WebServer(asgi, server.host, server.port)
            await self.web.start()
        elif self.app.config.server.enabled and self.app.config.server.worker_port is not None:
            await self._serve_health()
        # Everything built at start (modules, templates, mappers) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise stall the event loop for tens of ms.
        gc.freeze()

    async def _serve_health(self) -> None:
        """A worker's /healthz and /metrics. A port already taken (another worker on this host) is not
        worth stopping the worker for: it runs on, unscraped, and says so once."""
        server = self.app.config.server
        web = WebServer(build_health_app(self.app), server.host, server.worker_port)
        try:
            await web.start()
        except ConfigError:  # its message says "cannot listen", which reads as fatal: it is not here
            log.warning(
                "--role worker: %s:%s is taken (another worker on this host?): this one serves no "
                "/healthz or /metrics; give each worker its own [server] worker_port to scrape them all",
                server.host,
                server.worker_port,
            )
            return
        self.web = web

    async def stop(self) -> None:
        """Stop accepting requests (finishing those in flight), then schedules, then sends in flight;
        rows not yet sent stay pending for the next start."""
        self.stopping.set()
        if self.web is not None:
            await self.web.stop()
        if self._scheduling:
            await self.scheduler.stop()
        if self._jobs_task is not None:
            await self._jobs_task  # finishes the jobs in hand; the rest wait in the table for the next start
        if self._worker_task is not None:
            await self._worker_task  # its sends in flight use the adapters' clients: before they close
        # Adapters built only to send (a worker, or a start cut short) are stopped too: their clients close.
        for adapter in [
            *reversed(self._started),
            *(a for a in self.adapters.values() if a not in self._started),
        ]:
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping adapter %s", adapter.name)
        await self.app.close()


def _on_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, callback)


async def run(config: Config, role: Role = "all") -> int:
    app = await build_app(config)
    try:
        adapters = build_adapters(app)
    except Exception:
        await app.close()
        raise
    if not adapters:
        await app.close()
        print(
            "nothing to run: configure a team (platform = slack | dingtalk | wecom | console) "
            "or a platform's credentials; `teambeat check-config -c FILE` shows what is missing",
            file=sys.stderr,
        )
        return 1
    console = adapters.get("console")
    if console is not None and role != "all":
        await app.close()
        print(
            f"--role {role}: the console adapter is one terminal and runs only in one process: "
            "use --role all (the default) or take the console team out of the config",
            file=sys.stderr,
        )
        return 1
    runtime = Runtime(app, adapters, role)
    # Before starting: a SIGTERM that comes once the server answers, while the rest still starts,
    # must stop the bot cleanly too, not kill it.
    _on_signals(asyncio.get_running_loop(), runtime.stopping.set)
    try:
        await runtime.start()
    except BaseException:
        await runtime.stop()  # what did start stops (the port was taken, say): then the error is shown
        raise
    logging.getLogger(READY_LOGGER).info(runtime.describe())
    try:
        if isinstance(console, ConsoleAdapter):
            await _console_loop(runtime, console, config)
        else:
            await runtime.stopping.wait()
    finally:
        await runtime.stop()
    return 0


async def _console_loop(runtime: Runtime, console: ConsoleAdapter, config: Config) -> None:
    """Chat lines from stdin; the line's posts are delivered before the next line is read, so a piped
    transcript reads in order (the background worker delivers what webhooks and schedules enqueue)."""
    team = console_team(config)
    assert team is not None
    interactive = sys.stdin.isatty()
    session = ConsoleSession(runtime.app, console, team.id, echo=not interactive, worker=runtime.worker)
    await session.load_names()
    console.names = session.name_of
    if interactive:
        console.print(f"teambeat · {team.name} · /help for commands, /as NAME to switch, Ctrl-D to quit")
    if interactive:
        prompt = lambda: input(f"{session.name_of(console.speaker)}> ") + "\n"  # noqa: E731
        lines = StdinLines(prompt)
    else:
        lines = StdinLines()
    while (line := await lines.next(runtime.stopping)) is not None:
        await session.line(line)
    await session.worker.drain()

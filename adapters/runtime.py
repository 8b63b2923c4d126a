"""`teambeat run`: wires the core, the adapters configured and the delivery worker, then runs them."""

from __future__ import annotations

import sys

from adapters.console.adapter import ConsoleAdapter
from adapters.console.session import ConsoleSession
from bot.app import App, build_app
from bot.config import Config
from bot.ports import Adapter


def console_team(config: Config):
    return next((t for t in config.teams if t.platform == "console"), None)


def build_adapters(app: App) -> dict[str, Adapter]:
    adapters: dict[str, Adapter] = {}
    team = console_team(app.config)
    if team is not None:
        speaker = app.config.console.user or (team.leaders[0] if team.leaders else "")
        adapters["console"] = ConsoleAdapter(
            team.workspace or "default", team.channel or team.id, speaker, app.clock
        )
    return adapters


async def run(config: Config) -> int:
    app = await build_app(config)
    try:
        adapters = build_adapters(app)
        console = adapters.get("console")
        if not isinstance(console, ConsoleAdapter):
            print(
                "no console team configured; platform adapters arrive with their own issues", file=sys.stderr
            )
            return 1
        team = console_team(config)
        interactive = sys.stdin.isatty()
        session = ConsoleSession(app, console, team.id, echo=not interactive)
        await console.start(app.dispatcher.handle)
        await session.load_names()
        console.names = session.name_of
        if interactive:
            console.print(f"teambeat · {team.name} · /help for commands, /as NAME to switch, Ctrl-D to quit")
        while True:
            if interactive:
                prompt = f"{session.name_of(console.speaker)}> "
                try:
                    line = input(prompt)
                except EOFError:
                    break
            else:
                line = sys.stdin.readline()
                if line == "":
                    break
            await session.line(line)
        await console.stop()
        return 0
    finally:
        await app.close()

"""A chat transcript harness: members say things, the bot answers, the channel and DMs show posts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from adapters.console.render import render_console
from bot.app import App, build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.delivery.worker import DeliveryWorker
from bot.messages import ChannelRef, IncomingMessage, OutgoingMessage, SentMessage, UserRef
from bot.ports import Capability, ChannelLimits, PartProgress, UserProfile

TEAM_TOML = """
[[teams]]
id = "{slug}"
name = "{name}"
platform = "console"
workspace = "{workspace}"
channel = "{channel}"
locale = "{locale}"
calendar = "cn"
leaders = ["boss"]
kudos_daily_cap = {cap}

[[teams.groups]]
name = "狼队"
slogan = "狼性出击"
members = ["alice", "dave"]

[[teams.groups]]
name = "虎队"
slogan = "虎虎生威"
members = ["bob", "erin"]

[[teams.groups]]
name = "鹰队"
members = ["carol"]

[[teams.members]]
id = "boss"
name = "Boss"
[[teams.members]]
id = "alice"
name = "alice"
role = "lead"
[[teams.members]]
id = "bob"
name = "bob"
[[teams.members]]
id = "carol"
name = "carol"
[[teams.members]]
id = "dave"
name = "dave"
[[teams.members]]
id = "erin"
name = "erin"
"""


@dataclass
class FakeAdapter:
    """Records every post it is asked to send, rendered as the console would show it."""

    name: str = "console"
    capabilities: Capability = Capability.MENTIONS | Capability.OPEN_DM
    limits: ChannelLimits = field(
        default_factory=lambda: ChannelLimits(max_message_bytes=100_000, rate_per_minute=6000, burst=100)
    )
    sent: list[tuple[ChannelRef, OutgoingMessage]] = field(default_factory=list)

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    async def start(self, sink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        self.sent.append((to, msg))
        return SentMessage(message_id=str(len(self.sent)), channel=to)

    async def open_dm(self, user: UserRef) -> ChannelRef:
        return ChannelRef(user.platform, user.workspace, user.id, "dm")

    async def resolve_user(self, user: UserRef) -> UserProfile:
        return UserProfile(user=user, name=user.id)


def write_config(
    tmp_path: Path, url: str, *, locale: str = "zh-CN", cap: int = 5, extra_teams: str = ""
) -> Path:
    path = tmp_path / "teambeat.toml"
    team = TEAM_TOML.format(
        slug="east", name="华东一部", workspace="W1", channel="C-east", locale=locale, cap=cap
    )
    path.write_text(f'[database]\nurl = "{url}"\n' + team + extra_teams, encoding="utf-8")
    return path


class Chat:
    def __init__(self, app: App, adapter: FakeAdapter, clock: FixedClock, workspace: str = "W1") -> None:
        self.app = app
        self.adapter = adapter
        self.clock = clock
        self.workspace = workspace
        self.worker = DeliveryWorker(app.uow_factory, {"console": adapter}, clock)
        self._ids = itertools.count(1)
        self.last_reply: OutgoingMessage | None = None

    async def say(self, who: str, text: str, *, dm: bool = False, channel: str = "C-east") -> str:
        """`who` types `text` in the team channel (or the bot's DM); the bot's answer as console text."""
        message = IncomingMessage(
            event_id=f"e{next(self._ids)}",
            user=UserRef("console", self.workspace, who),
            channel=ChannelRef("console", self.workspace, who if dm else channel, "dm" if dm else "group"),
            text=text,
            addressed_to_bot=True,
            received_at=self.clock.now(),
            display_name=who,
        )
        return await self.deliver(message)

    async def deliver(self, message: IncomingMessage) -> str:
        reply = await self.app.dispatcher.handle(message)
        self.last_reply = reply
        await self.settle()
        return render_console(reply) if reply is not None else ""

    async def settle(self) -> None:
        """What `teambeat run` does in the background: announce the deals recorded, send what is due."""
        await self.app.jobs.drain()
        await self.worker.drain()

    def channel_posts(self, channel: str = "C-east") -> list[str]:
        return [render_console(m) for to, m in self.adapter.sent if to.kind == "group" and to.id == channel]

    def dms(self, user: str) -> list[str]:
        return [render_console(m) for to, m in self.adapter.sent if to.kind == "dm" and to.id == user]

    def at(self, when: datetime) -> None:
        self.clock.set(when)


async def open_chat(
    config_path: Path, clock: FixedClock, pg_schema: str | None, *, migrate: bool = False
) -> Chat:
    """The app on the config's database, which the engine fixture has migrated (else `migrate=True`)."""
    config = load_config(config_path, environ={})
    app = await build_app(config, clock, migrate=migrate, pg_schema=pg_schema)
    return Chat(app, FakeAdapter(), clock)

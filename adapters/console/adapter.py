"""The console adapter: a team's chat in a terminal. Lines typed are messages; posts are printed."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TextIO

from adapters.console.render import CHOICE_PREFIX, render_console
from bot.clock import Clock
from bot.messages import (
    Button,
    ChannelRef,
    Image,
    IncomingMessage,
    OutgoingMessage,
    SentMessage,
    UserRef,
    png_bytes,
)
from bot.ports import Capability, ChannelLimits, MessageSink, PartProgress, UserProfile

PLATFORM = "console"


class ConsoleAdapter:
    """Speaks as one member at a time (`/as NAME` switches); `/dm TEXT` talks to the bot in private.

    Charts are written as PNG files to `pictures` (a new temporary folder unless given) and their paths
    printed where they would appear."""

    name = PLATFORM
    capabilities = (
        Capability.MENTIONS | Capability.OPEN_DM | Capability.RICH_TEXT | Capability.IMAGES | Capability.EDIT
    )
    limits = ChannelLimits(max_message_bytes=1_000_000, rate_per_minute=6000.0, burst=100)

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        return self.limits

    def __init__(
        self,
        workspace: str,
        channel: str,
        speaker: str,
        clock: Clock,
        out: TextIO | None = None,
        names: Callable[[str], str] | None = None,
        pictures: Path | None = None,
    ) -> None:
        self.pictures = pictures
        self.workspace = workspace
        self.channel = channel
        self.speaker = speaker
        self._clock = clock
        self._out = out or sys.stdout
        self.names = names or (lambda user_id: user_id)
        self._ids = itertools.count(1)
        # Event ids are remembered in the database across runs (platform retries are dropped by them):
        # a run's own prefix keeps a restarted console's `1, 2, …` from being taken for duplicates.
        self._run = uuid.uuid4().hex[:12]
        self._sink: MessageSink | None = None
        # The buttons last shown to each member (user id → (buttons, shown in their DM)): "/2" picks one.
        self.shown_choices: dict[str, tuple[tuple[Button, ...], bool]] = {}

    def remember_choices(self, user_id: str, msg: OutgoingMessage, *, dm: bool) -> None:
        if msg.buttons:
            self.shown_choices[user_id] = (msg.buttons, dm)

    def chosen(self, user_id: str, word: str) -> tuple[str, bool] | None:
        """The command a choice word ("/2") stands for, for this member, and whether it was in their
        DM; None when the word picks nothing shown to them."""
        shown = self.shown_choices.get(user_id)
        if shown is None or not word.startswith(CHOICE_PREFIX) or not word[1:].isdigit():
            return None
        buttons, dm = shown
        number = int(word[1:])
        return (buttons[number - 1].command, dm) if 1 <= number <= len(buttons) else None

    async def start(self, sink: MessageSink, *, serve: bool = True, work: bool = True) -> None:
        self._sink = sink  # one terminal: it serves and works in one process (--role all)

    async def stop(self) -> None:
        self._sink = None

    def print(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def save_pictures(self, msg: OutgoingMessage) -> OutgoingMessage:
        """The message with each chart written to a file and shown by its path instead."""
        blocks = []
        for block in msg.blocks:
            png = png_bytes(block) if isinstance(block, Image) else None
            if png is not None and isinstance(block, Image):
                if self.pictures is None:
                    self.pictures = Path(tempfile.mkdtemp(prefix="teambeat-pictures-"))
                self.pictures.mkdir(parents=True, exist_ok=True)
                path = self.pictures / f"chart-{hashlib.sha256(png).hexdigest()[:12]}.png"
                path.write_bytes(png)
                block = Image(str(path), block.alt)
            blocks.append(block)
        return replace(msg, blocks=tuple(blocks))

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage:
        where = f"#{to.id}" if to.kind == "group" else f"DM → {self.names(to.id)}"
        msg = self.save_pictures(msg)
        if to.kind == "dm":
            self.remember_choices(to.id, msg, dm=True)
        self.print(f"┌─ [{where}]\n" + _indent(render_console(msg)) + "\n└─")
        return SentMessage(message_id=str(next(self._ids)), channel=to)

    def can_edit(self, to: ChannelRef) -> bool:
        return True

    async def edit(self, to: ChannelRef, message_id: str, msg: OutgoingMessage) -> SentMessage:
        """A terminal cannot change what it printed: the board is printed again, marked as the update
        of message `message_id`."""
        where = f"#{to.id}" if to.kind == "group" else f"DM → {self.names(to.id)}"
        msg = self.save_pictures(msg)
        self.print(f"┌─ [{where} · ↻ {message_id}]\n" + _indent(render_console(msg)) + "\n└─")
        return SentMessage(message_id=message_id, channel=to)

    async def open_dm(self, user: UserRef) -> ChannelRef:
        return ChannelRef(PLATFORM, self.workspace, user.id, "dm")

    async def resolve_user(self, user: UserRef) -> UserProfile:
        return UserProfile(user=user, name=self.names(user.id))

    def incoming(self, text: str, *, dm: bool = False, at: datetime | None = None) -> IncomingMessage:
        """What the current speaker typing `text` in the team channel (or the bot's DM) looks like."""
        user = UserRef(PLATFORM, self.workspace, self.speaker)
        channel = ChannelRef(
            PLATFORM, self.workspace, self.speaker if dm else self.channel, "dm" if dm else "group"
        )
        return IncomingMessage(
            event_id=f"console-{self._run}-{next(self._ids)}",
            user=user,
            channel=channel,
            text=text,
            addressed_to_bot=True,
            received_at=at or self._clock.now(),
            display_name=self.names(self.speaker),
        )

    async def say(self, text: str, *, dm: bool = False) -> None:
        """Deliver one typed line to the core and print the reply addressed to the speaker."""
        if self._sink is None:
            raise RuntimeError("console adapter not started")
        await self._sink(self.incoming(text, dm=dm))


def _indent(text: str) -> str:
    return "\n".join("│ " + line for line in text.splitlines())


async def read_lines(stream: TextIO) -> list[str] | None:
    """One line from stdin without blocking the event loop; None at end of input."""
    line = await asyncio.to_thread(stream.readline)
    return None if line == "" else [line.rstrip("\n")]

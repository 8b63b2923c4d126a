"""The adapter port: the one interface every platform implements and the core relies on."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.messages import ChannelRef, IncomingMessage, OutgoingMessage, SentMessage, UserRef


class Capability(enum.Flag):
    NONE = 0
    RICH_TEXT = enum.auto()
    MENTIONS = enum.auto()
    OPEN_DM = enum.auto()
    IMAGES = enum.auto()
    BUTTONS = enum.auto()
    EDIT = enum.auto()
    EPHEMERAL = enum.auto()


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """What a platform allows per destination; the delivery worker never exceeds it."""

    max_message_bytes: int
    rate_per_minute: float
    burst: int = 1


@dataclass(frozen=True, slots=True)
class UserProfile:
    user: UserRef
    name: str
    timezone: str | None = None
    email: str | None = None
    mobile: str | None = None


class Unsupported(Exception):
    """Raised by an adapter asked for something its platform cannot do, instead of doing less."""


class DeliveryError(Exception):
    """A send failed. `transient` says whether trying again later can succeed."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


MessageSink = Callable[[IncomingMessage], Awaitable[None]]


class Adapter(Protocol):
    name: str
    capabilities: Capability
    limits: ChannelLimits

    async def start(self, sink: MessageSink) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, to: ChannelRef, msg: OutgoingMessage) -> SentMessage: ...

    async def open_dm(self, user: UserRef) -> ChannelRef: ...

    async def resolve_user(self, user: UserRef) -> UserProfile: ...

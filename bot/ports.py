"""The adapter port: the one interface every platform implements and the core relies on."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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
    per_hour: int | None = None


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


class MessageGone(DeliveryError):
    """An edit failed because the message cannot be edited any more (deleted, not the bot's, past the
    platform's edit window): the delivery worker posts the board anew instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, transient=False)


class PartProgress(Protocol):
    """A split post's progress, kept by the delivery worker on the outbox row (the adapter keeps none).

    An adapter that sends a post as several messages starts after `done` and calls `sent(n)` once the
    platform has accepted part n (1-based), before sending the next: a retry, or another replica taking
    over after a crash, then sends at most the part that was in flight again.
    """

    @property
    def done(self) -> int: ...

    async def sent(self, parts: int) -> None: ...


MessageSink = Callable[[IncomingMessage], Awaitable[OutgoingMessage | None]]
"""The dispatcher's entry: it answers with the reply meant for the speaker (None: nothing to say)."""


class Adapter(Protocol):
    name: str
    capabilities: Capability
    limits: ChannelLimits

    def limits_for(self, to: ChannelRef) -> ChannelLimits:
        """The limits of one destination (a group robot and a DM may differ); default `limits`."""
        ...

    async def start(self, sink: MessageSink, *, serve: bool = True, work: bool = True) -> None:
        """`serve`: take requests in (inbound connections; routes are served by the caller). `work`:
        handle the commands taken in, by any process on the database, through `sink`."""
        ...

    async def stop(self) -> None: ...

    async def send(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage: ...

    async def open_dm(self, user: UserRef) -> ChannelRef: ...

    async def resolve_user(self, user: UserRef) -> UserProfile: ...


class Editor(Protocol):
    """What an adapter declaring `Capability.EDIT` adds: a board (bot.delivery.boards) is then one
    message edited in place. `can_edit` may refuse some destinations (a DingTalk custom robot, beside a
    card the app could update): those get the board as new posts, as a platform without EDIT."""

    def can_edit(self, to: ChannelRef) -> bool: ...

    async def edit(self, to: ChannelRef, message_id: str, msg: OutgoingMessage) -> SentMessage:
        """Replace the message `message_id` (as `send` returned it) with `msg`, one message's worth;
        MessageGone when it cannot be edited any more."""
        ...


@runtime_checkable
class BoardPoster(Protocol):
    """An Editor whose editable messages differ from its ordinary posts (a DingTalk group's card, where
    a markdown post cannot be edited): a board's first post, and a post anew, go through `post_board`."""

    async def post_board(
        self, to: ChannelRef, msg: OutgoingMessage, progress: PartProgress | None = None
    ) -> SentMessage: ...

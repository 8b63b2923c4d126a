"""What a command handler gets: who asked, where, in which team, a unit of work and the time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.commands.errors import InvalidArgument, PermissionDenied
from bot.commands.parser import mention_token
from bot.commands.registry import ROLE_RANK, role_at_least
from bot.messages import IncomingMessage, OutgoingMessage, UserRef
from bot.services import directory
from bot.services.scope import TeamScope
from bot.storage.orm import Member, Team
from bot.storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.commands.help import HelpCatalog
    from bot.commands.registry import CommandRegistry, CommandSpec
    from bot.rendering.engine import Renderer


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """The knobs commands obey, taken from `[bot]` in the config."""

    max_amount: Decimal = Decimal("100000000")
    default_locale: str = "zh-CN"
    base_url: str = "http://127.0.0.1:8080"
    """Where people reach the HTTP server (`[server] public_url`, else host and port): links handed out."""


@dataclass(slots=True)
class Core:
    """Everything the command layer needs, built once by the bootstrap and passed in (no globals)."""

    registry: CommandRegistry
    renderer: Renderer
    help: HelpCatalog
    settings: CoreSettings = field(default_factory=CoreSettings)


@dataclass(slots=True)
class CommandContext:
    message: IncomingMessage
    spec: CommandSpec
    args: tuple[str, ...]
    rest: str
    uow: UnitOfWork
    now: datetime
    core: Core
    team_or_none: Team | None = None
    member_or_none: Member | None = None
    speaker_locale: str | None = None  # where no team owns the channel: the speaker's own team's
    mentions_taken: int = 0

    @property
    def team(self) -> Team:
        if self.team_or_none is None:
            raise RuntimeError(f"command {self.spec.name} ran without a team")
        return self.team_or_none

    @property
    def member(self) -> Member:
        if self.member_or_none is None:
            raise RuntimeError(f"command {self.spec.name} ran without a member")
        return self.member_or_none

    @property
    def role(self) -> str:
        return self.member_or_none.role if self.member_or_none else "member"

    @property
    def session(self):
        return self.uow.session

    @property
    def scope(self) -> TeamScope:
        return TeamScope.of(self.team, self.now)

    @property
    def locale(self) -> str:
        if self.team_or_none is not None:
            return self.team_or_none.locale
        return self.speaker_locale or self.core.settings.default_locale

    def reply(self, template: str, **context: Any) -> OutgoingMessage:
        return self.core.renderer.render(template, self.locale, **context)

    def require(self, role: str) -> None:
        if not role_at_least(self.role, role):
            raise PermissionDenied(command=self.spec.name, required=role)

    def is_at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]

    async def resolve_member(self, token: str, argument: str = "member") -> Member:
        """A mention or name in the arguments, as a member of this team; a clear error otherwise."""
        handle = mention_token(token) or token
        found = await directory.find_member(self.session, self.team, handle)
        if not found:
            raise InvalidArgument(argument, token, "member.unknown")
        if len(found) > 1:
            raise InvalidArgument(argument, token, "member.ambiguous")
        return found[0]

    def untyped_mentions(self) -> tuple[UserRef, ...]:
        """The people mentioned outside the text. DingTalk strips every @mention from the text and lists
        the people apart (atUsers); a mention the text carries itself (Slack's `<@U…>`) is taken where it
        stands, not a second time from the list."""
        typed = {mention_token(token) for token in self.args}
        return tuple(m for m in self.message.mentions if m.id not in typed)

    def next_mention(self) -> UserRef | None:
        """The next person mentioned outside the text: the Nth member argument takes the Nth mention."""
        mentions = self.untyped_mentions()
        if self.mentions_taken >= len(mentions):
            return None
        self.mentions_taken += 1
        return mentions[self.mentions_taken - 1]

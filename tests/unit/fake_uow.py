"""A unit of work with no database behind it (cosmicpython's FakeUnitOfWork), for command rules that are
pure: a handler that reaches for the session fails the test, so it proves the rule needs no query."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.commands import build_registry
from bot.commands.context import CommandContext, Core, CoreSettings
from bot.commands.help import HelpCatalog
from bot.commands.registry import CommandSpec
from bot.messages import ChannelRef, IncomingMessage, UserRef
from bot.rendering.engine import Renderer
from bot.storage.orm import Group, Member, Team

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


class NoDatabase(AssertionError):
    """A handler asked for the session where its rule should need none."""


class FakeUnitOfWork:
    """The UnitOfWork's surface a handler uses — events, commit, rollback — without a session."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.committed_events: list[object] = []
        self.committed = False
        self.rolled_back = False

    @property
    def session(self):
        raise NoDatabase("this rule was meant to need no database")

    def add_event(self, event: object) -> None:
        self.events.append(event)

    async def commit(self) -> None:
        self.committed = True
        self.committed_events += self.events
        self.events = []

    async def rollback(self) -> None:
        self.rolled_back = True
        self.events = []


def team(locale: str = "zh-CN") -> Team:
    return Team(
        id=1,
        slug="east",
        name="华东一部",
        timezone="Asia/Shanghai",
        locale=locale,
        currency="CNY",
        calendar="cn",
        extra_holidays=[],
        extra_workdays=[],
        kudos_daily_cap=5,
        schedule={},
        settings={},
    )


WOLVES = Group(id=1, team_id=1, name="狼队", slogan="")
TIGERS = Group(id=2, team_id=1, name="虎队", slogan="")


def member(member_id: int, user_id: str, role: str = "member", group: Group | None = None) -> Member:
    return Member(
        id=member_id,
        team_id=1,
        user_id=user_id,
        name=user_id,
        role=role,
        group_id=group.id if group else None,
        active=True,
    )


def core() -> Core:
    registry = build_registry()
    return Core(
        registry=registry,
        renderer=Renderer(),
        help=HelpCatalog(registry=registry),
        settings=CoreSettings(max_amount=Decimal("100000000")),
    )


def context(
    spec_name: str,
    speaker: Member,
    text: str = "",
    *,
    locale: str = "zh-CN",
    uow: FakeUnitOfWork | None = None,
    the_core: Core | None = None,
    kind: str = "group",
) -> CommandContext:
    """What the dispatcher would hand `spec_name`'s handler for `text` (the words after the command)."""
    from bot.commands.parser import tokenize

    the_core = the_core or core()
    spec: CommandSpec | None = the_core.registry.resolve(spec_name)
    assert spec is not None
    where = speaker.user_id if kind == "dm" else "C-east"
    message = IncomingMessage(
        event_id="e1",
        user=UserRef("console", "W1", speaker.user_id),
        channel=ChannelRef("console", "W1", where, kind),  # type: ignore[arg-type]
        text=f"/{spec_name} {text}".strip(),
        addressed_to_bot=True,
        received_at=MONDAY,
    )
    return CommandContext(
        message=message,
        spec=spec,
        args=tokenize(text),
        rest=text,
        uow=uow or FakeUnitOfWork(),  # type: ignore[arg-type]
        now=MONDAY,
        core=the_core,
        team_or_none=team(locale),
        member_or_none=speaker,
    )

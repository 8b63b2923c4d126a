"""The explicit command registry the bootstrap builds; each command module adds itself via `register`."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.commands.context import CommandContext
    from bot.commands.forms import Form
    from bot.messages import OutgoingMessage

Role = Literal["member", "lead", "leader"]
Where = Literal["any", "dm", "group"]
ROLE_RANK: dict[str, int] = {"member": 0, "lead": 1, "leader": 2}
Handler = Callable[["CommandContext"], Awaitable["OutgoingMessage"]]
MIN_SUGGESTED_LENGTH = 2
SHORT_WORD = 3
_TRAILING = "!.,~?！。，～？"
# What people say first to a bot they do not know yet: they are pointed at `help`.
GREETINGS = frozenset(
    {"hi", "hello", "hey", "hiya", "yo", "howdy", "hallo", "hola", "你好", "您好", "嗨", "哈喽", "哈啰"}
)


def role_at_least(role: str, required: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    aliases: tuple[str, ...]
    handler: Handler
    min_role: Role = "member"
    where: Where = "any"
    needs_team: bool = True
    forms: tuple[Form, ...] = ()  # the declared grammar (bot/commands/forms.py); usage lines come from it


class CommandRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, CommandSpec] = {}
        self._by_word: dict[str, CommandSpec] = {}

    def register(self, spec: CommandSpec) -> None:
        for word in (spec.name, *spec.aliases):
            key = word.lower()
            if key in self._by_word:
                raise ValueError(f"command word {word!r} registered twice")
            self._by_word[key] = spec
        self._specs[spec.name] = spec

    def resolve(self, word: str) -> CommandSpec | None:
        return self._by_word.get(word.lower())

    def suggest(self, word: str) -> str | None:
        """The closest known command name or alias, for 'did you mean …'. A word of one character (`h`,
        `?`) is never suggested: "hi" was closest to "h", and meant hello. A greeting, or a short word
        like no command, gets `help`."""
        word = word.lower().rstrip(_TRAILING)
        fallback = "help" if "help" in self._by_word else None
        if word in GREETINGS:
            return fallback
        words = [known for known in self._by_word if len(known) >= MIN_SUGGESTED_LENGTH]
        close = difflib.get_close_matches(word, words, n=1, cutoff=0.5)
        if close:
            return close[0]
        return fallback if len(word) <= SHORT_WORD else None

    def specs(self) -> list[CommandSpec]:
        return list(self._specs.values())

"""Summaries and examples per locale, read from the template folder; usage lines built from each command's
declared forms and arguments; and the /help command."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from bot.commands.arguments import COMMAND, Arg
from bot.commands.context import CommandContext
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry, CommandSpec, role_at_least
from bot.messages import OutgoingMessage

if TYPE_CHECKING:
    from collections.abc import Iterator

# Up to this many alternatives each repeat the command word (`/deal AMOUNT … | /deal undo [ID]`); more
# (/team's) are listed after it once.
_REPEAT_UP_TO = 3


@dataclass(frozen=True, slots=True)
class CommandHelp:
    summary: str
    usage: str
    example: str


def _toml(locale: str, name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("bot").joinpath("templates", locale, name).read_text("utf-8"))


class HelpCatalog:
    """Loaded once by the bootstrap; unknown locales fall back to zh-CN. Usage lines come from the
    registry's declared forms (the commands' own registry unless one is given)."""

    def __init__(
        self, locales: tuple[str, ...] = ("zh-CN", "en"), registry: CommandRegistry | None = None
    ) -> None:
        self._commands = {locale: _toml(locale, "_commands.toml") for locale in locales}
        self._arguments = {locale: _toml(locale, "_arguments.toml") for locale in locales}
        self._registry = registry

    def _locale(self, locale: str) -> str:
        return locale if locale in self._commands else "zh-CN"

    def _spec(self, name: str) -> CommandSpec | None:
        if self._registry is None:
            from bot.commands import build_registry  # the package imports this module

            self._registry = build_registry()
        return self._registry.resolve(name)

    def get(self, name: str, locale: str) -> CommandHelp | None:
        locale = self._locale(locale)
        entry = self._commands[locale].get(name)
        spec = self._spec(name)
        if entry is None or spec is None:
            return None
        return CommandHelp(entry["summary"], self.usage(spec, locale), entry["example"])

    def example_of(self, arg: Arg, locale: str) -> str | None:
        """The example a missing argument's answer shows: the argument's own, else its kind's."""
        examples = self._arguments[self._locale(locale)]["examples"]
        return examples.get(arg.name) or examples.get(arg.converter.kind)

    def usage(self, spec: CommandSpec, locale: str) -> str:
        """`/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]`, in the locale's words."""
        locale = self._locale(locale)
        word = "/" + shown_name(spec, locale)
        labels = self._arguments[locale]["labels"]
        alternatives = [" ".join(parts) for parts in _alternatives(spec.forms, [], labels)]
        alternatives = list(dict.fromkeys(alternatives))  # each once
        if len(alternatives) <= _REPEAT_UP_TO:
            return " | ".join(f"{word} {alt}".strip() for alt in alternatives) or word
        return f"{word} " + " | ".join(alternatives)

    def form_example(self, spec: CommandSpec, path: tuple[Form, ...], locale: str) -> str | None:
        """The example of one form (`_commands.toml`'s `[team.forms]`), if it has its own."""
        entry = self._commands[self._locale(locale)].get(spec.name) or {}
        return (entry.get("forms") or {}).get(" ".join(form.words[0] for form in path if form.words))

    def form_usage(self, spec: CommandSpec, path: tuple[Form, ...], locale: str) -> str:
        """The usage of one form, reached through `path` (`/团队 pk start 比赛名称 开始..结束 …`)."""
        locale = self._locale(locale)
        labels = self._arguments[locale]["labels"]
        words = [form.words[0] for form in path[:-1] if form.words]
        alternatives = [" ".join(parts) for parts in _alternatives(path[-1:], words, labels)]
        return " | ".join(f"/{shown_name(spec, locale)} {alt}".strip() for alt in alternatives)


def _label(arg: Arg, labels: dict[str, str]) -> str:
    label = labels.get(arg.label if arg.label is not None else arg.name, arg.name.upper())
    bracket = arg.optional if arg.bracket is None else arg.bracket
    return f"[{label}]" if bracket else label


def _alternatives(forms: tuple[Form, ...], prefix: list[str], labels: dict[str, str]) -> Iterator[list[str]]:
    """Each way of writing the command: the default form first, then one per form word."""
    for form in sorted(forms, key=lambda f: bool(f.words)):
        words = [*prefix, form.words[0]] if form.words else prefix
        if form.forms:
            yield from _alternatives(form.forms, words, labels)
            continue
        shown = [_label(arg, labels) for arg in form.args if arg.label != ""]
        if prefix and not form.words and not shown:
            continue  # a bare default under a word (`pk`) says no more than its listed siblings
        yield [*words, *shown]


def shown_name(spec: CommandSpec, locale: str) -> str:
    """The command as the team's language writes it: its Chinese alias in zh-CN, its name otherwise."""
    local_alias = next((a for a in spec.aliases if not a.isascii()), spec.name)
    return local_alias if locale == "zh-CN" else spec.name


def _may_use(spec: CommandSpec, role: str) -> bool:
    return role_at_least(role, spec.min_role)


async def help_command(ctx: CommandContext, topic: CommandSpec | None) -> OutgoingMessage:
    if topic is not None:
        return command_help(ctx, topic)
    entries = []
    for spec in ctx.core.registry.specs():
        info = ctx.core.help.get(spec.name, ctx.locale)
        if info is None or not _may_use(spec, ctx.role):
            continue
        entries.append(
            {"name": shown_name(spec, ctx.locale), "summary": info.summary, "example": info.example}
        )
    return ctx.reply("help", commands=entries, role=ctx.role)


def command_help(ctx: CommandContext, spec: CommandSpec) -> OutgoingMessage:
    """`/help deal`: the command's summary, its declared usage, an example and its other names."""
    info = ctx.core.help.get(spec.name, ctx.locale)
    name = shown_name(spec, ctx.locale)
    return ctx.reply(
        "help_command",
        name=name,
        summary=info.summary if info else "",
        usage=info.usage if info else ctx.core.help.usage(spec, ctx.locale),
        example=info.example if info else None,
        aliases=[a for a in (spec.name, *spec.aliases) if a != name and len(a) > 1],
        allowed=_may_use(spec, ctx.role),
        required=spec.min_role,
    )


SPEC = command(
    "help",
    ("帮助", "h", "?", "start"),
    Form((), (Arg("topic", COMMAND, optional=True, label="command"),), help_command, needs_team=False),
    needs_team=False,
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

"""Usage lines, examples and summaries per locale, read from the template folder, and the /help command."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from bot.commands.context import CommandContext
from bot.commands.registry import CommandRegistry, CommandSpec, role_at_least
from bot.messages import OutgoingMessage


@dataclass(frozen=True, slots=True)
class CommandHelp:
    summary: str
    usage: str
    example: str


class HelpCatalog:
    """Loaded once by the bootstrap; unknown locales fall back to zh-CN."""

    def __init__(self, locales: tuple[str, ...] = ("zh-CN", "en")) -> None:
        self._by_locale: dict[str, dict[str, CommandHelp]] = {}
        for locale in locales:
            text = resources.files("bot").joinpath("templates", locale, "_commands.toml").read_text("utf-8")
            self._by_locale[locale] = {
                name: CommandHelp(**entry) for name, entry in tomllib.loads(text).items()
            }

    def get(self, command: str, locale: str) -> CommandHelp | None:
        table = self._by_locale.get(locale) or self._by_locale["zh-CN"]
        return table.get(command)


def _may_use(spec: CommandSpec, role: str) -> bool:
    return role_at_least(role, spec.min_role)


async def help_command(ctx: CommandContext) -> OutgoingMessage:
    entries = []
    for spec in ctx.core.registry.specs():
        info = ctx.core.help.get(spec.name, ctx.locale)
        if info is None or not _may_use(spec, ctx.role):
            continue
        local_alias = next((a for a in spec.aliases if not a.isascii()), spec.name)
        shown = local_alias if ctx.locale == "zh-CN" else spec.name
        entries.append({"name": shown, "summary": info.summary, "example": info.example})
    return ctx.reply("help", commands=entries, role=ctx.role)


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("help", ("帮助", "h", "?", "start"), help_command, needs_team=False))

"""The commands; `build_registry` is how the bootstrap gets all of them."""

from __future__ import annotations

from bot.commands import checkin, checkout, deals, goals, help, insights, kudos, leave, me, rank, recap, team
from bot.commands.registry import CommandRegistry


def build_registry() -> CommandRegistry:
    registry = CommandRegistry()
    for module in (checkin, checkout, leave, goals, deals, kudos, rank, recap, me, insights, team, help):
        module.register(registry)
    return registry

"""/team announce — a leader turns each kind of channel announcement on or off and sets its thresholds."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, MissingArgument
from bot.messages import OutgoingMessage

KINDS = {
    "deals": "deals",
    "deal": "deals",
    "喜报": "deals",
    "milestones": "milestones",
    "milestone": "milestones",
    "里程碑": "milestones",
    "records": "records",
    "record": "records",
    "纪录": "records",
    "记录": "records",
    "rank": "rank_changes",
    "ranks": "rank_changes",
    "rank_changes": "rank_changes",
    "排名": "rank_changes",
    "kudos": "kudos",
    "点赞": "kudos",
}
ON = {"on", "yes", "true", "开", "开启", "打开"}
OFF = {"off", "no", "false", "关", "关闭"}
DEFAULTS = {
    "deals": True,
    "milestones": True,
    "records": True,
    "rank_changes": True,
    "kudos": True,
    "rank_window_minutes": 10,
    "goal_thresholds": [50, 100],
}
THRESHOLD_WORDS = {"thresholds", "threshold", "阈值", "进度"}
WINDOW_WORDS = {"window", "窗口", "间隔"}
MAX_WINDOW_MINUTES = 1440


def current(settings: dict | None) -> dict:
    return {**DEFAULTS, **((settings or {}).get("announcements") or {})}


async def announce(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    """No arguments shows the settings; `KIND on|off`, `thresholds 50 80 100`, `window 15` change them."""
    settings = current(ctx.team.settings)
    if args:
        word = args[0].lower()
        if word in THRESHOLD_WORDS:
            settings["goal_thresholds"] = _thresholds(args[1:])
        elif word in WINDOW_WORDS:
            settings["rank_window_minutes"] = _window(args[1:])
        elif word in KINDS:
            settings[KINDS[word]] = _switch(args[1:])
        else:
            raise InvalidArgument("kind", args[0], "announce.unknown")
        ctx.team.settings = {**(ctx.team.settings or {}), "announcements": settings}
    return ctx.reply("team_announce", changed=bool(args), **settings)


def _switch(args: list[str]) -> bool:
    if not args:
        raise MissingArgument("switch")
    word = args[0].lower()
    if word in ON:
        return True
    if word in OFF:
        return False
    raise InvalidArgument("switch", args[0], "switch.malformed")


def _thresholds(args: list[str]) -> list[int]:
    if not args:
        raise MissingArgument("thresholds")
    values = [a.rstrip("%％") for a in " ".join(args).replace(",", " ").replace("，", " ").split()]
    if not all(v.isdigit() and 1 <= int(v) <= 1000 for v in values):
        raise InvalidArgument("thresholds", " ".join(args), "threshold.malformed")
    return sorted({int(v) for v in values})


def _window(args: list[str]) -> int:
    if not args:
        raise MissingArgument("minutes")
    value = args[0].lower().removesuffix("min").removesuffix("分钟")
    if not value.isdigit() or not 1 <= int(value) <= MAX_WINDOW_MINUTES:
        raise InvalidArgument("minutes", args[0], "window.malformed")
    return int(value)

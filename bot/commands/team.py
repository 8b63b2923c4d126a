"""/team — a leader's settings: setup, groups, roles, members, schedule, calendar, show."""

from __future__ import annotations

import re
import unicodedata

from bot.commands.competition import competition_action
from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, MissingArgument, PermissionDenied, Refused, WrongPlace
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.commands.team_announce import announce
from bot.messages import OutgoingMessage
from bot.services import directory
from bot.services.scope import person
from bot.storage.orm import Group, Team

ROLE_WORDS = {
    "leader": "leader",
    "团队长": "leader",
    "经理": "leader",
    "admin": "leader",
    "lead": "lead",
    "组长": "lead",
    "member": "member",
    "组员": "member",
    "成员": "member",
}
SCHEDULE_KINDS = {
    "morning": "morning",
    "早会": "morning",
    "evening": "evening",
    "夕会": "evening",
    "checkin": "checkin",
    "打卡": "checkin",
    "reminders": "reminders",
    "reminder": "reminders",
    "提醒": "reminders",
    "weekly": "weekly",
    "周会": "weekly",
    "monthly": "monthly",
    "月会": "monthly",
    "insights": "insights",
    "洞察": "insights",
}
# Kinds that are off until a time is set, and may be turned off again.
OPTIONAL_KINDS = {"insights"}
OFF_WORDS = {"off", "关闭", "关"}
CALENDARS = {"cn", "weekdays", "everyday"}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
DEFAULT_SCHEDULE = {
    "checkin": "09:00",
    "reminders": ["10:30"],
    "morning": "09:30",
    "evening": "18:00",
    "weekly": "fri 18:30",
    "monthly": "last 18:30",
}


def _slug(name: str) -> str:
    ascii_part = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_part).strip("-")[:40] or "team"


async def team_command(ctx: CommandContext) -> OutgoingMessage:
    if not ctx.args:
        raise MissingArgument("action")
    action, args = ctx.args[0].lower(), list(ctx.args[1:])
    if action in ("setup", "创建", "设置"):
        return await setup(ctx, args)
    if ctx.team_or_none is None or ctx.member_or_none is None:
        raise Refused("no_team")
    if action in ("show", "查看", "信息"):
        return await show(ctx)
    if action in ("pk", "比赛", "小组pk"):  # anyone may list; start and stop check for a leader
        return await competition_action(ctx, args)
    ctx.require("leader")
    if action in ("group", "小组", "组"):
        return await group(ctx, args)
    if action in ("role", "角色"):
        return await role(ctx, args)
    if action in ("member", "成员"):
        return await member_action(ctx, args)
    if action in ("schedule", "时间", "日程"):
        return await schedule(ctx, args)
    if action in ("calendar", "日历"):
        return await calendar(ctx, args)
    if action in ("announce", "announcements", "播报", "通知"):
        return await announce(ctx, args)
    raise InvalidArgument("action", action, "subject.unknown")


async def setup(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    if ctx.message.channel.kind != "group":
        raise WrongPlace(where="group")
    if not args:
        raise MissingArgument("name")
    name = " ".join(args)[:200]
    session = ctx.session
    if ctx.team_or_none is not None:
        if not ctx.is_at_least("leader"):
            raise PermissionDenied(command="team setup", required="leader")
        ctx.team.name = name
        return ctx.reply("team_setup", name=name, slug=ctx.team.slug, renamed=True)
    workspace = await directory.workspace_for(
        session, ctx.message.channel.platform, ctx.message.channel.workspace
    )
    base = _slug(name)
    slug, n = base, 1
    while await directory.team_by_slug(session, slug) is not None:
        n += 1
        slug = f"{base}-{n}"
    team = Team(
        slug=slug,
        name=name,
        workspace_id=workspace.id,
        channel_id=ctx.message.channel.id,
        locale=ctx.locale,
        schedule=dict(DEFAULT_SCHEDULE),
        settings={},
        extra_holidays=[],
        extra_workdays=[],
        created_at=ctx.now,
    )
    session.add(team)
    await session.flush()
    await session.refresh(team, ["workspace"])
    user = ctx.message.user
    await directory.join_team(
        session, team, user.id, ctx.message.display_name or user.id, ctx.now, role="leader"
    )
    return ctx.reply("team_setup", name=name, slug=slug, renamed=False)


async def show(ctx: CommandContext) -> OutgoingMessage:
    members = await directory.active_members(ctx.session, ctx.team)
    groups = await directory.groups_of(ctx.session, ctx.team)
    return ctx.reply(
        "team_show",
        team={
            "name": ctx.team.name,
            "slug": ctx.team.slug,
            "timezone": ctx.team.timezone,
            "calendar": ctx.team.calendar,
            "currency": ctx.team.currency,
            "kudos_daily_cap": ctx.team.kudos_daily_cap,
        },
        schedule={**DEFAULT_SCHEDULE, **(ctx.team.schedule or {})},
        groups=[
            {
                "name": g.name,
                "slogan": g.slogan,
                "members": [person(m) for m in members if m.group_id == g.id],
            }
            for g in groups
        ],
        ungrouped=[person(m) for m in members if m.group_id is None],
        leaders=[person(m) for m in members if m.role == "leader"],
        leads=[person(m) for m in members if m.role == "lead"],
    )


async def group(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    if not args:
        raise MissingArgument("action")
    action, args = args[0].lower(), args[1:]
    if not args:
        raise MissingArgument("group")
    name = args[0][:100]
    existing = await directory.group_named(ctx.session, ctx.team, name)
    if action in ("add", "新建", "添加"):
        slogan = " ".join(args[1:])[:300]
        if existing is not None:
            existing.slogan = slogan or existing.slogan
        else:
            ctx.session.add(Group(team_id=ctx.team.id, name=name, slogan=slogan))
        return ctx.reply("team_group_added", name=name, slogan=slogan, existed=existing is not None)
    if action in ("join", "加入"):
        if existing is None:
            raise InvalidArgument("group", name, "group.unknown")
        members = [await ctx.resolve_member(token) for token in args[1:]]
        while (mentioned := await ctx.take_member([])) is not None:  # listed apart (DingTalk)
            members.append(mentioned)
        if not members:
            raise MissingArgument("member")
        moved = []
        for member in members:
            member.group_id = existing.id
            moved.append(person(member))
        return ctx.reply("team_group_joined", name=existing.name, members=moved)
    raise InvalidArgument("action", action, "subject.unknown")


async def role(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    member = await ctx.take_member([])  # mentioned outside the text (DingTalk)
    if member is None:
        if len(args) < 2:
            raise MissingArgument("member" if not args or args[0].lower() in ROLE_WORDS else "role")
        member = await ctx.resolve_member(args.pop(0))
    if not args:
        raise MissingArgument("role")
    new_role = ROLE_WORDS.get(args[0].lower())
    if new_role is None:
        raise InvalidArgument("role", args[0], "role.unknown")
    if member.id == ctx.member.id and new_role != "leader":
        leaders = [m for m in await directory.active_members(ctx.session, ctx.team) if m.role == "leader"]
        if len(leaders) <= 1:
            raise Refused("last_leader")
    member.role = new_role
    return ctx.reply("team_role_set", member=person(member), role=new_role)


async def member_action(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    if not args or args[0].lower() not in ("remove", "删除", "移除"):
        raise InvalidArgument("action", args[0] if args else "", "subject.unknown")
    rest = args[1:]
    member = await ctx.take_member(rest)
    if member is None and rest:
        member = await ctx.resolve_member(rest[0])
    if member is None:
        raise MissingArgument("member")
    if member.id == ctx.member.id:
        raise Refused("last_leader")
    member.active = False
    return ctx.reply("team_member_removed", member=person(member))


def _valid_time(value: str) -> bool:
    return bool(_TIME.match(value))


async def schedule(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    if len(args) < 2:
        raise MissingArgument("time" if args else "kind")
    kind = SCHEDULE_KINDS.get(args[0].lower())
    if kind is None:
        raise InvalidArgument("kind", args[0], "subject.unknown")
    values = args[1:]
    if kind in OPTIONAL_KINDS and len(values) == 1 and values[0].lower() in OFF_WORDS:
        ctx.team.schedule = {k: v for k, v in (ctx.team.schedule or {}).items() if k != kind}
        return ctx.reply("team_schedule_set", kind=kind, value="off")
    if kind == "reminders":
        if not all(_valid_time(v) for v in values):
            raise InvalidArgument("time", " ".join(values), "time.malformed")
        value: object = sorted(values)
    elif kind in ("weekly", "monthly"):
        if len(values) != 2 or not _valid_time(values[1]):
            raise InvalidArgument("time", " ".join(values), "time.malformed")
        day = values[0].lower()
        ok = day in _DAYS if kind == "weekly" else (day == "last" or (day.isdigit() and 1 <= int(day) <= 31))
        if not ok:
            raise InvalidArgument("time", " ".join(values), "time.malformed")
        value = f"{day} {values[1]}"
    else:
        if len(values) != 1 or not _valid_time(values[0]):
            raise InvalidArgument("time", " ".join(values), "time.malformed")
        hours, minutes = values[0].split(":")
        value = f"{int(hours):02d}:{minutes}"
    current = {**DEFAULT_SCHEDULE, **(ctx.team.schedule or {})}
    current[kind] = value
    ctx.team.schedule = current
    return ctx.reply(
        "team_schedule_set", kind=kind, value=value if isinstance(value, str) else " ".join(value)
    )


async def calendar(ctx: CommandContext, args: list[str]) -> OutgoingMessage:
    if not args:
        raise MissingArgument("calendar")
    kind = args[0].lower()
    if kind not in CALENDARS:
        raise InvalidArgument("calendar", args[0], "calendar.unknown")
    ctx.team.calendar = kind
    return ctx.reply("team_calendar_set", calendar=kind)


def register(registry: CommandRegistry) -> None:
    registry.register(CommandSpec("team", ("团队", "设置"), team_command, needs_team=False))

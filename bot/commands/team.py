"""/team — a leader's settings: setup, groups, roles, members, schedule, calendar, show."""

from __future__ import annotations

import re
import unicodedata

from bot.commands.arguments import GROUP, MEMBER, WORDS, Arg, Choice, Members, Text
from bot.commands.checkin import send_dm
from bot.commands.competition import PK_FORMS
from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument, PermissionDenied, Refused
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.commands.team_announce import announce
from bot.messages import OutgoingMessage
from bot.services import directory
from bot.services.scope import person
from bot.storage.orm import Group, Member, Team
from bot.tv import keys as tv_keys

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
    "checkout": "checkout",
    "签退": "checkout",
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
OPTIONAL_KINDS = {"insights", "checkout"}
OFF_WORDS = {"off", "关闭", "关"}
CALENDARS = ("cn", "weekdays", "everyday")
ROTATE_WORDS = ("rotate", "new", "换", "更换", "重置")
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


async def setup(ctx: CommandContext, name: str) -> OutgoingMessage:
    session = ctx.session
    if ctx.team_or_none is not None:
        if not ctx.is_at_least("leader"):
            raise PermissionDenied(command="team setup", required="leader")
        ctx.team.name = name
        return ctx.reply("team_setup", name=name, slug=ctx.team.slug, renamed=True)
    workspace = await directory.workspace_for(
        session, ctx.message.channel.platform, ctx.message.channel.workspace
    )
    slug = await directory.free_team_slug(session, _slug(name))
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
    await directory.add_team(session, team)
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


async def group_add(ctx: CommandContext, group: str, slogan: str) -> OutgoingMessage:
    existing = await directory.group_named(ctx.session, ctx.team, group)
    if existing is not None:
        existing.slogan = slogan or existing.slogan
    else:
        directory.add_group(ctx.session, Group(team_id=ctx.team.id, name=group, slogan=slogan))
    return ctx.reply("team_group_added", name=group, slogan=slogan, existed=existing is not None)


async def group_join(ctx: CommandContext, group: Group, member: list[Member]) -> OutgoingMessage:
    for one in member:
        one.group_id = group.id
    return ctx.reply("team_group_joined", name=group.name, members=[person(m) for m in member])


async def role(ctx: CommandContext, member: Member, role: str) -> OutgoingMessage:
    if member.id == ctx.member.id and role != "leader":
        leaders = [m for m in await directory.active_members(ctx.session, ctx.team) if m.role == "leader"]
        if len(leaders) <= 1:
            raise Refused("last_leader")
    member.role = role
    return ctx.reply("team_role_set", member=person(member), role=role)


async def member_remove(ctx: CommandContext, member: Member) -> OutgoingMessage:
    if member.id == ctx.member.id:
        raise Refused("last_leader")
    member.active = False
    return ctx.reply("team_member_removed", member=person(member))


def _valid_time(value: str) -> bool:
    return bool(_TIME.match(value))


def schedule_value(kind: str, values: list[str]) -> str | list[str] | None:
    """What a schedule kind is set to from the words after it (None: turned off), or a time error."""
    if kind in OPTIONAL_KINDS and len(values) == 1 and values[0].lower() in OFF_WORDS:
        return None
    if kind == "reminders":
        if not all(_valid_time(v) for v in values):
            raise InvalidArgument("time", " ".join(values), "time.malformed")
        return sorted(values)
    if kind in ("weekly", "monthly"):
        day = values[0].lower()
        ok = day in _DAYS if kind == "weekly" else (day == "last" or (day.isdigit() and 1 <= int(day) <= 31))
        if len(values) != 2 or not _valid_time(values[1]) or not ok:
            raise InvalidArgument("time", " ".join(values), "time.malformed")
        return f"{day} {values[1]}"
    if len(values) != 1 or not _valid_time(values[0]):
        raise InvalidArgument("time", " ".join(values), "time.malformed")
    hours, minutes = values[0].split(":")
    return f"{int(hours):02d}:{minutes}"


async def schedule(ctx: CommandContext, kind: str, time: list[str]) -> OutgoingMessage:
    value = schedule_value(kind, time)
    if value is None:
        ctx.team.schedule = {k: v for k, v in (ctx.team.schedule or {}).items() if k != kind}
        return ctx.reply("team_schedule_set", kind=kind, value="off")
    ctx.team.schedule = {**DEFAULT_SCHEDULE, **(ctx.team.schedule or {}), kind: value}
    return ctx.reply(
        "team_schedule_set", kind=kind, value=value if isinstance(value, str) else " ".join(value)
    )


async def calendar(ctx: CommandContext, calendar: str) -> OutgoingMessage:
    ctx.team.calendar = calendar
    return ctx.reply("team_calendar_set", calendar=calendar)


async def announce_settings(ctx: CommandContext, settings: list[str] | None) -> OutgoingMessage:
    return await announce(ctx, settings or [])


async def tv(ctx: CommandContext, rotated: bool) -> OutgoingMessage:
    """The TV board's link, in a DM only: the key in it opens the board to whoever holds it."""
    if rotated:
        key = await tv_keys.rotate(ctx.session, ctx.team.id, ctx.now)
    else:
        key = await tv_keys.ensure_key(ctx.session, ctx.team.id, ctx.now)
    url = tv_keys.board_url(ctx.core.settings.base_url, ctx.team.slug, key)
    link = ctx.reply("team_tv", team=ctx.team.name, url=url, rotated=rotated, sent=False)
    if ctx.message.channel.kind == "dm":
        return link
    await send_dm(ctx, link, f"tv-link:{ctx.team.id}:{ctx.member.id}:{ctx.now.isoformat()}")
    return ctx.reply("team_tv", team=ctx.team.name, url="", rotated=rotated, sent=True)


SPEC = command(
    "team",
    ("团队", "设置"),
    Form(
        ("setup", "创建", "设置"),
        (Arg("name", Text(max_len=200, cut=True)),),
        setup,
        needs_team=False,
        where="group",
    ),
    Form(("show", "查看", "信息"), (), show),
    Form(("pk", "比赛", "小组pk"), forms=PK_FORMS),  # anyone may list; start and stop need a leader
    Form(
        ("group", "小组", "组"),
        forms=(
            Form(
                ("add", "新建", "添加"),
                (
                    Arg("group", Text(max_len=100, one_word=True, cut=True)),
                    Arg("slogan", Text(max_len=300, cut=True), optional=True, default=""),
                ),
                group_add,
            ),
            Form(
                ("join", "加入"),
                (Arg("group", GROUP), Arg("member", Members(names=True), label="members")),
                group_join,
            ),
        ),
        min_role="leader",
    ),
    Form(
        ("role", "角色"),
        (Arg("member", MEMBER), Arg("role", Choice(ROLE_WORDS, "role.unknown"), label="roles")),
        role,
        min_role="leader",
    ),
    Form(
        ("member", "成员"),
        forms=(Form(("remove", "删除", "移除"), (Arg("member", MEMBER),), member_remove),),
        min_role="leader",
    ),
    Form(
        ("schedule", "时间", "日程"),
        (Arg("kind", Choice(SCHEDULE_KINDS, "subject.unknown"), label="schedule_kind"), Arg("time", WORDS)),
        schedule,
        min_role="leader",
    ),
    Form(
        ("calendar", "日历"),
        (Arg("calendar", Choice({c: c for c in CALENDARS}, "calendar.unknown"), label="calendars"),),
        calendar,
        min_role="leader",
    ),
    Form(
        ("announce", "announcements", "播报", "通知"),
        (Arg("settings", WORDS, optional=True, label="announce", bracket=False),),
        announce_settings,
        min_role="leader",
    ),
    Form(
        ("tv", "看板", "大屏"),
        (
            Arg(
                "rotated",
                Choice(dict.fromkeys(ROTATE_WORDS, True), ""),
                optional=True,
                default=False,
                label="rotate",
            ),
        ),
        tv,
        min_role="leader",
        denied_as="team tv",
    ),
    needs_team=False,
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

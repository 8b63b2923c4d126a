"""Seeding teams declared in the config. After the first seed the database is the source of truth:
existing teams, groups and members keep what was changed in chat; only what is new gets added."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from bot.config import TeamConfig
from bot.services import directory
from bot.storage.db import is_postgres
from bot.storage.orm import Group, Team
from bot.storage.uow import UnitOfWork

# First key of the PostgreSQL advisory lock held while seeding (the second is the schema name's hash).
SEED_LOCK_KEY = 0x74627364  # "tbsd"


def _schedule(team: TeamConfig) -> dict[str, object]:
    s = team.schedule
    return {
        "checkin": s.checkin.strftime("%H:%M"),
        "reminders": [r.strftime("%H:%M") for r in s.reminders],
        "morning": s.morning.strftime("%H:%M"),
        "evening": s.evening.strftime("%H:%M"),
        "weekly": str(s.weekly),
        "monthly": str(s.monthly),
        **({"insights": s.insights.strftime("%H:%M")} if s.insights else {}),
    }


def _questions(team: TeamConfig) -> list[dict[str, object]] | None:
    if not team.questions:
        return None
    return [
        {"key": q.key, "kind": q.kind, "required": q.required, "prompt": dict(q.prompt)}
        for q in team.questions
    ]


async def seed_teams(
    uow: UnitOfWork, teams: list[TeamConfig], now: datetime, *, images: bool = True
) -> list[Team]:
    """Create the configured teams missing from the database; `images` ([images] enabled) is kept
    up to date on every team, so posts know whether to draw charts."""
    session = uow.session
    if teams and is_postgres(session.bind):
        # Replicas that start together seed the same teams: one at a time, until its commit, so that the
        # later ones find the rows (READ COMMITTED) instead of failing on their unique keys.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"), {"key": SEED_LOCK_KEY}
        )
    seeded = []
    for cfg in teams:
        team = await directory.team_by_slug(session, cfg.id)
        if team is None:
            workspace = await directory.workspace_for(session, cfg.platform, cfg.workspace or "default")
            team = Team(
                slug=cfg.id,
                name=cfg.name,
                workspace_id=workspace.id,
                channel_id=cfg.channel or cfg.id,
                channel_webhook=cfg.channel_webhook,
                channel_secret=cfg.channel_secret,
                timezone=cfg.timezone,
                locale=cfg.locale,
                currency=cfg.currency,
                calendar=cfg.calendar,
                extra_holidays=[d.isoformat() for d in cfg.extra_holidays],
                extra_workdays=[d.isoformat() for d in cfg.extra_workdays],
                kudos_daily_cap=cfg.kudos_daily_cap,
                schedule=_schedule(cfg),
                settings={
                    "post_checkins": cfg.post_checkins,
                    "announcements": cfg.announcements.model_dump(),
                },
                checkin_questions=_questions(cfg),
                created_at=now,
            )
            session.add(team)
            await session.flush()
            await session.refresh(team, ["workspace"])
        if (team.settings or {}).get("images", True) != images:
            team.settings = {**(team.settings or {}), "images": images}
        groups = {g.name: g for g in await directory.groups_of(session, team)}
        for gcfg in cfg.groups:
            if gcfg.name not in groups:
                group = Group(team_id=team.id, name=gcfg.name, slogan=gcfg.slogan)
                session.add(group)
                await session.flush()
                groups[gcfg.name] = group
        people = {m.id: m for m in cfg.members}
        user_ids = list(dict.fromkeys([*cfg.leaders, *people, *(u for g in cfg.groups for u in g.members)]))
        for user_id in user_ids:
            if await directory.member_of(session, team, user_id) is not None:
                continue
            mcfg = people.get(user_id)
            role = "leader" if user_id in cfg.leaders else (mcfg.role if mcfg else "member")
            member = await directory.join_team(
                session, team, user_id, (mcfg.name if mcfg else "") or user_id, now, role
            )
            member.email = (mcfg.email or None) if mcfg else None
            member.mobile = (mcfg.mobile or None) if mcfg else None
            member.employee_code = (mcfg.employee_code or None) if mcfg else None
            group_name = cfg.group_of(user_id)
            member.group_id = groups[group_name].id if group_name in groups else None
        seeded.append(team)
    return seeded

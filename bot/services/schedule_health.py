"""What an operator watches of the daily cadence: the last scheduled post of each kind, and the posts that
were due and never made (read from the once-per-period rows the scheduler writes).

A scheduled post is *missed* when its slot's most recent fire — on a workday of the team's calendar, on a
day the slot is due, after the team was created — is more than `MISSED_AFTER` old and no once-per-period
row records it. Only the latest fire of each slot is looked at (a post missed yesterday and made today is
not reported), so the figure says "something is wrong now", not a history. A post the scheduler skipped
on purpose beyond its grace window (the bot was down too long) counts as missed: nobody got it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.posts import period_key
from bot.services.schedule import is_due, latest_fire, team_slots
from bot.services.scope import calendar_for
from bot.storage.orm import ScheduledPost, Team

MISSED_AFTER = timedelta(minutes=10)
"""How long after its time a scheduled post may take (a busy outbox, a leader taking over) before it
counts as missed."""


@dataclass(frozen=True, slots=True)
class MissedPost:
    team: str
    kind: str
    period: str
    due: datetime


async def last_scheduled(session: AsyncSession) -> dict[str, datetime]:
    """When the latest once-per-period row of each kind was written, across teams."""
    rows = await session.execute(
        select(ScheduledPost.kind, func.max(ScheduledPost.created_at)).group_by(ScheduledPost.kind)
    )
    return {kind: at for kind, at in rows if at is not None}


async def missed_posts(
    session: AsyncSession, now: datetime, *, after: timedelta = MISSED_AFTER
) -> list[MissedPost]:
    """Every slot whose latest fire is due, older than `after` and without its row (module docstring)."""
    recent = await session.execute(
        select(ScheduledPost.team_id, ScheduledPost.kind, ScheduledPost.period_key).where(
            ScheduledPost.created_at >= now - timedelta(days=40)  # a monthly summary's period at most
        )
    )
    made = {(team_id, kind, key) for team_id, kind, key in recent}
    missed: list[MissedPost] = []
    for team in await session.scalars(select(Team).order_by(Team.slug)):
        try:
            ZoneInfo(team.timezone)
        except Exception:  # the scheduler skips it too, with a warning
            continue
        calendar = calendar_for(team)
        for slot in team_slots(team.schedule, team.slug):
            fire = latest_fire(slot.at, team.timezone, now)
            day = fire.astimezone(ZoneInfo(team.timezone)).date()
            if now - fire <= after or fire < team.created_at:
                continue
            if not (is_due(slot, day, calendar) and calendar.is_workday(day)):
                continue
            key = period_key(slot.kind, day, slot.number)
            if (team.id, slot.kind, key) not in made:
                missed.append(MissedPost(team.slug, slot.kind, key, fire))
    return missed

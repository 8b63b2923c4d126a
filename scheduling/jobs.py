"""The scheduler's one job: run a team's slot for the fire time at or before `now`.

A plain async function of (team, slot, now) over services, so tests call it with a fixed clock and
the scheduler, the catch-up after a restart and a takeover all go through the same checks: the slot
still exists, the day is one the slot is due on, the fire is within the grace window — then
`post_once`, the same function `teambeat post` runs, which applies the calendar and the once rule.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.rendering.engine import Renderer
from bot.services.posts import Outcome, already_posted, period_key, post_once
from bot.services.schedule import Slot, is_due, latest_fire, team_slots
from bot.services.scope import calendar_for
from bot.storage.orm import Team
from bot.storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
DEFAULT_GRACE = timedelta(minutes=30)

JobOutcome = Outcome | str
SCHEDULED_POST = "scheduled_post"
"""A job kind: one team's slot to post, queued by the leading replica and run by any (bot/jobs)."""


def slot_payload(team_id: int, slot: Slot) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "kind": slot.kind,
        "at": slot.at.isoformat(),
        "number": slot.number,
        "weekday": slot.weekday,
        "month_day": slot.month_day,
    }


def job_key(team_id: int, slot: Slot, fire: datetime) -> str:
    """One queued job per team, slot and fire: a catch-up run twice (a reload, a takeover) queues it once."""
    return f"{SCHEDULED_POST}:{team_id}:{slot.key}:{fire.isoformat()}"


def slot_of(payload: dict[str, Any]) -> tuple[int, Slot]:
    slot = Slot(
        payload["kind"],
        time.fromisoformat(payload["at"]),
        payload["number"],
        payload["weekday"],
        payload["month_day"],
    )
    return int(payload["team_id"]), slot


async def run_slot(
    uow_factory: UnitOfWorkFactory,
    renderer: Renderer,
    team_id: int,
    slot: Slot,
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    missed: dict[str, list[str]] | None = None,
) -> JobOutcome:
    """Post the slot's most recent fire if it is due and not older than `grace`; say what happened.

    A fire missed by more than `grace` is logged (or, given `missed`, added to it under the team's id for
    one line per team); one from before the team existed was never the bot's to make, and says nothing."""
    async with uow_factory() as uow:
        checked = await _due_fire(uow.session, team_id, slot, now, grace, missed)
        if isinstance(checked, str):
            return checked
        fire, _, team = checked
        slug = team.slug
    outcome = await post_once(uow_factory, renderer, team_id, slot.kind, fire, number=slot.number, now=now)
    log.info("team %s: %s due %s: %s", slug, slot.kind, fire.isoformat(), outcome)
    return outcome


async def still_to_post(
    session: AsyncSession,
    team_id: int,
    slot: Slot,
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    missed: dict[str, list[str]] | None = None,
) -> datetime | None:
    """The fire a catch-up should queue: due, within `grace` and not posted yet (else None; a miss
    beyond `grace` is reported as `run_slot` reports it)."""
    checked = await _due_fire(session, team_id, slot, now, grace, missed)
    if isinstance(checked, str):
        return None
    fire, day, team = checked
    if await already_posted(session, team, slot.kind, period_key(slot.kind, day, slot.number)):
        return None
    return fire


async def _due_fire(
    session: AsyncSession,
    team_id: int,
    slot: Slot,
    now: datetime,
    grace: timedelta,
    missed: dict[str, list[str]] | None,
) -> tuple[datetime, date, Team] | str:
    """(the fire to post, its day, the team), or why there is none."""
    team = await session.get(Team, team_id)
    if team is None:
        return "skipped: no such team"
    if slot not in team_slots(team.schedule, team.slug):
        return "skipped: schedule changed"  # the reload that follows installs the new slot
    fire = latest_fire(slot.at, team.timezone, now)
    day = fire.astimezone(ZoneInfo(team.timezone)).date()
    calendar = calendar_for(team)
    if not is_due(slot, day, calendar):
        return "skipped: not due"
    late = now - fire
    if late > grace:
        key = period_key(slot.kind, day, slot.number)
        reportable = fire >= team.created_at and calendar.is_workday(day)
        if reportable and not await already_posted(session, team, slot.kind, key):
            what = f"{slot.kind} for {key} (due {fire.isoformat()}, missed by {_minutes(late)})"
            if missed is not None:
                missed.setdefault(team.slug, []).append(what)
            else:
                log.warning(
                    "team %s: %s, beyond the %s grace window: skipped", team.slug, what, _minutes(grace)
                )
        return "skipped: missed"
    return fire, day, team


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"

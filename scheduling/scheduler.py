"""The scheduler inside `teambeat run`: an APScheduler 3 AsyncIOScheduler whose triggers come from the
database, run only by the replica that holds the leadership lock.

Why these choices:
- Triggers are rebuilt from `teams.schedule` (never pickled jobs): at start, whenever this replica
  becomes leader, and when the schedule fingerprint changes. The fingerprint (each team's id, slug,
  timezone and schedule) is polled every `poll_seconds` (30 s by default) rather than pushed by a hook
  in `/team schedule`, because with several replicas the command may well run on a replica that is not
  the leader — polling the shared database is the one signal every replica sees, it costs one small
  query, and it needs no coupling between the command core and the scheduler.
- Each trigger is a cron trigger in the team's own timezone (so 09:30 stays 09:30 local across DST);
  whether the day is a workday is decided when the job runs, by the team's calendar.
- A job posts at most once per team, kind and period because `post_once` records a unique row, not
  because of the scheduler: restarts, reloads and a second replica can run the same job safely.
- With a job worker (`teambeat run`), a trigger only queues the team's post as a `scheduled_post` job:
  the leader decides what is due, and any replica's worker posts it. The catch-up below queues its
  posts the same way (keyed per fire, so a catch-up run twice queues one job), and gathers one log line
  per team for what was missed.
- After (re)loading, every slot whose latest fire is within the grace window runs at once: a post missed
  while the bot was down (or while no replica led) is still made, and one missed by more is skipped with
  a log line. APScheduler's own `misfire_grace_time` and `coalesce` cover a loop that falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time as monotonic_time
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from bot.jobs import queue
from bot.jobs.queue import Job
from bot.jobs.worker import JobWorker
from bot.services import competitions
from bot.services.schedule import Slot, latest_fire, team_slots
from bot.storage.orm import Team
from scheduling.jobs import (
    DEFAULT_GRACE,
    SCHEDULED_POST,
    job_key,
    run_slot,
    slot_of,
    slot_payload,
    still_to_post,
)
from scheduling.leadership import Leadership, leadership_for

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 30.0
DEFAULT_LEASE_SECONDS = 5.0


def trigger_for(slot: Slot, timezone: str) -> CronTrigger:
    """Fires at the slot's local time every day (the weekly summary: on its weekday only)."""
    return CronTrigger(
        day_of_week=slot.weekday if slot.weekday is not None else "*",
        hour=slot.at.hour,
        minute=slot.at.minute,
        second=slot.at.second,
        timezone=ZoneInfo(timezone),
    )


class Scheduler:
    """`await start()` in `teambeat run`, `await stop()` on the way out; `reload()` rebuilds triggers.

    `on_enqueued` is called (without arguments) after a job put posts in the outbox, so the delivery
    worker can wake up instead of waiting for its next poll.
    """

    def __init__(
        self,
        app: App,
        on_enqueued: Callable[[], None] | None = None,
        *,
        grace: timedelta = DEFAULT_GRACE,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        leadership: Leadership | None = None,
        jobs: JobWorker | None = None,
    ) -> None:
        self._app = app
        self._jobs = jobs
        if jobs is not None:
            jobs.register(SCHEDULED_POST, self._run_job)
        self._on_enqueued = on_enqueued
        self._grace = grace
        self._poll_seconds = poll_seconds
        self._lease_seconds = lease_seconds
        self._leadership = leadership or leadership_for(app.engine)
        self._aps: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        self._fingerprint: str | None = None
        self._polled_at = 0.0
        self._finished_at = float("-inf")
        self.leading = False

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the trigger loop and take the first leadership turn (loading triggers if it leads)."""
        if self._aps is not None:
            raise RuntimeError("scheduler already started")
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(self._grace.total_seconds()),
            },
        )
        self._aps.start()
        await self._turn()
        self._task = asyncio.create_task(self._watch(), name="teambeat-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._aps is not None:
            if self._aps.running:
                self._aps.shutdown(wait=False)
            self._aps = None
        self.leading = False
        self._app.metrics.set_leading(False)
        await self._leadership.release()

    async def reload(self) -> None:
        """Rebuild every trigger from the database, then run what fell due within the grace window."""
        if not self.leading or self._aps is None:
            return
        async with self._reload_lock:
            teams = await self._teams()
            self._fingerprint = _fingerprint(teams)
            self._polled_at = monotonic_time.monotonic()
            self._install(teams)
            await self._catch_up(teams)

    def jobs(self) -> list[tuple[str, Any]]:
        """(job id, next fire time) of every installed trigger: for logs, health checks and tests."""
        if self._aps is None:
            return []
        return sorted((job.id, job.next_run_time) for job in self._aps.get_jobs())

    # -- leadership and change detection ---------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds)
            try:
                await self._turn()
            except Exception:
                log.exception("scheduler turn failed; retrying")

    async def _turn(self) -> None:
        try:
            leader = await self._leadership.acquire()
        except Exception:
            log.warning("scheduler leadership check failed", exc_info=True)
            leader = False
        self._app.metrics.set_leading(leader)
        if leader and not self.leading:
            log.info("scheduler: this replica leads; loading schedules")
            self.leading = True
            await self.reload()
        elif not leader and self.leading:
            log.warning("scheduler: leadership lost; triggers removed until it is regained")
            self.leading = False
            if self._aps is not None:
                self._aps.remove_all_jobs()
        elif leader and monotonic_time.monotonic() - self._polled_at >= self._poll_seconds:
            self._polled_at = monotonic_time.monotonic()
            if _fingerprint(await self._teams()) != self._fingerprint:
                log.info("scheduler: a schedule changed; reloading")
                await self.reload()
        if self.leading and monotonic_time.monotonic() - self._finished_at >= self._poll_seconds:
            self._finished_at = monotonic_time.monotonic()
            await self._finish_competitions()

    async def _finish_competitions(self) -> None:
        """Post the result of every competition whose last day is over (once each, by its dedupe key)."""
        try:
            async with self._app.uow_factory() as uow:
                finished = await competitions.finish_due(uow, self._app.renderer, self._app.clock.now())
                await uow.commit()
        except Exception:
            log.exception("scheduler: finishing competitions failed; will try again at the next poll")
            return
        if finished:
            self._notify()

    async def _teams(self) -> list[dict[str, Any]]:
        async with self._app.sessionmaker() as session:
            rows = await session.execute(
                select(Team.id, Team.slug, Team.timezone, Team.schedule).order_by(Team.id)
            )
            return [
                {"id": row.id, "slug": row.slug, "timezone": row.timezone, "schedule": row.schedule or {}}
                for row in rows
            ]

    # -- triggers and jobs -----------------------------------------------------------------------------

    def _install(self, teams: list[dict[str, Any]]) -> None:
        assert self._aps is not None
        self._aps.remove_all_jobs()
        count = 0
        for team in teams:
            for slot in team_slots(team["schedule"], team["slug"]):
                try:
                    trigger = trigger_for(slot, team["timezone"])
                except Exception:
                    log.warning("team %s: bad timezone %r: not scheduled", team["slug"], team["timezone"])
                    continue
                self._aps.add_job(
                    self._fire,
                    trigger=trigger,
                    args=(team["id"], slot),
                    id=f"{team['id']}:{slot.key}",
                    name=f"{team['slug']} {slot.kind}",
                    replace_existing=True,
                )
                count += 1
        log.info("scheduler: %d triggers for %d teams", count, len(teams))

    async def _catch_up(self, teams: list[dict[str, Any]]) -> None:
        """Every slot whose latest fire is due, within the grace window and not posted: queued as a job
        for any replica (without a job worker: posted here), oldest fire first; one log line per team
        for the posts missed by more than the grace window."""
        now = self._app.clock.now()
        due: list[tuple[Any, int, Slot]] = []
        for team in teams:
            if not _known_zone(team["timezone"]):
                continue
            for slot in team_slots(team["schedule"], team["slug"]):
                due.append((latest_fire(slot.at, team["timezone"], now), team["id"], slot))
        done = False
        missed: dict[str, list[str]] = {}
        for _fire, team_id, slot in sorted(due, key=lambda item: item[0]):
            try:
                if self._jobs is None:
                    done = await self._run(team_id, slot, now, missed) == "posted" or done
                else:
                    done = await self._queue_missed(team_id, slot, now, missed) or done
            except Exception:
                log.exception("catch-up of team %s %s failed", team_id, slot.kind)
                continue
        if done and self._jobs is not None:
            self._jobs.wake()  # its run puts the post in the outbox and wakes delivery
        elif done:
            self._notify()
        for slug, posts in missed.items():  # one line per team, not one per post
            log.warning(
                "team %s: not posted, beyond the %s grace window: %s "
                "(`teambeat post KIND --team %s` posts one now)",
                slug,
                f"{self._grace.total_seconds() / 60:.0f} min",
                "; ".join(posts),
                slug,
            )

    async def _queue_missed(self, team_id: int, slot: Slot, now: Any, missed: dict[str, list[str]]) -> bool:
        """Queue the slot's post if the catch-up should make it; whether a job was queued."""
        async with self._app.sessionmaker() as session:
            fire = await still_to_post(session, team_id, slot, now, grace=self._grace, missed=missed)
            if fire is None:
                return False
            key = job_key(team_id, slot, fire)
            payload = slot_payload(team_id, slot)
            added = await queue.enqueue(session, SCHEDULED_POST, payload, now=now, team_id=team_id, key=key)
            await session.commit()
        return added

    async def _fire(self, team_id: int, slot: Slot) -> None:
        """The APScheduler job: queue the post for any replica's job worker (or, without one, post)."""
        if not self.leading:
            return
        if self._jobs is not None:
            try:
                async with self._app.sessionmaker() as session:
                    now = self._app.clock.now()
                    await queue.enqueue(
                        session, SCHEDULED_POST, slot_payload(team_id, slot), now=now, team_id=team_id
                    )
                    await session.commit()
            except Exception:
                log.exception("could not queue the scheduled %s for team %s", slot.kind, team_id)
                return
            self._jobs.wake()
            return
        try:
            outcome = await self._run(team_id, slot, self._app.clock.now())
        except Exception:
            log.exception("scheduled %s for team %s failed", slot.kind, team_id)
            return
        if outcome == "posted":
            self._notify()

    async def _run_job(self, job: Job) -> None:
        """A `scheduled_post` job, on whichever replica claimed it: the same checks as a direct fire
        (grace window, calendar) and the once-per-period row make a late or repeated run harmless."""
        team_id, slot = slot_of(job.payload)
        if await self._run(team_id, slot, self._app.clock.now()) == "posted":
            self._notify()

    async def _run(self, team_id: int, slot: Slot, now, missed: dict[str, list[str]] | None = None) -> str:
        return await run_slot(
            self._app.uow_factory, self._app.renderer, team_id, slot, now, grace=self._grace, missed=missed
        )

    def _notify(self) -> None:
        if self._on_enqueued is not None:
            try:
                self._on_enqueued()
            except Exception:
                log.exception("on_enqueued callback failed")


def _fingerprint(teams: list[dict[str, Any]]) -> str:
    text = json.dumps(teams, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True

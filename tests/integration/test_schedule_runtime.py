"""The Scheduler itself: restarts and the grace window, schedule changes without a restart, a real
AsyncIOScheduler firing in real time, and on PostgreSQL one leader among replicas, with takeover."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import time as wall
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import SystemClock
from bot.services import directory
from bot.storage.orm import JobRow, OutboxRow, ScheduledPost
from scheduling import Scheduler
from scheduling.jobs import SCHEDULED_POST
from scheduling.leadership import SoleLeader
from tests.integration.conftest import SHANGHAI
from tests.support.chat import open_chat, write_config

FAST = {"lease_seconds": 0.05, "poll_seconds": 0.1}


async def set_team(app, **fields) -> None:
    async with app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        for name, value in fields.items():
            setattr(team, name, value)
        await uow.commit()


async def posts(app, kind: str) -> int:
    """Recorded posts of a kind, checked against the outbox in the same statement (one snapshot)."""
    recorded = select(func.count()).select_from(ScheduledPost).where(ScheduledPost.kind == kind)
    queued = select(func.count()).select_from(OutboxRow).where(OutboxRow.dedupe_key.like(f"{kind}:%"))
    async with app.sessionmaker() as session:
        count, outbox = (
            await session.execute(select(recorded.scalar_subquery(), queued.scalar_subquery()))
        ).one()
    assert count == outbox, (kind, count, outbox)  # one outbox post per recorded post, never more
    return int(count)


async def eventually(check, timeout: float = 8.0) -> None:
    deadline = wall.monotonic() + timeout
    while not await check():
        if wall.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def schedule_firing_in(seconds: float, kind: str = "evening", **others: str) -> dict:
    """A schedule whose `kind` fires `seconds` from now (Shanghai time); everything else an hour ahead,
    which makes its latest fire yesterday's — long outside the grace window."""
    now = datetime.now(SHANGHAI)
    later = (now + timedelta(hours=1)).strftime("%H:%M")
    schedule = {
        "checkin": later,
        "reminders": [later],
        "morning": later,
        "evening": later,
        "weekly": f"{(now + timedelta(hours=1)).strftime('%a').lower()} {later}",
        "monthly": f"last {later}",
    }
    schedule[kind] = (now + timedelta(seconds=seconds)).strftime("%H:%M:%S")
    schedule.update(others)
    return schedule


@pytest.mark.slow
async def test_restart_inside_the_grace_window_posts_once(chat, caplog):
    caplog.set_level(logging.INFO)
    chat.at(datetime(2026, 11, 23, 18, 10, tzinfo=SHANGHAI))  # the recap was due at 18:00
    notified = []
    first = Scheduler(chat.app, lambda: notified.append(1), **FAST)
    await first.start()
    await first.stop()
    assert await posts(chat.app, "recap") == 1 and notified
    chat.at(datetime(2026, 11, 23, 18, 20, tzinfo=SHANGHAI))
    second = Scheduler(chat.app, **FAST)
    await second.start()
    await second.stop()
    assert await posts(chat.app, "recap") == 1
    await chat.settle()
    assert len([p for p in chat.channel_posts() if "业绩复盘" in p]) == 1
    # The reminder (10:30) was missed by hours; the prompt (09:00) and the morning post (09:30) were due
    # before the team existed (10:00): not the bot's to make, and not reported as missed.
    assert await posts(chat.app, "morning") == 0
    assert "reminder for 2026-11-23#1" in caplog.text and "beyond the 30 min grace window" in caplog.text
    assert "morning for" not in caplog.text and "checkin for" not in caplog.text


async def test_restart_outside_the_grace_window_skips_with_a_log_line(chat, caplog):
    caplog.set_level(logging.WARNING)
    chat.at(datetime(2026, 11, 23, 18, 45, tzinfo=SHANGHAI))
    scheduler = Scheduler(chat.app, **FAST)
    await scheduler.start()
    await scheduler.stop()
    assert await posts(chat.app, "recap") == 0
    lines = [r.getMessage() for r in caplog.records if "recap for 2026-11-23" in r.getMessage()]
    assert lines and "missed by 45 min" in lines[0], caplog.text


async def test_posts_missed_while_down_are_one_line_and_none_from_before_the_team(chat, caplog):
    """A restart the next evening: four posts missed since the team was created make one warning line;
    the day before the team existed (Sunday, and Monday before 10:00) adds nothing."""
    caplog.set_level(logging.WARNING)
    chat.at(datetime(2026, 11, 24, 19, 0, tzinfo=SHANGHAI))
    scheduler = Scheduler(chat.app, **FAST)
    await scheduler.start()
    await scheduler.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    [line] = warnings
    assert line.startswith("team east: not posted, beyond the 30 min grace window: ")
    for missed in ("checkin for 2026-11-24", "morning for 2026-11-24", "reminder for 2026-11-24#1"):
        assert missed in line
    assert "recap for 2026-11-24 (due 2026-11-24T18:00:00+08:00, missed by 60 min)" in line
    assert "`teambeat post KIND --team east` posts one now" in line


async def test_nothing_is_reported_missed_for_a_team_created_after_the_day_s_posts(chat, caplog):
    caplog.set_level(logging.WARNING)
    await set_team(chat.app, created_at=datetime(2026, 11, 23, 18, 50, tzinfo=SHANGHAI))
    chat.at(datetime(2026, 11, 23, 19, 0, tzinfo=SHANGHAI))
    scheduler = Scheduler(chat.app, **FAST)
    await scheduler.start()
    await scheduler.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert await posts(chat.app, "recap") == 0


async def test_a_schedule_change_in_chat_takes_effect_without_a_restart(chat):
    chat.at(datetime(2026, 11, 23, 8, 40, tzinfo=SHANGHAI))
    scheduler = Scheduler(chat.app, **FAST)
    await scheduler.start()
    try:
        assert any(job.endswith("morning@09:30:00") for job, _ in scheduler.jobs())
        chat.at(datetime(2026, 11, 23, 8, 50, tzinfo=SHANGHAI))
        await chat.say("boss", "/team schedule morning 08:45")

        async def moved() -> bool:
            return any(job.endswith("morning@08:45:00") for job, _ in scheduler.jobs())

        await eventually(moved)
        # Reloading also caught up: 08:45 passed five minutes ago, within the grace window.
        await eventually(lambda: _posted(chat.app, "morning"))
        assert not any(job.endswith("morning@09:30:00") for job, _ in scheduler.jobs())
    finally:
        await scheduler.stop()


async def _posted(app, kind: str) -> bool:
    return await posts(app, kind) > 0


@pytest.mark.slow
async def test_a_real_asyncio_scheduler_fires_on_time(database_url, engine, tmp_path):
    url, pg_schema = database_url
    chat = await open_chat(write_config(tmp_path, url), SystemClock(), pg_schema)
    notified = []
    scheduler = Scheduler(chat.app, lambda: notified.append(wall.monotonic()), **FAST)
    try:
        await set_team(chat.app, calendar="everyday", schedule=schedule_firing_in(1.5))
        started = wall.monotonic()
        await scheduler.start()
        assert await posts(chat.app, "recap") == 0
        await eventually(lambda: _posted(chat.app, "recap"))
        assert notified and 0.5 < notified[0] - started < 6
        await asyncio.sleep(0.3)
        assert await posts(chat.app, "recap") == 1
    finally:
        await scheduler.stop()
        await chat.app.close()


postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@postgres_only
async def test_two_schedulers_on_one_postgres_database_post_once(database_url, engine, tmp_path):
    url, pg_schema = database_url
    config = write_config(tmp_path, url)
    one = await open_chat(config, SystemClock(), pg_schema)
    two = await open_chat(config, SystemClock(), pg_schema)
    a, b = Scheduler(one.app, **FAST), Scheduler(two.app, **FAST)
    try:
        await set_team(one.app, calendar="everyday", schedule=schedule_firing_in(1.5))
        await a.start()
        await b.start()
        assert [a.leading, b.leading] == [True, False]
        assert b.jobs() == []
        await eventually(lambda: _posted(one.app, "recap"))
        await asyncio.sleep(0.5)
        assert await posts(one.app, "recap") == 1
    finally:
        await a.stop()
        await b.stop()
        await one.app.close()
        await two.app.close()


@postgres_only
async def test_even_two_leaders_firing_together_post_once(database_url, engine, tmp_path):
    """The lock only saves work: with it bypassed, the unique row still stops the second post."""
    url, pg_schema = database_url
    config = write_config(tmp_path, url)
    one = await open_chat(config, SystemClock(), pg_schema)
    two = await open_chat(config, SystemClock(), pg_schema)
    a = Scheduler(one.app, leadership=SoleLeader(), **FAST)
    b = Scheduler(two.app, leadership=SoleLeader(), **FAST)
    try:
        await set_team(one.app, calendar="everyday", schedule=schedule_firing_in(1.5))
        await a.start()
        await b.start()
        assert a.leading and b.leading
        await eventually(lambda: _posted(one.app, "recap"))
        await asyncio.sleep(0.5)
        assert await posts(one.app, "recap") == 1
    finally:
        await a.stop()
        await b.stop()
        await one.app.close()
        await two.app.close()


REPLICA = """
import asyncio, sys
from bot.app import build_app
from bot.config import load_config
from scheduling import Scheduler

async def main(path, schema):
    app = await build_app(load_config(path, environ={}), migrate=False, pg_schema=schema)
    scheduler = Scheduler(app, lease_seconds=0.05, poll_seconds=0.1)
    await scheduler.start()
    print("leading" if scheduler.leading else "standby", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.slow
@postgres_only
async def test_a_standby_takes_over_when_the_leader_dies_neither_missing_nor_repeating(
    database_url, engine, tmp_path
):
    url, pg_schema = database_url
    config = write_config(tmp_path, url)
    chat = await open_chat(config, SystemClock(), pg_schema)
    await set_team(chat.app, calendar="everyday", schedule=schedule_firing_in(3600))
    leader = subprocess.Popen(
        [sys.executable, "-c", REPLICA, str(config), pg_schema],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    # The standby checks for the lock only every 1.5 s: long enough that the morning post below falls
    # due while nobody leads, so the takeover's catch-up is what must send it.
    standby = Scheduler(chat.app, lease_seconds=1.5, poll_seconds=0.1)
    try:
        assert await asyncio.to_thread(leader.stdout.readline) == "leading\n"
        await standby.start()
        assert not standby.leading
        await set_team(chat.app, schedule=schedule_firing_in(1.0))  # the recap, by the leader
        await eventually(lambda: _posted(chat.app, "recap"))
        schedule = schedule_firing_in(0.4, kind="morning")
        schedule["evening"] = (await _team_schedule(chat.app))["evening"]  # the recap stays as it was
        await set_team(chat.app, schedule=schedule)
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        await eventually(lambda: _posted(chat.app, "morning"))
        assert standby.leading
        await asyncio.sleep(0.5)
        assert await posts(chat.app, "morning") == 1
        assert await posts(chat.app, "recap") == 1  # the catch-up did not repeat the leader's post
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait(timeout=10)
        await standby.stop()
        await chat.app.close()


async def _team_schedule(app) -> dict:
    async with app.sessionmaker() as session:
        team = await directory.team_by_slug(session, "east")
        return dict(team.schedule)


class Standby:
    """A replica that never leads (another one holds the lock)."""

    async def acquire(self) -> bool:
        return False

    async def release(self) -> None:
        return None


@pytest.mark.slow  # about two seconds of waiting for pollers
async def test_the_leader_queues_scheduled_posts_and_both_replicas_run_them(database_url, engine, tmp_path):
    """With job workers, a trigger only queues the team's post: the leader decides what is due, and the
    posts are run by whichever replica's worker claims them — here both, each once."""
    url, pg_schema = database_url
    config = write_config(tmp_path, url)
    one = await open_chat(config, SystemClock(), pg_schema)
    two = await open_chat(config, SystemClock(), pg_schema)
    ran: dict[str, list[str]] = {"one": [], "two": []}
    for chat in (one, two):
        # One post at a time per replica, each taking a moment: the second post goes to the other one.
        chat.app.jobs.settings = dataclasses.replace(chat.app.jobs.settings, concurrency=1, poll=0.05)
    a = Scheduler(one.app, jobs=one.app.jobs, leadership=SoleLeader(), **FAST)
    b = Scheduler(two.app, jobs=two.app.jobs, leadership=Standby(), **FAST)
    for name, chat, scheduler in (("one", one, a), ("two", two, b)):
        real = scheduler._run_job

        async def slow(job, real=real, name=name):
            ran[name].append(job.payload["kind"])
            await asyncio.sleep(0.3)
            await real(job)

        chat.app.jobs.register(SCHEDULED_POST, slow)
    stop = asyncio.Event()
    workers = [asyncio.create_task(chat.app.jobs.run_forever(stop)) for chat in (one, two)]
    try:
        at = (datetime.now(SHANGHAI) + timedelta(seconds=1.5)).strftime("%H:%M:%S")
        await set_team(one.app, calendar="everyday", schedule=schedule_firing_in(1.5, morning=at))
        await a.start()
        await b.start()
        assert a.leading and not b.leading
        await eventually(lambda: _posted(one.app, "recap"))
        await eventually(lambda: _posted(one.app, "morning"))
        await asyncio.sleep(0.5)
        assert await posts(one.app, "recap") == 1 and await posts(one.app, "morning") == 1
        assert sorted(ran["one"] + ran["two"]) == ["morning", "recap"]
        assert ran["one"] and ran["two"]  # each replica ran one
        async with one.app.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(JobRow)) == 0
    finally:
        stop.set()
        await asyncio.gather(*workers)
        await a.stop()
        await b.stop()
        await one.app.close()
        await two.app.close()


async def test_the_catch_up_queues_missed_posts_as_jobs_once_for_any_replica(chat, caplog):
    """A leader with a job worker does not post what it catches up itself: each post still due is one
    job (a second catch-up queues no other), which any replica's worker runs; misses are still logged."""
    caplog.set_level(logging.WARNING)
    chat.at(datetime(2026, 11, 23, 18, 10, tzinfo=SHANGHAI))  # the recap was due at 18:00
    for _ in range(2):  # a restart, or a takeover, catches up again
        leader = Scheduler(chat.app, jobs=chat.app.jobs, **FAST)
        await leader.start()
        await leader.stop()
    assert await posts(chat.app, "recap") == 0
    async with chat.app.sessionmaker() as session:
        team = await directory.team_by_slug(session, "east")
        queued = (await session.execute(select(JobRow.kind, JobRow.key))).all()
    assert [(kind, key.split("@")[0]) for kind, key in queued] == [
        (SCHEDULED_POST, f"{SCHEDULED_POST}:{team.id}:recap")
    ]
    assert "reminder for 2026-11-23#1" in caplog.text  # missed by hours: reported, not queued
    assert await chat.app.jobs.drain() == 1
    assert await posts(chat.app, "recap") == 1
    await chat.settle()
    assert len([p for p in chat.channel_posts() if "业绩复盘" in p]) == 1

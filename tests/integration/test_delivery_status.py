"""`teambeat status`: an operator sees what the outbox holds, what is stuck and why."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.status import cadence_status, outbox_status, render_cadence, render_status
from bot.metrics import Metrics
from bot.observe import refresh_gauges
from bot.services.schedule_health import missed_posts
from bot.storage.db import create_engine, create_sessionmaker, is_postgres
from bot.storage.orm import OutboxRow, ScheduledPost, Team, Workspace
from bot.storage.uow import UnitOfWorkFactory
from scheduling.leadership import AdvisoryLock, replica_name
from tests.integration.test_cli import teambeat

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def row(n: int, channel: str, status: str, *, now: datetime, ago: timedelta, **fields: object) -> OutboxRow:
    values: dict[str, object] = {
        "dedupe_key": f"post:{n}",
        "platform": "dingtalk",
        "workspace": "corp",
        "channel_id": channel,
        "channel_kind": "group",
        "destination": f"dingtalk:corp:{channel}",
        "payload": "{}",
        "status": status,
        "attempts": 1,
        "created_at": now - ago,
        "next_attempt_at": now - ago,
        **fields,
    }
    return OutboxRow(id=n, **values)


def story(now: datetime) -> list[OutboxRow]:
    """A robot channel down for two hours, a channel that was deleted, and older failures."""
    rows = [
        row(
            1,
            "sales",
            "sent",
            now=now,
            ago=timedelta(hours=3),
            sent_at=now - timedelta(hours=3),
            last_attempt_at=now - timedelta(hours=3),
        ),
        row(
            2,
            "robot",
            "pending",
            now=now,
            ago=timedelta(hours=2, seconds=5),
            attempts=7,
            last_error="HTTP 502 Bad Gateway\n<html>…</html>",
            last_attempt_at=now - timedelta(minutes=1),
            next_attempt_at=now + timedelta(minutes=9, seconds=30),
        ),
        row(3, "robot", "pending", now=now, ago=timedelta(hours=1), attempts=0),
        row(
            4,
            "gone",
            "failed",
            now=now,
            ago=timedelta(minutes=6),
            last_error="channel_not_found",
            last_attempt_at=now - timedelta(minutes=5),
        ),
    ]
    for n in range(5, 10):  # older failures: only the latest five errors are listed
        rows.append(
            row(
                n,
                "old",
                "failed",
                now=now,
                ago=timedelta(days=1),
                last_error=f"token revoked {n}",
                last_attempt_at=now - timedelta(hours=n),
            )
        )
    return rows


async def test_status_lists_counts_the_oldest_pending_row_and_the_latest_errors(
    uow_factory: UnitOfWorkFactory,
):
    async with uow_factory() as uow:
        uow.session.add_all(story(NOW))
        await uow.commit()
    async with uow_factory() as uow:
        text = render_status(await outbox_status(uow.session), NOW)

    assert text.splitlines() == [
        "outbox: 2 pending · 1 sent · 0 folded into digests · 6 failed",
        "oldest pending: #2 → dingtalk:corp:robot",
        "  age 2h 00m · 7 attempts · next attempt in 9m 30s",
        "  last error: HTTP 502 Bad Gateway <html>…</html>",
        "latest errors:",
        "  #2 pending 1m 00s ago · dingtalk:corp:robot · 7 attempts · HTTP 502 Bad Gateway <html>…</html>",
        "  #4 failed  5m 00s ago · dingtalk:corp:gone · 1 attempt · channel_not_found",
        "  #5 failed  5h 00m ago · dingtalk:corp:old · 1 attempt · token revoked 5",
        "  #6 failed  6h 00m ago · dingtalk:corp:old · 1 attempt · token revoked 6",
        "  #7 failed  7h 00m ago · dingtalk:corp:old · 1 attempt · token revoked 7",
    ]


async def test_an_empty_outbox_says_so(uow_factory: UnitOfWorkFactory):
    async with uow_factory() as uow:
        text = render_status(await outbox_status(uow.session), NOW)
    assert text.splitlines() == [
        "outbox: 0 pending · 0 sent · 0 folded into digests · 0 failed",
        "oldest pending: none",
        "latest errors: none",
    ]


async def _arrange(url: str) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            session.add_all(story(datetime.now(UTC)))
            await session.commit()
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_teambeat_status_from_the_command_line(tmp_path: Path):
    config = tmp_path / "c.toml"
    url = f"sqlite:///{tmp_path / 'x.db'}"
    config.write_text(f'[database]\nurl = "{url}"\n', "utf-8")
    refused = teambeat("status", "-c", str(config), cwd=tmp_path)
    assert refused.returncode == 1 and "teambeat db upgrade" in refused.stderr  # never migrates by itself

    assert teambeat("db", "upgrade", "-c", str(config), cwd=tmp_path).returncode == 0
    empty = teambeat("status", "-c", str(config), cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines()[0] == "outbox: 0 pending · 0 sent · 0 folded into digests · 0 failed"

    asyncio.run(_arrange(url))
    result = teambeat("status", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "outbox: 2 pending · 1 sent · 0 folded into digests · 6 failed"
    assert lines[1] == "oldest pending: #2 → dingtalk:corp:robot"
    assert lines[2].startswith("  age 2h 00m · 7 attempts · next attempt in 9m")
    assert lines[4] == "latest errors:"
    assert lines[10:] == [
        "jobs: 0 waiting · 0 parked",  # the jobs table's line follows the outbox's
        "scheduler leader: the one process running on this SQLite file",
        "last scheduled posts: none yet",
        "missed scheduled posts: none (due over 10m 00s ago without a post)",
    ]
    assert "#4 failed" in lines[6] and "channel_not_found" in lines[6]
    assert "Traceback" not in result.stderr


# ----- the daily cadence and /metrics ----------------------------------------------------------------

MONDAY_10_SHANGHAI = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def _team(uow_factory: UnitOfWorkFactory, created: datetime) -> int:
    async with uow_factory() as uow:
        workspace = Workspace(platform="console", external_id="W")
        team = Team(slug="east", name="华东", workspace=workspace, calendar="everyday", created_at=created)
        uow.session.add(team)
        await uow.session.commit()
        return team.id


async def test_missed_scheduled_posts_are_the_due_ones_without_their_row(uow_factory: UnitOfWorkFactory):
    now = MONDAY_10_SHANGHAI  # 10:00 in Shanghai: 09:00 check-in and 09:30 morning are due today
    team_id = await _team(uow_factory, now - timedelta(days=30))
    async with uow_factory() as uow:
        missed = await missed_posts(uow.session, now)
    # the 10:30 reminder and the 18:00 recap not yet today: yesterday's are their latest fires
    assert sorted((m.kind, m.period) for m in missed) == [
        ("checkin", "2026-11-23"),
        ("morning", "2026-11-23"),
        ("recap", "2026-11-22"),
        ("reminder", "2026-11-22#1"),
    ]
    async with uow_factory() as uow:
        for kind, key in [("checkin", "2026-11-23"), ("recap", "2026-11-22"), ("reminder", "2026-11-22#1")]:
            uow.session.add(ScheduledPost(team_id=team_id, kind=kind, period_key=key, created_at=now))
        await uow.session.commit()
    async with uow_factory() as uow:
        assert [(m.kind, m.period) for m in await missed_posts(uow.session, now)] == [
            ("morning", "2026-11-23")
        ]
        # at 09:35 the morning post is 5 minutes late: inside the 10 minutes a post may take
        assert await missed_posts(uow.session, now - timedelta(minutes=25)) == []
        status = await cadence_status(uow.session, now)
    text = render_cadence(status, now).splitlines()
    assert text[1] == "last scheduled posts: checkin 0s ago · recap 0s ago · reminder 0s ago"
    assert text[2:] == ["missed scheduled posts: 1", "  team east · morning for 2026-11-23 · due 30m 00s ago"]


async def test_a_team_created_after_a_slot_fired_has_missed_nothing(uow_factory: UnitOfWorkFactory):
    await _team(uow_factory, MONDAY_10_SHANGHAI - timedelta(minutes=5))
    async with uow_factory() as uow:
        assert await missed_posts(uow.session, MONDAY_10_SHANGHAI) == []


async def test_metrics_show_the_oldest_pending_post_the_last_scheduled_posts_and_the_missed(
    uow_factory: UnitOfWorkFactory,
):
    now = MONDAY_10_SHANGHAI
    team_id = await _team(uow_factory, now - timedelta(days=30))
    async with uow_factory() as uow:
        uow.session.add_all(story(now))
        uow.session.add(
            ScheduledPost(team_id=team_id, kind="checkin", period_key="2026-11-23", created_at=now)
        )
        await uow.session.commit()
    metrics = Metrics()
    async with uow_factory() as uow:
        await refresh_gauges(metrics, uow.session, now)
    value = metrics.registry.get_sample_value
    assert value("teambeat_outbox_oldest_pending_seconds") == 2 * 3600 + 5
    assert value("teambeat_scheduled_post_last_timestamp_seconds", {"kind": "checkin"}) == now.timestamp()
    assert value("teambeat_scheduled_posts_missed") == 3
    assert value("teambeat_outbox_rows", {"state": "pending"}) == 2


async def test_status_names_the_replica_that_leads_the_scheduler(uow_factory: UnitOfWorkFactory, engine):
    if not is_postgres(engine):
        async with uow_factory() as uow:
            status = await cadence_status(uow.session, MONDAY_10_SHANGHAI)
        assert status.leader == "the one process running on this SQLite file"
        return
    lock = AdvisoryLock(engine)
    async with uow_factory() as uow:
        assert (await cadence_status(uow.session, MONDAY_10_SHANGHAI)).leader.startswith("none")
    assert await lock.acquire()
    try:
        async with uow_factory() as uow:
            status = await cadence_status(uow.session, MONDAY_10_SHANGHAI)
        assert status.leader.startswith(replica_name())
    finally:
        await lock.release()

"""`teambeat status`: an operator sees what the outbox holds, what is stuck and why."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.status import outbox_status, render_status
from bot.storage.db import create_engine, create_sessionmaker
from bot.storage.orm import OutboxRow
from bot.storage.uow import UnitOfWorkFactory
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
    assert lines[4] == "latest errors:" and len(lines) == 11
    assert lines[10] == "jobs: 0 waiting · 0 parked"  # the jobs table's line follows the outbox's
    assert "#4 failed" in lines[6] and "channel_not_found" in lines[6]
    assert "Traceback" not in result.stderr

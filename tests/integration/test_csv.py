"""`teambeat deals import` and `teambeat export`, run as an admin would: the real CLI in a subprocess,
on SQLite and on PostgreSQL (a database of its own, since a subprocess only gets a URL)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.storage.db import create_engine
from bot.storage.orm import Checkin, CheckinAnswer, Deal, Member, OutboxRow, Team
from tests.support.databases import database_for_subprocess
from tests.support.deals import write_deals_config

pytestmark = pytest.mark.slow  # every test here runs the `teambeat` CLI in a process of its own

CLI = [sys.executable, "-m", "adapters.cli"]
BOM = "\ufeff".encode()

HEADER = "id,member,amount,currency,customer,product,closed_at,status\n"
GOOD = (
    HEADER
    + "crm-1,alice,12800,CNY,华为,年度订阅,2026-11-02T10:00:00+08:00,won\n"
    + 'crm-2,bob@example.com,1.28万,,"腾讯, 深圳",,2026-11-03 15:30:00+08:00,\n'
    + 'crm-3,+86 138-0000-0002,1200.50,cny,=HYPERLINK("x"),,2026-11-04T01:00:00Z,won\n'
    + "crm-4,E003,5000,CNY,退单客户,,2026-11-05T11:00:00+08:00,won\n"
    + "crm-4,,,,,,,void\n"
)


def teambeat(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, timeout=180)


async def query(url: str, statement):
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(statement)).all()
    finally:
        await engine.dispose()


def rows_of(exported: bytes) -> list[dict[str, str]]:
    assert exported.startswith(BOM), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(exported[len(BOM) :].decode("utf-8"), newline="")))


async def test_import_then_export_round_trips_and_reimport_is_a_no_op(backend, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_bytes(BOM + GOOD.encode("utf-8"))  # as Excel saves "CSV UTF-8"
    async with database_for_subprocess(backend, tmp_path) as url:
        config = write_deals_config(tmp_path, url)
        imported = teambeat("deals", "import", str(source), "--team", "east", "-c", str(config), cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr.decode()
        assert b"imported 4 deal(s)" in imported.stdout and b"(0 announced)" in imported.stdout
        assert b"1 voided" in imported.stdout
        assert await query(url, select(func.count()).select_from(OutboxRow)) == [(0,)]  # not announced

        export = ("export", "deals", "--team", "east", "--from", "2026-11-02", "--to", "2026-11-05")
        exported = teambeat(*export, "-c", str(config), cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr.decode()
        rows = rows_of(exported.stdout)
        assert [(r["id"], r["member"], r["member_name"], r["amount"], r["status"]) for r in rows] == [
            ("crm-1", "alice", "Alice", "12800.00", "won"),
            ("crm-2", "bob", "Bob", "12800.00", "won"),
            ("crm-3", "alice", "Alice", "1200.50", "won"),
            ("crm-4", "bob", "Bob", "5000.00", "void"),
        ]
        assert [r["closed_at"] for r in rows] == [
            "2026-11-02 10:00:00+08:00",
            "2026-11-03 15:30:00+08:00",
            "2026-11-04 09:00:00+08:00",  # 01:00Z, in the team's timezone
            "2026-11-05 11:00:00+08:00",
        ]
        assert rows[1]["customer"] == "腾讯, 深圳" and rows[0]["product"] == "年度订阅"
        assert rows[2]["customer"] == '\'=HYPERLINK("x")'  # Excel shows it, never runs it

        # The export is importable as it is: into the same team, nothing changes.
        copy = tmp_path / "export.csv"
        copy.write_bytes(exported.stdout)
        again = teambeat("deals", "import", str(copy), "--team", "east", "-c", str(config), cwd=tmp_path)
        assert again.returncode == 0, again.stderr.decode()
        assert b"imported 0 deal(s)" in again.stdout and b"3 already recorded" in again.stdout
        assert await query(url, select(func.count()).select_from(Deal)) == [(4,)]
        [(customer,)] = await query(url, select(Deal.customer).where(Deal.external_id == "crm-3"))
        assert customer == '=HYPERLINK("x")'

        narrower = teambeat(
            *export[:4], "--from", "2026-11-03", "--to", "2026-11-03", "-c", str(config), cwd=tmp_path
        )
        assert [r["id"] for r in rows_of(narrower.stdout)] == ["crm-2"]

    # …and into an empty database, the export of the re-import is the same file, byte for byte.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with database_for_subprocess(backend, elsewhere) as url:
        config = write_deals_config(elsewhere, url)
        moved = teambeat("deals", "import", str(copy), "--team", "east", "-c", str(config), cwd=elsewhere)
        assert moved.returncode == 0, moved.stderr.decode()
        assert teambeat(*export, "-c", str(config), cwd=elsewhere).stdout == exported.stdout


async def test_a_file_with_errors_is_refused_whole_with_every_bad_line_listed(backend, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(
        HEADER
        + "ok-1,alice,100,CNY,,,2026-11-02T10:00:00+08:00,\n"  # line 2: fine, yet not stored
        + "bad-1,zed,100,CNY,,,,\n"  # line 3
        + 'bad-2,bob,0,XYZ,"a customer\non two lines",,,\n'  # lines 4-5
        + "bad-3,bob,100,CNY,,,last tuesday,lost\n"  # line 6
        + "ok-1,bob,300,CNY,,,,\n"  # line 7: the id of line 2 again
        + "never,,,,,,,void\n",  # line 8
        encoding="utf-8",
    )
    async with database_for_subprocess(backend, tmp_path) as url:
        config = write_deals_config(tmp_path, url)
        result = teambeat("deals", "import", str(source), "--team", "east", "-c", str(config), cwd=tmp_path)
        assert result.returncode == 1
        errors = result.stderr.decode().splitlines()
        assert [e.split(": ")[1] for e in errors[:-1]] == [
            "line 3",
            "line 4",
            "line 4",
            "line 6",
            "line 6",
            "line 7",
            "line 8",
        ], errors
        text = "\n".join(errors)
        assert "line 3: member matches no member of the team: 'zed'" in text
        assert (
            "line 4: amount must be more than zero" in text
            and "line 4: currency is not a known currency" in text
        )
        assert "line 6: status is not a known status: 'lost' (allowed: won, void)" in text
        assert "line 6: closed_at is not an ISO 8601 date and time" in text
        assert "line 7: id 'ok-1' repeats line 2" in text
        assert "line 8: id names no recorded deal" in text
        assert errors[-1].endswith("nothing imported (7 problem(s))")
        assert await query(url, select(func.count()).select_from(Deal)) == [(0,)]


async def test_import_refuses_unknown_columns_non_utf8_and_unknown_teams(tmp_path):
    async with database_for_subprocess("sqlite", tmp_path) as url:
        config = str(write_deals_config(tmp_path, url))
        typo = tmp_path / "typo.csv"
        typo.write_text("id,member,amout\nx,alice,100\n", encoding="utf-8")
        result = teambeat("deals", "import", str(typo), "--team", "east", "-c", config, cwd=tmp_path)
        assert result.returncode == 1
        assert b"line 1: missing column amount" in result.stderr
        assert b"line 1: unknown column 'amout'" in result.stderr

        gbk = tmp_path / "gbk.csv"
        gbk.write_bytes((HEADER + "x,alice,100,CNY,华为,,,\n").encode("gbk"))
        result = teambeat("deals", "import", str(gbk), "--team", "east", "-c", config, cwd=tmp_path)
        assert result.returncode == 1 and b"line 2: not UTF-8" in result.stderr

        plain = tmp_path / "plain.csv"
        plain.write_text(HEADER + "x,alice,100,CNY,,,,\n", encoding="utf-8")
        result = teambeat("deals", "import", str(plain), "--team", "west", "-c", config, cwd=tmp_path)
        assert result.returncode == 1 and b"no team with id 'west'" in result.stderr
        assert await query(url, select(func.count()).select_from(Deal)) == [(0,)]


async def test_import_with_announce_announces_only_deals_of_the_last_24_hours(tmp_path):
    now = datetime.now(UTC)
    recent, old = (now - timedelta(hours=2)).isoformat(), (now - timedelta(days=3)).isoformat()
    source = tmp_path / "deals.csv"
    source.write_text(
        HEADER + f"r1,alice,8800,CNY,新客户,,{recent},won\n" + f"o1,bob,3000,CNY,老客户,,{old},won\n",
        encoding="utf-8",
    )
    async with database_for_subprocess("sqlite", tmp_path) as url:
        config = str(write_deals_config(tmp_path, url))
        result = teambeat(
            "deals", "import", str(source), "--team", "east", "--announce", "-c", config, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr.decode()
        out = result.stdout.decode()
        assert "imported 2 deal(s)" in out and "(1 announced)" in out
        assert "喜报" in out and "¥8,800" in out and "新客户" in out  # delivered to the console channel
        assert "老客户" not in out
        keys = [
            k for (k,) in await query(url, select(OutboxRow.dedupe_key).where(OutboxRow.status == "sent"))
        ]
        assert len([k for k in keys if k.startswith("deal:")]) == 1


async def test_export_checkins_has_one_column_per_question_with_amounts_in_major_units(tmp_path):
    async with database_for_subprocess("sqlite", tmp_path) as url:
        config = str(write_deals_config(tmp_path, url))
        # The first export migrates the database and seeds the team; then two check-ins are added directly.
        empty = teambeat(
            "export",
            "checkins",
            "--team",
            "east",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-06",
            "-c",
            config,
            cwd=tmp_path,
        )
        assert rows_of(empty.stdout) == []
        assert empty.stdout.startswith(
            BOM + b"date,member,member_name,group,status,skip_reason,completed_at,done,target,blockers"
        )
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                team_id = (await connection.execute(select(Team.id).where(Team.slug == "east"))).scalar_one()
                ids = dict((await connection.execute(select(Member.user_id, Member.id))).all())
                at = datetime(2026, 11, 3, 1, 30, tzinfo=UTC)
                done = await connection.execute(
                    Checkin.__table__.insert().values(
                        team_id=team_id,
                        member_id=ids["alice"],
                        day=datetime(2026, 11, 3).date(),
                        status="done",
                        skip_reason="",
                        started_at=at,
                        completed_at=at,
                        reminders_sent=0,
                    )
                )
                await connection.execute(
                    CheckinAnswer.__table__.insert(),
                    [
                        dict(
                            checkin_id=done.inserted_primary_key[0],
                            question_key="done",
                            position=0,
                            kind="text",
                            text="=拜访3家",
                            amount_minor=None,
                        ),
                        dict(
                            checkin_id=done.inserted_primary_key[0],
                            question_key="target",
                            position=1,
                            kind="amount",
                            text="5万",
                            amount_minor=5_000_000,
                        ),
                    ],
                )
                await connection.execute(
                    Checkin.__table__.insert().values(
                        team_id=team_id,
                        member_id=ids["bob"],
                        day=datetime(2026, 11, 4).date(),
                        status="skipped",
                        skip_reason="病假",
                        started_at=at,
                        completed_at=None,
                        reminders_sent=1,
                    )
                )
        finally:
            await engine.dispose()
        result = teambeat(
            "export",
            "checkins",
            "--team",
            "east",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-06",
            "-c",
            config,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr.decode()
        rows = rows_of(result.stdout)
        assert [
            (
                r["date"],
                r["member"],
                r["group"],
                r["status"],
                r["completed_at"],
                r["done"],
                r["target"],
                r["skip_reason"],
            )
            for r in rows
        ] == [
            ("2026-11-03", "alice", "狼队", "done", "2026-11-03 09:30:00+08:00", "'=拜访3家", "50000.00", ""),
            ("2026-11-04", "bob", "虎队", "skipped", "", "", "", "病假"),
        ]
        backwards = teambeat(
            "export",
            "checkins",
            "--team",
            "east",
            "--from",
            "2026-11-06",
            "--to",
            "2026-11-02",
            "-c",
            config,
            cwd=tmp_path,
        )
        assert backwards.returncode == 1 and b"--to is before --from" in backwards.stderr

"""The `teambeat` command as a newcomer uses it: run from any folder, piped input, demo, admin commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "adapters.cli"]


def teambeat(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)


def test_piped_console_session_from_any_folder(tmp_path):
    script = "/help\n/goal team 300000 month\n/deal 12800\n/kudos @alice great call\n/rank\n/recap\n"
    result = teambeat("run", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "/目标 团队 30万 本月" in out  # help shows Chinese usage: the sample team is zh-CN
    assert "¥30万" in out and "喜报" in out and "开单" in out
    assert "[#华东一部]" in out  # channel posts say where they went
    assert "great call" in out and "🥇 lily" in out
    assert (tmp_path / "teambeat.db").exists()
    assert "Traceback" not in result.stderr


def test_as_switches_speaker_and_plain_lines_go_to_the_dm(tmp_path):
    result = teambeat("run", cwd=tmp_path, stdin="/as bob\n/checkin\n拜访客户\n")
    assert "now speaking as bob" in result.stdout
    assert "DM → bob" in result.stdout and "2/3" in result.stdout


def test_demo_runs_a_believable_day(tmp_path):
    result = teambeat("demo", "--days", "1", "--start", "2026-11-23", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("早会", "喜报", "开单", "业绩复盘", "小组PK", "打卡完成"):
        assert expected in out, expected
    assert not (tmp_path / "teambeat.db").exists()  # the demo keeps its data to itself


def test_check_config_lists_every_problem_and_exits_1(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "x"\n[[teams]]\nid = "Bad Id"\nname = "t"\nplatform = "irc"\n', "utf-8")
    result = teambeat("check-config", "-c", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "server.port" in result.stdout and "platform" in result.stdout and "bad.toml" in result.stdout
    example = Path(__file__).parents[2] / "config.example.toml"
    good = teambeat("check-config", "-c", str(example), cwd=tmp_path)
    assert good.returncode == 0, good.stdout


def test_db_upgrade_and_post_once(tmp_path):
    config = tmp_path / "c.toml"
    sample = (Path(__file__).parents[2] / "adapters" / "console" / "sample.toml").read_text("utf-8")
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n' + sample, "utf-8")
    assert teambeat("db", "upgrade", "-c", str(config), cwd=tmp_path).returncode == 0
    recap = ("post", "recap", "--team", "sample", "--date", "2026-11-23", "-c", str(config))
    first = teambeat(*recap, cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.strip().endswith("posted"), first.stderr
    again = teambeat(*recap, cwd=tmp_path)
    assert again.stdout.strip() == "skipped: already posted"
    holiday = teambeat(
        *recap[:1], "morning", *recap[2:4], "--date", "2026-10-01", "-c", str(config), cwd=tmp_path
    )
    assert holiday.stdout.strip() == "skipped: not a workday"


def test_a_second_run_on_the_same_database_answers_its_first_commands(tmp_path):
    """Console event ids are remembered in the database: a restart counting from 1 again was taken for a
    platform retry, and its first commands went unanswered."""
    first = teambeat("run", cwd=tmp_path, stdin="/deal 12800\n/rank\n")
    assert first.returncode == 0, first.stderr
    assert "已登记成交 #1" in first.stdout
    second = teambeat("run", cwd=tmp_path, stdin="/deal 12800\n/rank\n")
    assert second.returncode == 0, second.stderr
    assert "已登记成交 #2" in second.stdout
    assert "lily ¥2.56万 · 2单" in second.stdout

"""`teambeat post …` as an admin uses it: one scheduled post now, obeying the calendar and the once rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here runs the `teambeat` CLI in a process of its own

CLI = [sys.executable, "-m", "adapters.cli"]
SAMPLE = Path(__file__).parents[2] / "adapters" / "console" / "sample.toml"


def teambeat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def test_post_weekly_prints_posted_not_a_workday_or_already_posted(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n' + SAMPLE.read_text("utf-8"), "utf-8"
    )
    post = ("post", "weekly", "--team", "sample", "-c", str(config))

    first = teambeat(*post, "--date", "2026-11-27", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "posted"
    assert "周会总结 · 11月23日–11月29日" in first.stdout  # delivered to the console before exiting

    again = teambeat(*post, "--date", "2026-11-26", cwd=tmp_path)  # Thursday: the same week
    assert (again.returncode, again.stdout.strip()) == (0, "skipped: already posted")

    holiday = teambeat(*post, "--date", "2026-10-02", cwd=tmp_path)  # Friday of National Day week
    assert (holiday.returncode, holiday.stdout.strip()) == (0, "skipped: not a workday")

    forced = teambeat(*post, "--date", "2026-11-27", "--force", cwd=tmp_path)
    assert forced.stdout.strip().splitlines()[-1] == "posted" and "周会总结" in forced.stdout

    checkin = teambeat(
        "post", "checkin", "--team", "sample", "--date", "2026-11-27", "-c", str(config), cwd=tmp_path
    )
    assert checkin.stdout.strip().splitlines()[-1] == "posted", checkin.stderr
    assert "DM → alice" in checkin.stdout and "打卡 1/3" in checkin.stdout

    bad = teambeat(*post, "--date", "27/11/2026", cwd=tmp_path)
    assert bad.returncode == 1 and "YYYY-MM-DD" in bad.stderr
    unknown = teambeat("post", "monthly", "--team", "nope", "-c", str(config), cwd=tmp_path)
    assert unknown.returncode == 1 and "nope" in unknown.stderr


def test_post_insights_like_the_other_kinds_and_a_quiet_day_sends_nothing(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n' + SAMPLE.read_text("utf-8"), "utf-8"
    )
    post = ("post", "insights", "--team", "sample", "-c", str(config))
    # Off in the sample's schedule, yet run by hand at its usual 18:15; a team with no history yet
    # gives the leader nothing to read, so nothing is sent at all.
    first = teambeat(*post, "--date", "2026-11-27", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "posted" and "DM →" not in first.stdout
    again = teambeat(*post, "--date", "2026-11-27", cwd=tmp_path)
    assert (again.returncode, again.stdout.strip()) == (0, "skipped: already posted")
    holiday = teambeat(*post, "--date", "2026-10-02", cwd=tmp_path)
    assert (holiday.returncode, holiday.stdout.strip()) == (0, "skipped: not a workday")
    forced = teambeat(*post, "--date", "2026-11-27", "--force", cwd=tmp_path)
    assert forced.stdout.strip() == "posted"

"""P7 — memory: the real `teambeat run` with all three platform adapters configured (Slack, DingTalk and
WeCom, each in HTTP mode so nothing connects out), idle. Targets: RSS ≤ 150 MB with a few members;
≤ 250 MB with 10,000 members loaded (declared in the config, so they are parsed and seeded at start).

Every API base URL points at a loopback port nobody listens on: nothing leaves the machine. Schedules are
set hours away from now, so "idle" means idle. RSS is VmRSS from /proc of the process and any children,
read once it has settled (no change above 1 MB over 5 s, after /healthz answered).

Run: python -m bench.p7_memory [--members 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import Report, median, run, scratch_dir
from bench.runner import BotProcess, free_port

PLATFORMS = ("slack", "dingtalk", "wecom")
ZONE = "Asia/Shanghai"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 letters and digits, as WeCom issues
GROUPS_PER_TEAM = 20


def idle_schedule(now: datetime) -> list[str]:
    """Every scheduled post hours away (and the weekly/monthly ones on other days): nothing falls due."""
    first = now + timedelta(hours=6)
    if first.hour == 23:  # the reminder an hour later must fall on the same day (after the check-in)
        first = now + timedelta(hours=4)
    at = first.strftime("%H:%M")
    later = (first + timedelta(hours=1)).strftime("%H:%M")
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(now.weekday() + 3) % 7]
    day = 15 if now.day != 15 else 16
    return [
        "[teams.schedule]",
        f'checkin = "{at}"',
        f'reminders = ["{later}"]',
        f'morning = "{at}"',
        f'evening = "{later}"',
        f'weekly = "{weekday} {at}"',
        f'monthly = "{day} {at}"',
    ]


def member_id(platform: str, i: int) -> str:
    return {"slack": f"U{i:08d}", "dingtalk": f"staff{i:06d}", "wecom": f"wecom.user{i}"}[platform]


def config_text(db: Path, port: int, dead: int, members: int) -> str:
    """Three teams, one per platform, `members` people spread over them, every API on a dead port."""
    base = f"http://127.0.0.1:{dead}"
    lines = [
        f'[database]\nurl = "sqlite:///{db}"\n',
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n',
        '[slack]\nmode = "http"\nbot_token = "xoxb-p7"\nsigning_secret = "p7-secret"',
        f'api_base_url = "{base}/api/"\n',
        '[dingtalk]\nmode = "http"\napp_key = "p7key"\napp_secret = "p7secret"',
        f'api_base_url = "{base}"\noapi_base_url = "{base}"\n',
        '[wecom]\ncorp_id = "wwp7"\nagent_id = 1000002\nsecret = "p7secret"\ntoken = "p7token"',
        f'encoding_aes_key = "{AES_KEY}"\napi_base_url = "{base}"\n',
    ]
    schedule = idle_schedule(datetime.now(ZoneInfo(ZONE)))
    for index, platform in enumerate(PLATFORMS):
        people = [member_id(platform, i) for i in range(index, members, len(PLATFORMS))]
        lines += [
            "[[teams]]",
            f'id = "p7-{platform}"',
            f'name = "P7 {platform}"',
            f'platform = "{platform}"',
            f'workspace = "ws-{platform}"',
            f'channel = "chan-{platform}"',
            f'timezone = "{ZONE}"',
            f'leaders = ["{people[0]}"]' if people else "leaders = []",
            *schedule,
        ]
        groups = min(GROUPS_PER_TEAM, len(people))
        for g in range(groups):
            lines += ["[[teams.groups]]", f'name = "group-{g}"']
        for n, person in enumerate(people):
            lines += [
                "[[teams.members]]",
                f'id = "{person}"',
                f'name = "成员{n}"',
                f'email = "{person}@example.com"',
                f'group = "group-{n % groups}"',
            ]
    return "\n".join(lines) + "\n"


def tree_rss_kb(pid: int) -> int:
    """VmRSS of `pid` and every descendant (kB)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


async def settled_rss_mb(pid: int, window_s: float = 5.0, limit_s: float = 60.0) -> tuple[float, float]:
    """(RSS once steady, seconds it took): steady = samples over `window_s` within 1 MB of each other."""
    began = time.monotonic()
    samples: list[tuple[float, int]] = []
    while True:
        now = time.monotonic()
        samples.append((now, tree_rss_kb(pid)))
        recent = [kb for at, kb in samples if at >= now - window_s]
        if now - began >= window_s and max(recent) - min(recent) <= 1024:
            return median([float(kb) for kb in recent]) / 1024, now - began
        if now - began > limit_s:
            return median([float(kb) for kb in recent]) / 1024, now - began
        await asyncio.sleep(0.5)


async def measure(members: int, label: str) -> tuple[float, float, float]:
    """(settled RSS MB, seconds to start listening, seconds to settle) for one `teambeat run`."""
    folder = scratch_dir()
    port = free_port()
    config = folder / f"p7-{label}.toml"
    config.write_text(config_text(folder / "p7.db", port, free_port(), members), encoding="utf-8")
    bot = BotProcess(config, folder / f"p7-{label}.log")
    started = time.monotonic()
    bot.start()
    assert bot.process is not None
    try:
        await bot.wait_listening(port, timeout=900)
        startup = time.monotonic() - started
        rss, settle = await settled_rss_mb(bot.process.pid)
        if bot.process.poll() is not None:
            raise RuntimeError(f"teambeat run exited; see {bot.log}")
    finally:
        bot.stop()
    return rss, startup, settle


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--few", type=int, default=12, help="members in the idle run")
    args = parser.parse_args()
    report = Report("P7 memory: teambeat run with slack + dingtalk + wecom adapters (http modes), idle")

    idle_mb, idle_start, idle_settle = await measure(args.few, "idle")
    loaded_mb, loaded_start, loaded_settle = await measure(args.members, "loaded")

    report.figure("idle_members", args.few)
    report.figure("idle_startup_s", idle_start)
    report.figure("idle_settle_s", idle_settle)
    report.figure("loaded_members", args.members)
    report.figure("loaded_startup_s", loaded_start)
    report.figure("loaded_settle_s", loaded_settle)
    report.target("rss_idle_mb", idle_mb, at_most=150)
    report.target("rss_loaded_mb", loaded_mb, at_most=250)
    return report.finish()


if __name__ == "__main__":
    run(main)

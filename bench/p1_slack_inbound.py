"""P1 — Slack inbound: signed `/kudos <@U2|bob> great call` slash commands (givers rotating, no daily cap)
through the real `teambeat run` (HTTP mode, one uvicorn worker, SQLite file), 16 keep-alive connections
for 15 s. Baseline, measured in the same run: a bare slack-bolt AsyncApp that only acks, served the same
way. Targets: throughput ≥ 0.5 × baseline, p99 ≤ 50 ms, zero non-2xx.

Each process has its own: the bot, the baseline, the fake Slack Web API (every call the bot makes goes
there, never to slack.com) and this script, which is the load generator (raw asyncio HTTP/1.1 with
requests signed beforehand; its CPU share is printed to show it is not the bottleneck).

teambeat keeps each command as a job (a database row, committed before the acknowledgement) and
does the work (store the kudos, answer on response_url, post to the channel through the outbox) in the
background, as Slack asks of apps. The target is on what the bare app does too — acknowledgements per
second, against its own. The script then waits until every acknowledged command is stored and answered
(a target: nothing acknowledged is lost) and reports how long that took after the load
(`drain_after_load_s`) and `sustained_rps`: commands fully handled per second, backlog included. That
one is a figure, not a target: a bare app that only acks sets no ceiling for work it does not do.

Run: python -m bench.p1_slack_inbound [--duration 15] [--connections 16] [--warmup 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.common import Report, percentile, run, scratch_dir
from bench.http_load import LoadResult, closed_loop, post_request
from bench.runner import BotProcess, free_port

SECRET = "p1-signing-secret"
TOKEN = "xoxb-p1-bench"
TEAM = "T0BENCH"
CHANNEL = "C0BENCH"
RECEIVER = "U2"
GIVERS = [f"U{100 + i}" for i in range(40)]
HOST = "127.0.0.1"
MAX_RATE = 10_000  # requests built per second of load: far above what one uvicorn worker answers here


def slack_config(db: Path, port: int, fake_port: int) -> str:
    lines = [
        f'[database]\nurl = "sqlite:///{db}"\n',
        f'[server]\nhost = "{HOST}"\nport = {port}\n',
        "[slack]",
        'mode = "http"',
        f'bot_token = "{TOKEN}"',
        f'signing_secret = "{SECRET}"',
        f'api_base_url = "http://{HOST}:{fake_port}/api/"\n',
        "[[teams]]",
        'id = "bench"',
        'name = "Bench Sales"',
        'platform = "slack"',
        f'workspace = "{TEAM}"',
        f'channel = "{CHANNEL}"',
        'locale = "en"',
        'calendar = "everyday"',
        "kudos_daily_cap = 0",
        f'leaders = ["{GIVERS[0]}"]',
        "[[teams.members]]",
        f'id = "{RECEIVER}"',
        'name = "bob"',
    ]
    for user in GIVERS:
        lines += ["[[teams.members]]", f'id = "{user}"', f'name = "User{user}"']
    return "\n".join(lines) + "\n"


def kudos_requests(port: int, fake_port: int, count: int, tag: str) -> Iterator[bytes]:
    """`count` signed slash commands as raw HTTP requests, givers rotating, trigger ids unique."""
    now = str(int(time.time()))
    built = []
    for i in range(count):
        giver = GIVERS[i % len(GIVERS)]
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM,
                "team_domain": "bench",
                "channel_id": CHANNEL,
                "channel_name": "sales",
                "user_id": giver,
                "user_name": giver.lower(),
                "command": "/kudos",
                "text": f"<@{RECEIVER}|bob> great call",
                "api_app_id": "A0BENCH",
                "is_enterprise_install": "false",
                "response_url": f"http://{HOST}:{fake_port}/hooks/commands/{tag}{i}",
                "trigger_id": f"{tag}.{i}.bench",
            }
        ).encode()
        mac = hmac.new(SECRET.encode(), b"v0:" + now.encode() + b":" + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": now,
            "X-Slack-Signature": f"v0={mac}",
        }
        built.append(post_request(HOST, port, "/slack/events", body, headers))
    return iter(built)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (children not included: none here), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(module: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


async def measured(
    port: int, fake_port: int, pid: int, args: argparse.Namespace, tag: str
) -> tuple[LoadResult, float, int]:
    """A warm-up, then the measured load; (result, server CPU share, requests acknowledged in all)."""
    warm = await closed_loop(
        HOST,
        port,
        kudos_requests(port, fake_port, int(MAX_RATE * args.warmup) + 100, f"{tag}w"),
        args.connections,
        args.warmup,
    )
    await asyncio.sleep(0.5)
    requests = kudos_requests(port, fake_port, int(MAX_RATE * args.duration), tag)
    cpu_before = cpu_seconds(pid)
    result = await closed_loop(HOST, port, requests, args.connections, args.duration)
    server_cpu = (cpu_seconds(pid) - cpu_before) / result.wall_s
    acked = sum(n for s, n in (warm.statuses + result.statuses).items() if 200 <= s < 300)
    return result, server_cpu, acked


def kudos_stored(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
        return int(connection.execute("SELECT count(*) FROM kudos").fetchone()[0])


async def answers_sent(fake_port: int) -> int:
    async with httpx.AsyncClient() as client:
        counts = (await client.get(f"http://{HOST}:{fake_port}/_bench/counts")).json()
    return int(counts["response_url"])


async def drained(db: Path, fake_port: int, expected: int, answered_before: int, timeout: float) -> float:
    """Seconds until every acknowledged command is stored and answered (inf if not within timeout)."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        stored = kudos_stored(db)
        answered = await answers_sent(fake_port) - answered_before
        if stored >= expected and answered >= expected:
            return time.perf_counter() - began
        await asyncio.sleep(0.1)
    return float("inf")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    report = Report(f"P1 Slack inbound: /kudos, {args.connections} connections, {args.duration:g} s (sqlite)")
    folder = scratch_dir()
    fake_port, base_port, bot_port = free_port(), free_port(), free_port()
    fake = spawn(
        "bench.slack_fake",
        *("--port", str(fake_port), "--team", TEAM, "--token", TOKEN, "--channel", CHANNEL),
        *("--users", ",".join([RECEIVER, *GIVERS])),
        log=folder / "fake.log",
    )
    processes = [fake]
    try:
        await wait_http(f"http://{HOST}:{fake_port}/_bench/counts", fake)

        baseline = spawn(
            "bench.bolt_baseline",
            *("--port", str(base_port), "--secret", SECRET, "--token", TOKEN),
            *("--api-base-url", f"http://{HOST}:{fake_port}/api/"),
            log=folder / "baseline.log",
        )
        processes.append(baseline)
        await wait_http(f"http://{HOST}:{base_port}/healthz", baseline)
        base, base_cpu, _ = await measured(base_port, fake_port, baseline.pid, args, "b")
        baseline.terminate()
        baseline.wait(10)

        db = folder / "p1.db"
        config = folder / "p1.toml"
        config.write_text(slack_config(db, bot_port, fake_port), encoding="utf-8")
        bot = BotProcess(config, folder / "p1.log")
        bot.start()
        assert bot.process is not None
        try:
            await bot.wait_listening(bot_port)
            answered_before = await answers_sent(fake_port)
            result, bot_cpu, acked = await measured(bot_port, fake_port, bot.process.pid, args, "t")
            drain_s = await drained(db, fake_port, acked, answered_before, timeout=1200)
            stored = kudos_stored(db)
            answered = await answers_sent(fake_port) - answered_before
        finally:
            bot.stop()
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(10)

    sustained = result.completed / (result.wall_s + drain_s)
    report.figure("baseline_rps", base.rps)
    report.figure("baseline_p99_ms", percentile(base.latencies_ms, 99))
    report.figure("baseline_server_cpu", base_cpu)
    report.figure("baseline_client_cpu", base.client_cpu_s / base.wall_s)
    report.figure("requests", result.completed)
    report.figure("teambeat_rps", result.rps)
    report.figure("teambeat_server_cpu", bot_cpu)
    report.figure("client_cpu", result.client_cpu_s / result.wall_s)
    report.figure("drain_after_load_s", drain_s)
    report.figure("sustained_rps", sustained)
    report.target("kudos_stored", stored, at_least=acked)
    report.target("answers_sent", answered, at_least=acked)
    report.target("connection_errors", sum((result.errors + base.errors).values()), at_most=0)
    report.target("non_2xx", result.non_2xx + base.non_2xx, at_most=0)
    report.figure("p50_ms", percentile(result.latencies_ms, 50))
    report.target("p99_ms", percentile(result.latencies_ms, 99), at_most=50)
    report.target("throughput_ratio", result.rps / base.rps, at_least=0.5)
    report.figure("sustained_ratio", sustained / base.rps)
    return report.finish()


if __name__ == "__main__":
    run(main)

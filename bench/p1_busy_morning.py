"""P1 — a busy morning: signed Slack slash commands from 500 members, a mix of `/deal`, `/kudos`,
`/rank month` and `/checkin a; b; c`, at 30 requests/s for 60 s (open loop) into `teambeat run` (HTTP
mode); then, with `--rates`, the same mix stepped up until replies fall behind.

Targets (quality.md): acknowledgement p99 ≤ 200 ms; reply (the response_url POST the fake receives) p99
≤ 1 s; every command answered exactly once; capacity (the highest rate whose reply p99 stays ≤ 1 s)
≥ 100 commands/s, printed as a figure.

The fake Slack Web API runs in a process of its own (bench.slack_fake) and notes when each response_url
answer arrives; a reply's latency is that moment minus the moment its command was due to leave.

Run: python -m bench.p1_busy_morning [--rate 30] [--seconds 60] [--rates 30 60 100 150]
     [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.common import Report, measure_on, percentile, run, scratch_dir
from bench.openloop import http_request, open_loop
from bench.p1_slack_inbound import spawn, wait_http
from bench.runner import BotProcess, free_port

SECRET = "p1-signing-secret"
TOKEN = "xoxb-p1-bench"
TEAM = "T0BENCH"
CHANNEL = "C0BENCH"
HOST = "127.0.0.1"
MEMBERS = [f"U{1000 + i}" for i in range(500)]
REPLY_TARGET_MS = 1000.0


def config_text(url: str, port: int, fake_port: int) -> str:
    lines = [
        f'[database]\nurl = "{url}"\n',
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
        f'leaders = ["{MEMBERS[0]}"]',
    ]
    for user in MEMBERS:
        lines += ["[[teams.members]]", f'id = "{user}"', f'name = "User{user}"']
    return "\n".join(lines) + "\n"


def command(i: int) -> tuple[str, str, str]:
    """The i-th command of the morning's mix, in turn a deal, a kudos, the month's ranking and a
    check-in: (command, text, who)."""
    user = MEMBERS[(i * 7) % len(MEMBERS)]
    other = MEMBERS[(i * 7 + 1) % len(MEMBERS)]
    mix = [
        ("/deal", f"{1000 + i % 9000}"),
        ("/kudos", f"<@{other}|user{other.lower()}> great call"),
        ("/rank", "month"),
        ("/checkin", "visited 3 clients; 12.8k; need a quote"),
    ]
    name, text = mix[i % len(mix)]
    return name, text, user


def requests(port: int, fake_port: int, count: int, tag: str) -> list[bytes]:
    """`count` signed slash commands as raw HTTP requests, each with its own response_url `tag`<i>."""
    now = str(int(time.time()))
    built = []
    for i in range(count):
        name, text, user = command(i)
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM,
                "team_domain": "bench",
                "channel_id": CHANNEL,
                "channel_name": "sales",
                "user_id": user,
                "user_name": user.lower(),
                "command": name,
                "text": text,
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
        built.append(http_request("POST", "/slack/events", f"{HOST}:{port}", body, headers))
    return built


async def answers(fake_port: int) -> dict[str, list[float]]:
    async with httpx.AsyncClient(timeout=30) as client:
        return (await client.get(f"http://{HOST}:{fake_port}/_bench/answers")).json()


async def one_rate(
    bot: BotProcess, port: int, fake_port: int, rate: float, seconds: float, tag: str
) -> dict[str, float]:
    """The mix at `rate` for `seconds`; waits (up to 2 min) until every acknowledged command is answered."""
    built = requests(port, fake_port, int(rate * seconds), tag)
    cpu_before = bot.cpu_seconds()
    wall_minus_mono = time.time() - time.monotonic()
    load = await open_loop(HOST, port, built, rate)
    acked = {i for i, a in enumerate(load.answers) if 200 <= a.status < 300}
    deadline = time.monotonic() + 120
    while True:
        arrived = {k: v for k, v in (await answers(fake_port)).items() if k.startswith(tag)}
        if len(arrived) >= len(acked) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    cpu_ms = (bot.cpu_seconds() - cpu_before) * 1000
    replies = []
    for i, answer in enumerate(load.answers):
        times = arrived.get(f"{tag}{i}")
        if times:
            replies.append((min(times) - (answer.scheduled + wall_minus_mono)) * 1000)
    acks = [a.latency_ms for a in load.answers]
    return {
        "sent": len(load.answers),
        "non_2xx": len(load.answers) - len(acked),
        "ack_p50_ms": percentile(acks, 50),
        "ack_p99_ms": percentile(acks, 99),
        "reply_p50_ms": percentile(replies, 50) if replies else float("inf"),
        "reply_p99_ms": percentile(replies, 99) if replies else float("inf"),
        "unanswered": len(acked) - len([i for i in acked if arrived.get(f"{tag}{i}")]),
        "answered_twice": sum(1 for v in arrived.values() if len(v) > 1),
        "late_generator_ms": max(a.lag_ms for a in load.answers),
        "bot_cpu_ms_per_command": cpu_ms / max(1, len(acked)),
    }


async def measure(url: str, folder: Path, args: argparse.Namespace) -> Report:
    report = Report(
        f"P1 a busy morning: Slack mix at {args.rate:g}/s for {args.seconds:g} s ({args.backend})"
    )
    fake_port, bot_port = free_port(), free_port()
    fake = spawn(
        "bench.slack_fake",
        *("--port", str(fake_port), "--team", TEAM, "--token", TOKEN, "--channel", CHANNEL),
        *("--users", ",".join(MEMBERS)),
        log=folder / "fake.log",
    )
    try:
        await wait_http(f"http://{HOST}:{fake_port}/_bench/counts", fake)
        config = folder / "p1.toml"
        config.write_text(config_text(url, bot_port, fake_port), encoding="utf-8")
        bot = BotProcess(config, folder / "p1.log")
        bot.start()
        try:
            await bot.wait_listening(bot_port)
            await one_rate(bot, bot_port, fake_port, 5.0, 4.0, "w")  # warm-up: pools, statements, users
            main = await one_rate(bot, bot_port, fake_port, args.rate, args.seconds, "m")
            capacity = args.rate if main["reply_p99_ms"] <= REPLY_TARGET_MS else 0.0
            steps = []
            for n, rate in enumerate(sorted(r for r in args.rates if r > args.rate)):
                step = await one_rate(bot, bot_port, fake_port, rate, args.step_seconds, f"s{n}x")
                steps.append(
                    f"{rate:g}/s: reply p99 {step['reply_p99_ms']:.0f} ms, ack p99 "
                    f"{step['ack_p99_ms']:.0f} ms, unanswered {step['unanswered']:.0f}, "
                    f"bot CPU {step['bot_cpu_ms_per_command']:.1f} ms a command"
                )
                if step["reply_p99_ms"] > REPLY_TARGET_MS or step["unanswered"]:
                    break
                capacity = rate
        finally:
            bot.stop()
    finally:
        fake.terminate()
        fake.wait(10)
    for name in (
        "sent",
        "non_2xx",
        "ack_p50_ms",
        "reply_p50_ms",
        "late_generator_ms",
        "bot_cpu_ms_per_command",
    ):
        report.figure(name, main[name])
    report.target("ack_p99_ms", main["ack_p99_ms"], at_most=200)
    report.target("reply_p99_ms", main["reply_p99_ms"], at_most=REPLY_TARGET_MS)
    report.target("unanswered", main["unanswered"], at_most=0)
    report.target("answered_twice", main["answered_twice"], at_most=0)
    for line in steps:
        report.figure("step", line)
    if steps:
        report.target("capacity_per_s", capacity, at_least=100)
    return report


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rates", type=float, nargs="*", default=[], help="then step up through these")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    folder = scratch_dir()
    return await measure_on(
        args.backend, folder, "p1", "P1 a busy morning", lambda url: measure(url, folder, args)
    )


if __name__ == "__main__":
    run(main)

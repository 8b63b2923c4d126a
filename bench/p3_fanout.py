"""P3 — fan-out: the day's check-in prompts DMed to 2,000 members of a DingTalk team by the real
`teambeat post checkin --team bench` (it enqueues one DM per member in the outbox and delivers them
before it exits), against a fake DingTalk whose server API takes at most `--qps` requests a second
from the app and refuses the excess (HTTP 403 Forbidden.AccessDenied.QpsLimitForApi), as DingTalk does.
The prompt carries buttons, so each member's prompt is a robot card (one call each, not 20 a batchSend).

The baseline is the allowed rate itself: the achieved send rate (accepted DM calls per second, from the
first to the last) is reported as a ratio of it. Every member must get exactly one prompt.

The bot is configured to the same rate (`[dingtalk] api_qps`). Before sending, the command builds and
queues all the prompts in one transaction; that time is reported (first_send_after_s) but is not part
of the send rate.

Run: python -m bench.p3_fanout [--members N] [--qps Q] [--backend sqlite|postgres] [--timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bench.common import (
    Report,
    measure_on,
    run,
    scratch_dir,
)
from bot.clock import SystemClock
from bot.storage.db import create_engine
from bot.storage.orm import OutboxRow
from tests.fakes.dingtalk import APP_KEY, APP_SECRET, CORP, EAST, ROBOT_CODE, FakeDingTalk
from tests.support.loopback import serve
from tests.support.qps_gate import QpsGate

DM_PATH = "/v1.0/robot/oToMessages/batchSend"
CARD_PATH = "/v1.0/im/v1.0/robot/interactiveCards/send"  # a prompt with buttons is a card, one per member
APP_API = ("/v1.0/", "/topapi/")  # every server-API call the app makes counts towards its QPS


def config_text(url: str, api: str, members: int, qps: int) -> str:
    lines = [
        f'[database]\nurl = "{url}"\n',
        "[dingtalk]",
        'mode = "stream"',
        f'app_key = "{APP_KEY}"',
        f'app_secret = "{APP_SECRET}"',
        f'robot_code = "{ROBOT_CODE}"',
        f'api_base_url = "{api}"',
        f'oapi_base_url = "{api}"',
        f"api_qps = {qps}\n",
        "[[teams]]",
        'id = "bench"',
        'name = "压测大区"',
        'platform = "dingtalk"',
        f'workspace = "{CORP}"',
        f'channel = "{EAST}"',
        'calendar = "everyday"',
        'leaders = ["u0"]',
    ]
    for i in range(members):
        lines += ["[[teams.members]]", f'id = "u{i}"', f'name = "成员{i}"']
    return "\n".join(lines) + "\n"


async def post_checkin(config: Path, log: Path, timeout: float) -> tuple[int, float, str]:
    """`teambeat post checkin --team bench`: its exit code, wall time and what it printed."""
    began = time.perf_counter()
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.cli",
            "post",
            "checkin",
            "--team",
            "bench",
            "-c",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=out,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            return -1, time.perf_counter() - began, "timed out"
    return process.returncode or 0, time.perf_counter() - began, stdout.decode().strip()


async def outbox_statuses(url: str) -> Counter[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxRow.status, func.count())
                .where(OutboxRow.dedupe_key.like("checkin-prompt:%"))
                .group_by(OutboxRow.status)
            )
            return Counter({status: count for status, count in rows})
    finally:
        await engine.dispose()


async def fan_out(url: str, folder: Path, args: argparse.Namespace) -> Report:
    report = Report(
        f"P3 fan-out: check-in prompts to {args.members} DingTalk members, app limit {args.qps}/s "
        f"({args.backend})"
    )
    users = {f"u{i}": f"成员{i}" for i in range(args.members)}
    fake = FakeDingTalk(clock=SystemClock(), users=users)
    gate = QpsGate(fake.asgi(), args.qps, APP_API)
    timeout = args.timeout or 3 * args.members / args.qps + 120

    async with serve(gate) as api:
        config = folder / "p3.toml"
        config.write_text(config_text(url, api, args.members, args.qps), encoding="utf-8")
        began = time.monotonic()
        code, wall, printed = await post_checkin(config, folder / "p3.log", timeout)

    calls = [c for c in fake.calls if c.path in (DM_PATH, CARD_PATH)]
    accepted = fake.ok(DM_PATH) + fake.ok(CARD_PATH)
    received = Counter(user for call in fake.ok(DM_PATH) for user in call.body["userIds"])
    received.update(json.loads(call.body["singleChatReceiver"])["userId"] for call in fake.ok(CARD_PATH))
    requests = len(gate.passed) + len(gate.refused)
    span = gate.passed[-1] - gate.passed[0] if len(gate.passed) > 1 else 0.0
    # n calls at the allowed rate take (n - 1) / rate seconds from the first to the last
    achieved = (len(gate.passed) - 1) / span if span > 0 else 0.0
    statuses = await outbox_statuses(url)

    report.figure("command", f"teambeat post checkin --team bench -> exit {code}, {printed!r}")
    report.figure("wall_s", wall)
    report.figure("first_send_after_s", gate.passed[0] - began if gate.passed else float("nan"))
    report.figure("sending_s", span)
    report.figure("members", args.members)
    report.figure("outbox_rows", repr(dict(sorted(statuses.items()))))
    report.figure("api_requests", requests)
    report.figure("dm_calls", len(calls))
    report.figure("dm_calls_accepted", len(accepted))
    report.figure("allowed_rate_per_s", float(args.qps))
    report.figure("achieved_rate_per_s", achieved)
    gaps = [b - a for a, b in zip(gate.passed, gate.passed[1:], strict=False)]
    report.figure("longest_gap_between_calls_s", max(gaps, default=0.0))
    report.target("achieved_over_allowed", achieved / args.qps, at_least=0.9)
    report.target("limit_answers_pct", 100 * len(gate.refused) / max(requests, 1), at_most=1.0)
    report.target("lost", sum(1 for user in users if received[user] == 0), at_most=0)
    report.target("duplicates", sum(n - 1 for n in received.values() if n > 1), at_most=0)
    report.figure("log", str(folder / "p3.log"))
    if code != 0:
        report.missed.append(f"teambeat post checkin exited with {code}")
    return report


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--qps", type=int, default=20, help="the fake's app-wide limit, requests/s")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=0.0, help="seconds (0: 3 × the ideal time + 120)")
    args = parser.parse_args()
    folder = scratch_dir()
    return await measure_on(args.backend, folder, "p3", "P3 fan-out", lambda url: fan_out(url, folder, args))


if __name__ == "__main__":
    run(main)

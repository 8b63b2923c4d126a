"""P4 — robot limit: 60 signed deal webhooks within 10 s to the real `teambeat run`, for a team whose
channel is a DingTalk custom group robot (`channel_webhook` + `channel_secret`). The fake DingTalk
enforces the robot's real limit on the real clock: 20 messages in any 60 s, and a 10-minute block
(errcode 130101) for the robot that sends a 21st. Nothing is scaled down: the run takes 3–4 minutes.

Every deal must appear (by its unique customer name) in a post — its own 喜报 or a digest — within
3 minutes of its webhook being acknowledged, and no 60-second window may carry more than 20 of the
bot's robot calls (counted on what the bot tried, not only on what the fake accepted). The baseline is
the allowed rate: the busiest window is reported as a ratio of 20.

Run: python -m bench.p4_robot_limit [--deals N] [--within S] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from adapters.web.deals_hook import sign
from bench.common import (
    Report,
    measure_on,
    run,
    scratch_dir,
)
from bench.runner import BotProcess, free_port
from bot.clock import SystemClock
from bot.storage.db import create_engine
from bot.storage.orm import OutboxRow
from tests.fakes.dingtalk import CORP, FakeDingTalk
from tests.support.loopback import serve

SECRET = "bench-deals-secret"
ROBOT_TOKEN = "p4-robot-token"
ROBOT_SECRET = "SEC" + "4" * 64
CHANNEL = "cidP4Bench=="
LIMIT, WINDOW = 20, timedelta(seconds=60)
DEADLINE = timedelta(minutes=3)
MEMBERS = 20


def config_text(url: str, port: int, api: str) -> str:
    lines = [
        f'[database]\nurl = "{url}"\n',
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n',
        f'[hooks]\ndeals_secret = "{SECRET}"\n',
        # no app credentials: the team posts through its custom robot only
        f'[dingtalk]\nmode = "stream"\napi_base_url = "{api}"\noapi_base_url = "{api}"\n',
        "[[teams]]",
        'id = "bench"',
        'name = "压测一部"',
        'platform = "dingtalk"',
        f'workspace = "{CORP}"',
        f'channel = "{CHANNEL}"',
        f'channel_webhook = "https://oapi.dingtalk.com/robot/send?access_token={ROBOT_TOKEN}"',
        f'channel_secret = "{ROBOT_SECRET}"',
        'calendar = "everyday"',
        'leaders = ["d0"]',
    ]
    for name, members in (("狼队", range(0, MEMBERS, 2)), ("虎队", range(1, MEMBERS, 2))):
        ids = json.dumps([f"d{i}" for i in members])
        lines += ["[[teams.groups]]", f'name = "{name}"', f"members = {ids}"]
    for i in range(MEMBERS):
        lines += ["[[teams.members]]", f'id = "d{i}"', f'name = "销售{i}"']
    return "\n".join(lines) + "\n"


def customer(i: int) -> str:
    """A name no other deal's name contains, so a post shows exactly which deals it carries."""
    return f"P4客户{i:03d}"


async def fire(base: str, deals: int, within: float) -> tuple[dict[int, datetime], list[int]]:
    """Open-loop: deal i leaves at i × within / deals seconds; when each was acknowledged, and statuses."""
    acknowledged: dict[int, datetime] = {}
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(i: int) -> None:
            body = json.dumps(
                {
                    "id": f"p4-{i}",
                    "team": "bench",
                    "member": f"d{i % MEMBERS}",
                    "amount": 1000 + 37 * i,
                    "customer": customer(i),
                },
                ensure_ascii=False,
            ).encode()
            ts = str(int(time.time()))
            headers = {
                "X-Teambeat-Timestamp": ts,
                "X-Teambeat-Signature": sign(SECRET, ts, body),
                "Content-Type": "application/json",
            }
            answer = await client.post("/hooks/deals", content=body, headers=headers)
            statuses.append(answer.status_code)
            if 200 <= answer.status_code < 300:
                acknowledged[i] = datetime.now(UTC)

        began = time.perf_counter()
        tasks = []
        for i in range(deals):
            delay = began + i * within / deals - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return acknowledged, statuses


def robot_text(body: dict) -> str:
    return str((body.get("markdown") or {}).get("text") or (body.get("text") or {}).get("content") or "")


def busiest_window(times: list[datetime]) -> int:
    """The most calls in any 60 s window as the fake counts them: (t − 60 s, t]."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - WINDOW:
            start += 1
        best = max(best, end - start + 1)
    return best


async def pending_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int(
                await connection.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")
                )
                or 0
            )
    finally:
        await engine.dispose()


async def against_bot(url: str, folder: Path, args: argparse.Namespace) -> Report:
    report = Report(
        f"P4 robot limit: {args.deals} deals within {args.within:g} s to a DingTalk group robot "
        f"limited to {LIMIT}/min, real time ({args.backend})"
    )
    fake = FakeDingTalk(clock=SystemClock(), robots={ROBOT_TOKEN: ROBOT_SECRET})
    async with serve(fake.asgi()) as api:
        port = free_port()
        config = folder / "p4.toml"
        config.write_text(config_text(url, port, api), encoding="utf-8")
        bot = BotProcess(config, folder / "p4.log")
        bot.start()
        try:
            await bot.wait_listening(port)
            acknowledged, statuses = await fire(f"http://127.0.0.1:{port}", args.deals, args.within)
            names = {i: customer(i) for i in acknowledged}
            last_ack = max(acknowledged.values(), default=datetime.now(UTC))
            give_up = last_ack + DEADLINE + timedelta(seconds=args.grace)
            while datetime.now(UTC) < give_up:
                shown = "\n".join(robot_text(body) for body in fake.robot_posts(ROBOT_TOKEN))
                if all(name in shown for name in names.values()) and await pending_rows(url) == 0:
                    break
                await asyncio.sleep(1.0)
            await asyncio.sleep(args.settle)  # anything still trickling out counts in the windows too
        finally:
            bot.stop()

    attempts = [c for c in fake.calls if c.path == "/robot/send"]
    accepted = [c for c in attempts if c.status == 200 and c.answer.get("errcode") == 0]
    refused = [c for c in attempts if c.answer.get("errcode") == 130101]
    first_post: dict[int, datetime] = {}
    carried = {i: 0 for i in names}
    deals_per_post = []
    for call in accepted:
        text = robot_text(call.body)
        shown = [i for i, name in names.items() if name in text]
        deals_per_post.append(len(shown))
        for i in shown:
            carried[i] += 1
            first_post.setdefault(i, call.at)
    delays = [(first_post[i] - acknowledged[i]).total_seconds() for i in first_post]
    busiest = busiest_window([c.at for c in attempts])

    report.figure("deals_sent", args.deals)
    report.target("deals_acknowledged", len(acknowledged), at_least=args.deals)
    report.figure("non_2xx", sum(1 for s in statuses if not 200 <= s < 300))
    report.figure("robot_calls", len(attempts))
    report.figure("posts_accepted", len(accepted))
    report.figure("posts_one_deal", deals_per_post.count(1))
    report.figure("posts_several_deals", sum(1 for n in deals_per_post if n > 1))
    report.figure("posts_other", deals_per_post.count(0))  # milestones, rank changes, scheduled posts
    report.figure("most_deals_in_a_post", max(deals_per_post, default=0))
    report.target("deals_missing_from_posts", len(names) - len(first_post), at_most=0)
    report.figure("deals_in_two_posts_or_more", sum(1 for n in carried.values() if n > 1))
    report.figure("p50_deal_to_post_s", sorted(delays)[len(delays) // 2] if delays else float("nan"))
    report.target("max_deal_to_post_s", max(delays, default=float("inf")), at_most=DEADLINE.total_seconds())
    report.target("busiest_60s_window_calls", busiest, at_most=LIMIT)
    report.figure("busiest_window_over_allowed", busiest / LIMIT)
    report.target("robot_refusals_130101", len(refused), at_most=0)
    report.figure("log", str(folder / "p4.log"))
    return report


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=60)
    parser.add_argument("--within", type=float, default=10.0, help="seconds the deals are spread over")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds to wait past the 3 minutes")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to keep watching at the end")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    folder = scratch_dir()
    return await measure_on(
        args.backend, folder, "p4", "P4 robot limit", lambda url: against_bot(url, folder, args)
    )


if __name__ == "__main__":
    run(main)

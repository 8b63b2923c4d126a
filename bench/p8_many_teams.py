"""P8 — many teams: 1,000 Slack teams (50 members each) on one PostgreSQL database, every team's morning
post due the same second, `teambeat run` replicas sharing the work; first two replicas, then one alone
(the same teams, the posts made again for another second) to show what the second replica buys.

Targets (quality.md): every post delivered within 60 s of its time, exactly once; each replica carries
at least a quarter of the work; adding the second replica shortens the time to the last post.

Each replica sends to a fake Slack of its own (bench.slack_fake), so the posts each one delivered are
counted where they arrived. The teams are seeded once (the teams through the bot's own seeding, the
members in bulk); the schedule is then set so that the morning post falls due `--lead` seconds later.

Run: python -m bench.p8_many_teams [--teams 1000] [--members 50] [--lead 45]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import delete, insert, select

from bench.common import (
    Report,
    percentile,
    postgres_available,
    postgres_database,
    postgres_url,
    run,
    scratch_dir,
)
from bench.p1_slack_inbound import spawn, wait_http
from bench.runner import BotProcess, free_port
from bot.app import build_app
from bot.config import Config, TeamConfig
from bot.storage.orm import JobRow, Member, OutboxRow, ScheduledPost, Team

TOKEN = "xoxb-p8-bench"
WORKSPACE = "T0P8"
HOST = "127.0.0.1"
ZONE = ZoneInfo("Asia/Shanghai")
DEADLINE_S = 60.0


def channel(i: int) -> str:
    return f"C{i:05d}"


def leader(i: int) -> str:
    return f"U{i:05d}L"


async def seed(url: str, teams: int, members: int) -> None:
    """The teams through the bot's own seeding (one leader each), the other members in bulk."""
    configs = [
        TeamConfig.model_validate(
            {
                "id": f"t{i}",
                "name": f"Team {i}",
                "platform": "slack",
                "workspace": WORKSPACE,
                "channel": channel(i),
                "calendar": "everyday",
                "leaders": [leader(i)],
            }
        )
        for i in range(teams)
    ]
    app = await build_app(Config.model_validate({"database": {"url": url}, "teams": configs}))
    try:
        now = datetime.now(UTC)
        async with app.sessionmaker() as session:
            ids = dict((await session.execute(select(Team.slug, Team.id))).all())
            rows = [
                {
                    "team_id": ids[f"t{i}"],
                    "user_id": f"U{i:05d}M{m}",
                    "name": f"成员{i}-{m}",
                    "role": "member",
                    "active": True,
                    "joined_at": now,
                }
                for i in range(teams)
                for m in range(members - 1)
            ]
            for start in range(0, len(rows), 5000):
                await session.execute(insert(Member), rows[start : start + 5000])
            await session.commit()
    finally:
        await app.close()


async def morning_due_in(url: str, lead: float) -> datetime:
    """Every team's morning post `lead` seconds from now; every other slot an hour ahead. Earlier runs'
    posts, outbox rows and jobs are cleared, so the same teams post again."""
    app = await build_app(Config.model_validate({"database": {"url": url}}), migrate=False)
    try:
        now = datetime.now(ZONE)
        due = (now + timedelta(seconds=lead)).replace(microsecond=0)
        later = f"{now + timedelta(hours=1):%H:%M}"
        schedule = {
            "checkin": later,
            "reminders": [later],
            "morning": f"{due:%H:%M:%S}",
            "evening": later,
            "weekly": f"{now + timedelta(hours=1):%a}".lower() + f" {later}",
            "monthly": f"last {later}",
        }
        async with app.sessionmaker() as session:
            for model in (ScheduledPost, OutboxRow, JobRow):
                await session.execute(delete(model))
            for team in (await session.scalars(select(Team))).all():
                team.schedule = dict(schedule)
            await session.commit()
    finally:
        await app.close()
    return due


def replica_config(url: str, port: int, fake_port: int) -> str:
    return "\n".join(
        [
            f'[database]\nurl = "{url}"\n',
            f'[server]\nhost = "{HOST}"\nport = {port}\n',
            "[images]\nenabled = false\n",
            "[slack]",
            'mode = "http"',
            f'bot_token = "{TOKEN}"',
            'signing_secret = "p8-secret"',
            f'api_base_url = "http://{HOST}:{fake_port}/api/"',
        ]
    )


async def posts(fake_port: int) -> list[tuple[str, float]]:
    async with httpx.AsyncClient(timeout=30) as client:
        return [tuple(p) for p in (await client.get(f"http://{HOST}:{fake_port}/_bench/posts")).json()]


async def one_run(url: str, folder: Path, replicas: int, teams: int, lead: float) -> dict[str, object]:
    """`replicas` processes, each with its fake; until every team's post arrived (or 3 min past due)."""
    due = await morning_due_in(url, lead)
    channels = ",".join(channel(i) for i in range(teams))
    users = ",".join(leader(i) for i in range(teams))
    fakes, bots, fake_ports = [], [], []
    try:
        for n in range(replicas):
            fake_port, port = free_port(), free_port()
            fake = spawn(
                "bench.slack_fake",
                *("--port", str(fake_port), "--team", WORKSPACE, "--token", TOKEN, "--channel", channels),
                *("--users", users),
                log=folder / f"fake{replicas}-{n}.log",
            )
            fakes.append(fake)
            fake_ports.append(fake_port)
            await wait_http(f"http://{HOST}:{fake_port}/_bench/counts", fake)
            config = folder / f"p8-{replicas}-{n}.toml"
            config.write_text(replica_config(url, port, fake_port), encoding="utf-8")
            bot = BotProcess(config, folder / f"p8-{replicas}-{n}.log")
            bot.start()
            bots.append((bot, port))
        for bot, port in bots:
            await bot.wait_listening(port)
        if datetime.now(ZONE) > due:
            raise RuntimeError(f"the replicas took longer than --lead {lead} s to start: raise it")
        wanted = {channel(i) for i in range(teams)}
        give_up = due.timestamp() + 180
        while True:
            arrived = [await posts(port) for port in fake_ports]
            seen = {c for each in arrived for c, _ in each if c in wanted}
            if len(seen) == len(wanted) or time.time() > give_up:
                break
            await asyncio.sleep(1.0)
    finally:
        for bot, _ in bots:
            bot.stop()
        for fake in fakes:
            fake.terminate()
            fake.wait(10)
    team_posts = [[(c, at) for c, at in each if c in wanted] for each in arrived]
    delays = [at - due.timestamp() for each in team_posts for _, at in each]
    by_channel = [c for each in team_posts for c, _ in each]
    return {
        "posted": len(set(by_channel)),
        "twice": len(by_channel) - len(set(by_channel)),
        "p50_s": percentile(delays, 50) if delays else float("inf"),
        "last_s": max(delays) if delays else float("inf"),
        "shares": [len(each) for each in team_posts],
    }


async def measure(url: str, folder: Path, args: argparse.Namespace) -> Report:
    report = Report(f"P8 many teams: {args.teams} teams x {args.members} members, PostgreSQL")
    began = time.monotonic()
    await seed(url, args.teams, args.members)
    report.figure("seed_s", time.monotonic() - began)
    two = await one_run(url, folder, 2, args.teams, args.lead)
    one = await one_run(url, folder, 1, args.teams, args.lead)
    for name, result in (("two", two), ("one", one)):
        for key in ("posted", "twice", "p50_s", "last_s", "shares"):
            value = result[key]
            report.figure(
                f"{name}_{key}", value if not isinstance(value, list) else "/".join(map(str, value))
            )
    report.target("two_unposted", args.teams - int(two["posted"]), at_most=0)
    report.target("two_posted_twice", float(two["twice"]), at_most=0)
    report.target("two_last_post_s", float(two["last_s"]), at_most=DEADLINE_S)
    shares = two["shares"]
    assert isinstance(shares, list)
    report.target("two_smaller_share", min(shares) / max(1, sum(shares)), at_least=0.25)
    report.target("second_replica_gain_s", float(one["last_s"]) - float(two["last_s"]), at_least=0.0)
    return report


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--lead", type=float, default=45.0, help="seconds from setting the time to the post")
    args = parser.parse_args()
    server = postgres_url()
    if not await postgres_available(server):
        print(f"no PostgreSQL server answers at {server}")
        return 1
    folder = scratch_dir()
    async with postgres_database(server) as url:
        return (await measure(url, folder, args)).finish()


if __name__ == "__main__":
    run(main)

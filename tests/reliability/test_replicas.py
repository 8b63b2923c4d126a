"""R4 and R5 (quality.md) against the real `teambeat run`: the evening recap across restarts, and two
replicas on one PostgreSQL database.

A subprocess's clock cannot be faked (the bot reads the system clock and APScheduler fires on it), so
posts fall due on the real wall clock. `[teams.schedule]` takes HH:MM only, which would mean waiting up
to a minute for each due time; instead the team is seeded from the config file exactly as `teambeat run`
seeds it on a first start, and then its stored schedule — the source of truth after the seed, which
takes HH:MM:SS for this purpose — puts the posts a few seconds ahead, in the team's timezone. Every other
slot is an hour ahead (its latest fire is yesterday's, long out of the 30-minute grace window) and the
calendar is `everyday`, so today is a workday whatever the date.

Each process runs the console team of tests/support/deals.py with the deal webhook on its own port; what
it posts is printed on its stdout as `┌─ [#channel]` or `┌─ [DM → name]` blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_app
from bot.config import load_config
from bot.services import directory
from bot.storage.db import create_engine
from bot.storage.orm import Deal, Member, OutboxRow, ScheduledPost, Team
from tests.support.bot_process import Bot, cleanup, free_port
from tests.support.databases import database_for_subprocess
from tests.support.deals import body_of, signed_headers, write_deals_config

TEAM = "east"  # the team of write_deals_config
MEMBERS = {"boss": "Boss", "alice": "Alice", "bob": "Bob", "carol": "Carol"}
SELLERS = ("alice", "bob", "carol")
RECAP = "【📊 业绩复盘"  # the recap's heading on the console
PROMPT = "【📝 打卡 1/"  # the first check-in question's heading
POST = re.compile(r"^┌─ \[(?P<to>[^\]\n]+)\]\n(?P<body>.*?)\n└─$", re.MULTILINE | re.DOTALL)
SETTLE_TIMEOUT = 60.0

R4_LEAD = 10.0  # seconds from seeding to the recap: run 1 starts, takes a deal and stops well before
R4_LATE = 1.5  # how long after the recap was due the bot is back: seconds, inside the grace window

R5_LEAD = 10.0  # seconds from seeding to the posts: both replicas start and take a first wave of deals
BURST = 120  # deals, in two waves: one after the replicas start, one spanning the moment the posts fall due
CONCURRENCY = 16
FAST_POLL = "\n[delivery]\npoll_interval = 0.2\n"  # idle workers look often: the replicas contend


# ----- the team's schedule --------------------------------------------------------------------------


async def seed_with_posts_due(config: Path, keys: Iterable[str], lead: float) -> datetime:
    """Seed the config's team as a first `teambeat run` would; then put the schedule `keys` (`evening`,
    `checkin`, …) `lead` seconds from now in the team's timezone, every other slot an hour ahead, and
    make every day a workday. Returns when the posts are due."""
    app = await build_app(load_config(config, environ={}))
    try:
        async with app.uow_factory() as uow:
            team = await directory.team_by_slug(uow.session, TEAM)
            assert team is not None
            now = datetime.now(ZoneInfo(team.timezone))
            due = (now + timedelta(seconds=lead)).replace(microsecond=0)
            later = now + timedelta(hours=1)
            schedule: dict[str, object] = {
                "checkin": f"{later:%H:%M}",
                "reminders": [f"{later:%H:%M}"],
                "morning": f"{later:%H:%M}",
                "evening": f"{later:%H:%M}",
                "weekly": f"{later:%a %H:%M}".lower(),
                "monthly": f"last {later:%H:%M}",
            }
            schedule.update(dict.fromkeys(keys, f"{due:%H:%M:%S}"))
            team.calendar, team.schedule = "everyday", schedule
            await uow.commit()
    finally:
        await app.close()
    return due


# ----- what the processes did -----------------------------------------------------------------------


@dataclass
class Database:
    """The rows the processes wrote, read on the test's own connections."""

    engine: AsyncEngine

    async def outbox(self) -> list[Row]:
        columns = (OutboxRow.id, OutboxRow.dedupe_key, OutboxRow.status, OutboxRow.attempts)
        more = (OutboxRow.folded_into, OutboxRow.claimed_by)
        async with self.engine.connect() as connection:
            return list(await connection.execute(select(*columns, *more).order_by(OutboxRow.id)))

    async def claims(self) -> list[Row]:
        """(row id, worker) of every row leased right now."""
        query = select(OutboxRow.id, OutboxRow.claimed_by).where(OutboxRow.claimed_by.is_not(None))
        async with self.engine.connect() as connection:
            return list(await connection.execute(query))

    async def scheduled(self) -> list[tuple[str, str]]:
        """(kind, period) of every scheduled post made."""
        query = select(ScheduledPost.kind, ScheduledPost.period_key).order_by(ScheduledPost.kind)
        async with self.engine.connect() as connection:
            return [(kind, period) for kind, period in await connection.execute(query)]

    async def deals(self) -> dict[str, tuple[int, bool]]:
        """External id -> (deal id, still waiting to be announced)."""
        query = select(Deal.external_id, Deal.id, Deal.announce_pending)
        async with self.engine.connect() as connection:
            rows = await connection.execute(query)
        return {external: (deal_id, waiting) for external, deal_id, waiting in rows}


@contextlib.asynccontextmanager
async def inspecting(url: str) -> AsyncIterator[Database]:
    engine = create_engine(url)
    try:
        yield Database(engine)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def watching_claims(db: Database) -> AsyncIterator[dict[int, set[str]]]:
    """Row id -> every worker seen holding its lease, sampled every few milliseconds while in the block."""
    owners: dict[int, set[str]] = defaultdict(set)

    async def watch() -> None:
        while True:
            for row_id, worker in await db.claims():
                owners[row_id].add(worker)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        yield owners
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def posts(bot: Bot) -> list[tuple[str, str]]:
    """(destination, text) of every post the process printed, in order."""
    return [(match["to"], match["body"]) for match in POST.finditer(bot.output())]


async def eventually(check: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not (await result if inspect.isawaitable(result := check()) else result):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {SETTLE_TIMEOUT:.0f} s: {what}")
        await asyncio.sleep(0.2)


async def sleep_until(instant: datetime) -> None:
    await asyncio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


# ----- deals from the CRM ---------------------------------------------------------------------------


def deal(external_id: str, member: str, amount: int, customer: str) -> dict[str, object]:
    return {"id": external_id, "team": TEAM, "member": member, "amount": amount, "customer": customer}


def customer_of(i: int) -> str:
    """Unique per deal of the burst, and never part of another one's (fixed width)."""
    return f"客户{i:04d}"


async def post_deal(client: httpx.AsyncClient, payload: dict[str, object]) -> httpx.Response:
    raw = body_of(payload)
    return await client.post("/hooks/deals", content=raw, headers=signed_headers(raw, int(time.time())))


async def burst(bases: list[str], numbers: range) -> list[httpx.Response]:
    """Signed deals, CONCURRENCY at a time: even numbers to the first replica, odd ones to the second."""
    gate = asyncio.Semaphore(CONCURRENCY)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=b, timeout=30)) for b in bases]

        async def one(i: int) -> httpx.Response:
            payload = deal(f"r5-{i:04d}", SELLERS[i % len(SELLERS)], 1000 + i, customer_of(i))
            async with gate:
                return await post_deal(clients[i % len(clients)], payload)

        return await asyncio.gather(*(one(i) for i in numbers))


# ----- R4 -------------------------------------------------------------------------------------------


async def start_run(url: str, tmp_path: Path, runs: list[Bot]) -> str:
    """Start the next `teambeat run` on a port of its own and wait until it answers; its base URL.

    A fresh port per start: one left free between restarts may meanwhile be taken by some other process's
    outgoing connection, and then the bot cannot bind it.
    """
    port = free_port()
    runs.append(Bot.start(write_deals_config(tmp_path, url, port=port), tmp_path, len(runs) + 1))
    await runs[-1].wait_listening(f"http://127.0.0.1:{port}")
    return f"http://127.0.0.1:{port}"


async def test_a_recap_due_while_the_bot_is_down_is_posted_once_across_two_restarts(
    backend: str, tmp_path: Path
) -> None:
    """A deploy may restart the bot just as the evening recap falls due: the run that is back within the
    grace window must post it, and the restart after that must not post it again."""
    runs: list[Bot] = []
    async with database_for_subprocess(backend, tmp_path) as url, inspecting(url) as db:
        due = await seed_with_posts_due(write_deals_config(tmp_path, url), ["evening"], R4_LEAD)
        with cleanup(runs):
            # Run 1 is up with the recap scheduled and takes a deal; a deploy stops it before the recap.
            async with httpx.AsyncClient(base_url=await start_run(url, tmp_path, runs), timeout=30) as client:
                answer = await post_deal(client, deal("r4-0001", "alice", 12800, "华为年度采购"))
            assert answer.status_code == 202, answer.text
            await eventually(lambda: "华为年度采购" in runs[0].output(), "the deal's 喜报")
            assert await runs[0].terminate_and_wait() == 0, runs[0].errors()
            assert datetime.now(UTC) < due, "run 1 was still up when the recap fell due: raise R4_LEAD"

            # The recap falls due while nothing runs; run 2 is back seconds later.
            await sleep_until(due + timedelta(seconds=R4_LATE))
            await start_run(url, tmp_path, runs)
            await eventually(lambda: any(RECAP in body for _, body in posts(runs[1])), "the recap from run 2")
            assert await runs[1].terminate_and_wait() == 0, runs[1].errors()

            # Restarted again. Its catch-up runs before /healthz answers; what it queued, it delivers on exit.
            await start_run(url, tmp_path, runs)
            assert await runs[2].end_input_and_wait() == 0, runs[2].errors()

        recaps = [[body for _, body in posts(run) if RECAP in body] for run in runs]
        assert [len(shown) for shown in recaps] == [0, 1, 0]
        assert "成交单数: 1 单" in recaps[1][0], recaps[1][0]
        day = due.date().isoformat()
        assert await db.scheduled() == [("recap", day)]
        recap_rows = [row for row in await db.outbox() if row.dedupe_key.startswith("recap:")]
        assert [(row.dedupe_key, row.status, row.attempts) for row in recap_rows] == [
            (f"recap:{TEAM}:{day}", "sent", 1)
        ]
        for run in runs:
            # (Yesterday's recap was due before run 1 created the team: not reported as missed either.)
            assert f"recap for {day}" not in run.errors(), run.errors()
            assert "Traceback" not in run.errors(), run.errors()


# ----- R5 -------------------------------------------------------------------------------------------


async def start_replicas(url: str, tmp_path: Path, replicas: list[Bot], extra: str = "") -> list[str]:
    """Start two `teambeat run` processes on one database at once, each on its own port, and wait until
    both answer; their base URLs."""
    ports = [free_port(), free_port()]
    for n, port in enumerate(ports, 1):
        (tmp_path / f"replica{n}").mkdir(exist_ok=True)
        config = write_deals_config(tmp_path / f"replica{n}", url, port=port, extra=extra)
        replicas.append(Bot.start(config, tmp_path, n))
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    await asyncio.gather(*(bot.wait_listening(base) for bot, base in zip(replicas, bases, strict=True)))
    return bases


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_replicas_starting_together_on_a_new_database_both_come_up(
    backend: str, tmp_path: Path
) -> None:
    """A first deploy — or one whose config adds a team — starts every replica at once, and each migrates
    and seeds the same database: each must come up, not crash on the rows the other one just wrote."""
    replicas: list[Bot] = []
    async with database_for_subprocess(backend, tmp_path) as url, inspecting(url) as db:
        with cleanup(replicas):
            await start_replicas(url, tmp_path, replicas)
            assert [await bot.terminate_and_wait() for bot in replicas] == [0, 0]
        async with db.engine.connect() as connection:
            teams = list(await connection.scalars(select(Team.slug)))
            members = list(await connection.scalars(select(Member.user_id).order_by(Member.user_id)))
        assert (teams, members) == ([TEAM], sorted(MEMBERS))
        for bot in replicas:
            assert "Traceback" not in bot.errors(), bot.errors()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_replicas_on_one_postgres_database_post_and_announce_everything_once(
    backend: str, tmp_path: Path
) -> None:
    """Replicas share the database and its outbox: one of them leads the scheduler, both take webhooks,
    both announce and both deliver. Whichever does the work, every post comes out once."""
    replicas: list[Bot] = []
    async with database_for_subprocess(backend, tmp_path) as url, inspecting(url) as db:
        due = await seed_with_posts_due(write_deals_config(tmp_path, url), ["checkin", "evening"], R5_LEAD)

        async def delivered() -> bool:
            """Every deal announced, both posts made, and nothing left to send."""
            deals, made, rows = await db.deals(), await db.scheduled(), await db.outbox()
            announced = len(deals) == BURST and not any(waiting for _, waiting in deals.values())
            return announced and len(made) == 2 and all(row.status != "pending" for row in rows)

        with cleanup(replicas):
            bases = await start_replicas(url, tmp_path, replicas, extra=FAST_POLL)
            assert datetime.now(UTC) < due, "the replicas were not both up before the posts fell due"
            async with watching_claims(db) as owners:
                answers = await burst(bases, range(BURST // 2))
                await sleep_until(due - timedelta(seconds=1))
                answers += await burst(bases, range(BURST // 2, BURST))
                burst_ended = datetime.now(UTC)
                await eventually(delivered, "every deal announced and both scheduled posts delivered")
            assert [bot.process.poll() for bot in replicas] == [None, None], "a replica died"
            assert [await bot.end_input_and_wait() for bot in replicas] == [0, 0]

        assert {(a.status_code, a.json()["status"]) for a in answers} == {(202, "recorded")}
        deals = await db.deals()
        assert sorted(deals) == [f"r5-{i:04d}" for i in range(BURST)]
        day = due.date().isoformat()
        assert await db.scheduled() == [("checkin", day), ("recap", day)]

        # The outbox: one row per dedupe key, each sent once (or folded into a digest that was).
        rows = await db.outbox()
        keys = [row.dedupe_key for row in rows]
        assert len(keys) == len(set(keys))
        assert {f"deal:{deal_id}" for deal_id, _ in deals.values()} <= set(keys)
        assert [key for key in keys if key.startswith("recap:")] == [f"recap:{TEAM}:{day}"]
        assert len([key for key in keys if key.startswith("checkin-prompt:")]) == len(MEMBERS)
        status = {row.id: row.status for row in rows}
        went_out_in = {row.dedupe_key: row.folded_into or row.id for row in rows}  # a digest, or itself
        assert {key: status[row_id] for key, row_id in went_out_in.items() if status[row_id] != "sent"} == {}
        assert {row.attempts for row in rows if row.status == "sent"} == {1}
        assert [row.id for row in rows if row.claimed_by is not None] == []

        # Claimed by one replica at a time: no row was ever seen leased by two workers.
        assert owners, "no lease was seen while the replicas delivered"
        assert {row_id: who for row_id, who in owners.items() if len(who) > 1} == {}

        # What the platform showed: both replicas delivered, and no post came out twice.
        printed = [posts(bot) for bot in replicas]
        assert all(printed), "one replica delivered nothing"
        assert sum(map(len, printed)) == list(status.values()).count("sent")
        texts = [body for shown in printed for _, body in shown]
        assert [sum(text.count(customer_of(i)) for text in texts) for i in range(BURST)] == [1] * BURST
        assert sum(RECAP in text for text in texts) == 1
        prompted = sorted(to for shown in printed for to, body in shown if PROMPT in body)
        assert prompted == sorted(f"DM → {name}" for name in MEMBERS.values())
        for bot in replicas:
            assert "Traceback" not in bot.errors(), bot.errors()
        print(
            f"second wave answered {(burst_ended - due).total_seconds():+.1f} s after the posts fell due; "
            f"replica posts {[len(shown) for shown in printed]}, outbox rows {len(rows)} "
            f"({list(status.values()).count('folded')} folded), leases seen on {len(owners)} rows "
            f"by {len(set().union(*owners.values()))} workers"
        )

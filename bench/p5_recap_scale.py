"""P5 — recap at scale: a team of 500 members in 50 groups with a year of history (≈200,000 deals and
125,000 check-ins). Evening recap built and rendered ≤ 150 ms p50 and `/rank month` ≤ 50 ms p50, on SQLite
and on PostgreSQL; doubling the history changes neither by more than 20 % (queries touch the period only).

Run: python -m bench.p5_recap_scale [--backend sqlite|postgres|both] [--runs N]
"""

from __future__ import annotations

import argparse
import itertools
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text

from bench.common import (
    Report,
    percentile,
    postgres_available,
    postgres_schema,
    postgres_url,
    run,
    scratch_dir,
    timings_ms,
)
from bot.app import App, build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.messages import ChannelRef, IncomingMessage, UserRef
from bot.services.recap import recap_context
from bot.services.scope import TeamScope
from bot.storage.orm import Checkin, CheckinAnswer, Deal, Member, Team

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI)  # a Friday evening
MEMBERS, GROUPS = 500, 50
DEALS_PER_YEAR, CHECKIN_SHARE = 200_000, 0.96
CHUNK = 5_000


def team_config(url: str) -> str:
    lines = [
        f'[database]\nurl = "{url}"\n',
        "[[teams]]",
        'id = "big"',
        'name = "华东大区"',
        'platform = "console"',
    ]
    lines += ['workspace = "W"', 'channel = "C-big"', 'leaders = ["m0"]', "kudos_daily_cap = 0"]
    for g in range(GROUPS):
        members = ", ".join(f'"m{i}"' for i in range(g * 10, g * 10 + 10))
        lines += [
            "[[teams.groups]]",
            f'name = "第{g + 1}组"',
            f'slogan = "冲刺{g + 1}"',
            f"members = [{members}]",
        ]
    for i in range(MEMBERS):
        lines += ["[[teams.members]]", f'id = "m{i}"', f'name = "成员{i}"']
    return "\n".join(lines) + "\n"


def workdays(first: date, last: date) -> list[date]:
    days = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


async def add_history(app: App, first: date, last: date, seed: int, ids: itertools.count) -> tuple[int, int]:
    """A year of deals and check-ins, generated deterministically and inserted in bulk."""
    rng = random.Random(seed)
    async with app.sessionmaker() as session:
        team = await session.scalar(select(Team).where(Team.slug == "big"))
        members = list(await session.scalars(select(Member.id).where(Member.team_id == team.id)))
    days = workdays(first, last)
    per_day = DEALS_PER_YEAR // len(days)
    deals, checkins, answers = [], [], []
    for day in days:
        for _ in range(per_day):
            at = datetime.combine(day, time(9 + rng.randrange(9), rng.randrange(60)), SHANGHAI)
            n = next(ids)
            deals.append(
                dict(
                    team_id=team.id,
                    member_id=rng.choice(members),
                    amount_minor=rng.randrange(1_000, 5_000_000),
                    currency="CNY",
                    customer="",
                    product="",
                    source="csv",
                    external_id=f"h{n}",
                    closed_at=at,
                    created_at=at,
                )
            )
        for member in members:
            if rng.random() < CHECKIN_SHARE:
                n = next(ids)
                at = datetime.combine(day, time(9, 5), SHANGHAI)
                checkins.append(
                    dict(
                        id=n,
                        team_id=team.id,
                        member_id=member,
                        day=day,
                        status="done",
                        skip_reason="",
                        started_at=at,
                        completed_at=at,
                        reminders_sent=0,
                    )
                )
                answers.append(
                    dict(
                        checkin_id=n,
                        question_key="plan",
                        position=0,
                        kind="amount",
                        text="2万",
                        number=None,
                        amount_minor=rng.randrange(0, 5_000_000),
                    )
                )
    async with app.engine.begin() as connection:
        for table, rows in ((Deal, deals), (Checkin, checkins), (CheckinAnswer, answers)):
            for start in range(0, len(rows), CHUNK):
                await connection.execute(insert(table), rows[start : start + CHUNK])
    return len(deals), len(checkins)


async def settle(app: App) -> float:
    """Leave the database as a year of real use would, after bulk inserts that bypassed the app.

    Check-ins completed in chat keep each member's stored streak current; the bulk insert does not, so
    the first scheduled recap afterwards counts streaks from history once and stores them: run it,
    committed, before measuring the recaps that follow. On PostgreSQL, autovacuum would long since have
    analysed a year of rows; just after a bulk load the planner still has empty-table estimates.
    Returns how long that first recap took (ms), streaks counted from history included.
    """
    start = perf_counter()
    async with app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team).where(Team.slug == "big"))
        scope = TeamScope.of(team, NOW)
        await recap_context(uow.session, app.renderer, scope, scope.period("today"))
        await uow.commit()
    took = (perf_counter() - start) * 1000
    if app.engine.dialect.name == "postgresql":
        async with app.engine.begin() as connection:
            for table in ("deals", "checkins", "checkin_answers", "members", "streaks"):
                await connection.execute(text(f"ANALYZE {table}"))
    return took


async def measure(app: App, runs: int, events: itertools.count) -> tuple[float, float]:
    async def recap() -> None:
        async with app.sessionmaker() as session:
            team = await session.scalar(select(Team).where(Team.slug == "big"))
            scope = TeamScope.of(team, NOW)
            context = await recap_context(session, app.renderer, scope, scope.period("today"))
            app.renderer.render("recap", team.locale, **context)

    async def rank_month() -> None:
        reply = await app.dispatcher.handle(
            IncomingMessage(
                event_id=f"p5-{next(events)}",
                user=UserRef("console", "W", "m7"),
                channel=ChannelRef("console", "W", "C-big", "group"),
                text="/rank month",
                addressed_to_bot=True,
                received_at=NOW,
                display_name="成员7",
            )
        )
        assert reply is not None and "internal" not in reply.fallback_text

    recap_ms = percentile(await timings_ms(recap, runs), 50)
    rank_ms = percentile(await timings_ms(rank_month, runs), 50)
    return recap_ms, rank_ms


async def bench_backend(
    name: str, url: str, folder: Path, runs: int, report: Report, pg_schema: str | None
) -> None:
    path = folder / f"{name}.toml"
    path.write_text(team_config(url), encoding="utf-8")
    clock = FixedClock(NOW)
    app = await build_app(load_config(path, environ={}), clock, pg_schema=pg_schema)
    ids, events = itertools.count(1), itertools.count(1)
    try:
        await app.dispatcher.handle(
            IncomingMessage(
                event_id="goal",
                user=UserRef("console", "W", "m0"),
                channel=ChannelRef("console", "W", "C-big", "group"),
                text="/goal team 30000000 month",
                addressed_to_bot=True,
                received_at=NOW,
            )
        )
        deals, checkins = await add_history(app, NOW.date() - timedelta(days=365), NOW.date(), 1, ids)
        report.figure(f"{name}_deals_year1", deals)
        report.figure(f"{name}_checkins_year1", checkins)
        report.figure(f"{name}_first_recap_ms_counting_streaks_from_history", await settle(app))
        recap1, rank1 = await measure(app, runs, events)
        await add_history(app, NOW.date() - timedelta(days=730), NOW.date() - timedelta(days=366), 2, ids)
        await settle(app)
        recap2, rank2 = await measure(app, runs, events)
        report.target(f"{name}_recap_p50_ms", recap1, at_most=150)
        report.target(f"{name}_rank_month_p50_ms", rank1, at_most=50)
        report.target(f"{name}_recap_p50_ms_doubled_history", recap2)
        report.target(f"{name}_rank_month_p50_ms_doubled_history", rank2)
        report.target(f"{name}_recap_ratio_doubled_vs_single", recap2 / recap1, at_most=1.2)
        report.target(f"{name}_rank_month_ratio_doubled_vs_single", rank2 / rank1, at_most=1.2)
    finally:
        await app.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    report = Report("P5 recap at scale (500 members, 50 groups, 1 and 2 years of history)")
    folder = scratch_dir()
    if args.backend in ("sqlite", "both"):
        await bench_backend("sqlite", f"sqlite:///{folder / 'p5.db'}", folder, args.runs, report, None)
    if args.backend in ("postgres", "both"):
        url = postgres_url()
        if url and await postgres_available(url):
            async with postgres_schema(url) as schema:
                await bench_backend("postgres", url, folder, args.runs, report, schema)
        else:
            report.missed.append(f"postgres: no server answers at {url}")
    return report.finish()


if __name__ == "__main__":
    run(main)

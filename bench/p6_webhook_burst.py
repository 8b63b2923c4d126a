"""P6 — webhook burst: 1,000 signed deal webhooks to the real `teambeat run`, at 100/s on PostgreSQL and
30/s on SQLite (quality.md; `--rate` overrides); p99 to the answer ≤ 100 ms, and every deal announced
exactly once, all within 60 s of the burst. A bare starlette endpoint that only checks the HMAC and
answers 202 runs the same load in the same run, as the baseline the ratio is taken against.

Run: python -m bench.p6_webhook_burst [--deals N] [--rate R] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import time

from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.web.serve import WebServer
from bench.common import (
    Report,
    percentile,
    postgres_available,
    postgres_database,
    postgres_url,
    run,
    scratch_dir,
)
from bench.openloop import http_request, open_loop
from bench.runner import BotProcess, console_team_config, free_port
from bot.storage.db import create_engine
from bot.storage.orm import Deal, OutboxRow

SECRET = "bench-secret"
RATES = {"postgres": 100.0, "sqlite": 30.0}  # quality.md P6: SQLite has one writer
ANNOUNCED_WITHIN_S = 60.0


def signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Teambeat-Timestamp": ts,
        "X-Teambeat-Signature": f"v1={mac}",
        "Content-Type": "application/json",
    }


def deal_requests(host: str, deals: int, prefix: str) -> list[bytes]:
    """Every signed request built before the run (signing is the sender's work, not the server's)."""
    requests = []
    for i in range(deals):
        body = json.dumps(
            {"id": f"{prefix}-{i}", "team": "bench", "member": f"m{i % 20}@example.com", "amount": 100 + i}
        ).encode()
        requests.append(http_request("POST", "/hooks/deals", host, body, signed(body)))
    return requests


async def fire(port: int, deals: int, rate: float, prefix: str) -> tuple[list[float], list[int]]:
    """Open-loop load (bench.openloop): request i leaves at i / rate seconds, latency from that moment."""
    load = await open_loop("127.0.0.1", port, deal_requests(f"127.0.0.1:{port}", deals, prefix), rate)
    return [a.latency_ms for a in load.answers], [a.status for a in load.answers]


async def warm_up(port: int, deals: int) -> None:
    """A trickle before the burst (10/s), as a server that has been up a while has seen: connection
    pools filled, statements compiled and prepared. Not counted in the latencies; its deals are announced
    like the others."""
    if deals:
        await fire(port, deals, 10.0, "warm")


def baseline_app() -> Starlette:
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        ts = request.headers["X-Teambeat-Timestamp"]
        mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(f"v1={mac}", request.headers["X-Teambeat-Signature"])
        json.loads(body)
        return JSONResponse({"status": "recorded"}, status_code=202 if ok else 401)

    return Starlette(routes=[Route("/hooks/deals", hook, methods=["POST"])])


async def wait_announced(url: str, expected: int, timeout: float) -> tuple[int, int, int, int, float]:
    """Poll the bot's database until every deal's 喜报 was shown (sent, or folded into a sent digest):
    (deals, 喜报 shown, 喜报 rows, deals still waiting, seconds it took after the burst)."""
    engine = create_engine(url)
    began = time.monotonic()
    try:
        while True:
            async with engine.connect() as connection:
                deals = await connection.scalar(select(func.count()).select_from(Deal))
                waiting = await connection.scalar(select(func.count()).where(Deal.announce_pending.is_(True)))
                rows = dict(
                    (
                        await connection.execute(
                            select(OutboxRow.status, func.count())
                            .where(OutboxRow.dedupe_key.like("deal:%"))
                            .group_by(OutboxRow.status)
                        )
                    ).all()
                )
            shown = rows.get("sent", 0) + rows.get("folded", 0)
            elapsed = time.monotonic() - began
            if shown >= expected or elapsed > timeout:
                return deals, shown, sum(rows.values()), waiting, elapsed
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def against_bot(url: str, folder, args) -> tuple[list[float], list[int], tuple]:
    port = free_port()
    config = folder / "p6.toml"
    config.write_text(console_team_config(url, port, SECRET), encoding="utf-8")
    bot = BotProcess(config, folder / "p6.log")
    bot.start()
    try:
        await bot.wait_listening(port)
        await warm_up(port, args.warmup)
        latencies, statuses = await fire(port, args.deals, args.rate, "deal")
        counts = await wait_announced(url, args.deals + args.warmup, timeout=300)
    finally:
        bot.stop()
    return latencies, statuses, counts


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1000)
    parser.add_argument("--rate", type=float, help="deals a second (default: 100 on postgres, 30 on sqlite)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--warmup", type=int, default=50, help="deals sent at 10/s before the burst")
    args = parser.parse_args()
    args.rate = args.rate or RATES[args.backend]
    report = Report(f"P6 webhook burst: {args.deals} signed deals at {args.rate:g}/s ({args.backend})")
    folder = scratch_dir()

    server = WebServer(baseline_app(), "127.0.0.1", 0)
    await server.start()
    await warm_up(server.port, args.warmup)
    base_latencies, _ = await fire(server.port, args.deals, args.rate, "base")
    await server.stop()

    if args.backend == "postgres":
        server_url = postgres_url()
        if not await postgres_available(server_url):
            report.missed.append(f"postgres: no server answers at {server_url}")
            return report.finish()
        async with postgres_database(server_url) as url:
            latencies, statuses, counts = await against_bot(url, folder, args)
    else:
        latencies, statuses, counts = await against_bot(f"sqlite:///{folder / 'p6.db'}", folder, args)
    deals, shown, rows, waiting, catch_up = counts

    p99, base_p99 = percentile(latencies, 99), percentile(base_latencies, 99)
    report.figure("requests", len(statuses))
    report.target("non_2xx", sum(1 for s in statuses if not 200 <= s < 300), at_most=0)
    report.figure("p50_ms", percentile(latencies, 50))
    report.target("p99_ms", p99, at_most=100)
    report.figure("baseline_p99_ms", base_p99)
    report.figure("p99_ratio_vs_baseline", p99 / base_p99 if base_p99 else float("nan"))
    report.figure("p99_ms_first_300", percentile(latencies[:300], 99))
    report.figure("p99_ms_after_300", percentile(latencies[300:], 99))
    report.target("deals_stored", deals, at_least=args.deals + args.warmup)
    report.target("deals_announced", shown, at_least=args.deals + args.warmup)
    report.target("announcement_rows_per_deal", rows / max(deals, 1), at_most=1.0)
    report.target("deals_still_waiting", waiting, at_most=0)
    report.target("all_shown_s_after_burst", catch_up, at_most=ANNOUNCED_WITHIN_S)
    return report.finish()


if __name__ == "__main__":
    run(main)

"""P9 — TV boards: 50 open boards on the real `teambeat run`, signed deals by webhook; every deal must
reach every open board within 2 s (p95), none missed.

A board's event stream (`GET /tv/<team>/events?key=…`) is what the page's EventSource reads; the time
counted is from the moment the webhook request leaves to the moment a board reads the deal's 喜报 event.
On PostgreSQL two `teambeat run` replicas share the database: the boards are split between them and the
deals go to them in turn, so half of what every board shows was recorded by the other process and only
its database poll can find it.

Run: python -m bench.p9_tv_board [--viewers 50] [--deals 60] [--rate 2] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.common import (
    Report,
    percentile,
    postgres_available,
    postgres_database,
    postgres_url,
    run,
    scratch_dir,
)
from bench.p6_webhook_burst import SECRET, signed
from bench.runner import BotProcess, console_team_config, free_port

TARGET_P95_S = 2.0


class Board:
    """One open board: when each deal's 喜报 arrived (bench clock), keyed by the deal's id."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url
        self.shown: dict[int, float] = {}
        self.opened = asyncio.Event()
        self.closed_early = False
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        kind, data = "", ""
        try:
            async with self.client.stream("GET", self.url, timeout=None) as response:
                if response.status_code != 200:
                    self.closed_early = True
                    return
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif line == "" and data:
                        if kind == "board":
                            self.opened.set()
                        elif kind == "deal":
                            self.shown.setdefault(json.loads(data)["deal"], time.monotonic())
                        kind, data = "", ""
            self.closed_early = True
        except (httpx.HTTPError, asyncio.CancelledError):
            pass
        finally:
            self.opened.set()


def board_url(config: Path) -> str:
    """`teambeat tv --team bench -c FILE`: the board's URL, as an admin gets it."""
    out = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "tv", "--team", "bench", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip()


async def measure(url: str, folder: Path, args: argparse.Namespace, report: Report) -> None:
    replicas = 2 if url.startswith("postgresql") else 1
    ports = [free_port() for _ in range(replicas)]
    configs = []
    for n, port in enumerate(ports):
        config = folder / f"p9-{n}.toml"
        config.write_text(console_team_config(url, port, SECRET), encoding="utf-8")
        configs.append(config)
    # The first replica migrates the database alone, before the others start.
    tv = urlsplit(board_url(configs[0]))
    bots = [BotProcess(config, folder / f"p9-{n}.log") for n, config in enumerate(configs)]
    limits = httpx.Limits(max_connections=args.viewers + 20, max_keepalive_connections=args.viewers + 20)
    try:
        for bot, port in zip(bots, ports, strict=True):
            bot.start()
            await bot.wait_listening(port)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            boards = [
                Board(client, f"http://127.0.0.1:{ports[i % replicas]}{tv.path}/events?{tv.query}")
                for i in range(args.viewers)
            ]
            await asyncio.wait_for(asyncio.gather(*(b.opened.wait() for b in boards)), 60)
            opened = sum(1 for b in boards if not b.closed_early)
            sent: dict[int, float] = {}
            statuses = []
            for i in range(args.deals):
                body = json.dumps(
                    {"id": f"p9-{i}", "team": "bench", "member": f"m{i % 20}", "amount": 1000 + i}
                )
                port = ports[i % replicas]
                began = time.monotonic()
                answer = await client.post(
                    f"http://127.0.0.1:{port}/hooks/deals",
                    content=body.encode(),
                    headers=signed(body.encode()),
                )
                statuses.append(answer.status_code)
                if answer.status_code == 202:
                    sent[answer.json()["deal"]] = began
                await asyncio.sleep(max(0.0, began + 1 / args.rate - time.monotonic()))
            await asyncio.sleep(TARGET_P95_S * 2)  # the last deals' time to arrive
            for board in boards:
                board.task.cancel()
            await asyncio.gather(*(b.task for b in boards), return_exceptions=True)
    finally:
        for bot in bots:
            with contextlib.suppress(Exception):
                bot.stop()
    latencies = [board.shown[d] - at for board in boards for d, at in sent.items() if d in board.shown]
    missing = sum(1 for board in boards for d in sent if d not in board.shown)
    report.figure("replicas", replicas)
    report.target("boards_open", opened, at_least=args.viewers)
    report.target("deals_recorded", len(sent), at_least=args.deals)
    report.figure("deliveries", len(latencies))
    report.target("deliveries_missing", missing, at_most=0)
    report.figure("p50_s", percentile(latencies, 50))
    report.target("p95_s", percentile(latencies, 95), at_most=TARGET_P95_S)
    report.figure("max_s", max(latencies) if latencies else float("nan"))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--deals", type=int, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="deals a second")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    report = Report(
        f"P9 TV boards: {args.viewers} open boards, {args.deals} deals at {args.rate:g}/s ({args.backend})"
    )
    folder = scratch_dir()
    if args.backend == "sqlite":
        await measure(f"sqlite:///{folder / 'p9.db'}", folder, args, report)
        return report.finish()
    server = postgres_url()
    if not await postgres_available(server):
        report.missed.append(f"postgres: no server answers at {server}")
        return report.finish()
    async with postgres_database(server) as url:
        await measure(url, folder, args, report)
    return report.finish()


if __name__ == "__main__":
    run(main)

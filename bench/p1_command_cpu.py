"""P1's budget, in process: the CPU one command of each kind costs in the dispatcher, and its
announcements (the jobs it queues, run at once), for P1's team of 500 members.

No HTTP, no platform: the figure that P1's capacity divides into one core. Run:
python -m bench.p1_command_cpu [--commands 100] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Report, measure_on, run, scratch_dir
from bench.p1_busy_morning import CHANNEL, TEAM, command, config_text
from bot.app import App, build_app
from bot.config.loading import load_config
from bot.messages import ChannelRef, IncomingMessage, UserRef

KINDS = ("deal", "kudos", "rank", "checkin")  # the order of P1's mix (bench.p1_busy_morning.command)
WARM_UP = 40


def message(i: int) -> IncomingMessage:
    name, text, user = command(i)
    return IncomingMessage(
        event_id=f"cpu-{i}",
        user=UserRef("slack", TEAM, user),
        channel=ChannelRef("slack", TEAM, CHANNEL, "group"),
        text=f"{name} {text}",
        addressed_to_bot=True,
        received_at=datetime.now(UTC),
        display_name=f"User{user}",
    )


async def one_kind(app: App, kind: int, count: int) -> tuple[float, float]:
    """(CPU ms a command, of which announcing) for `count` commands of the mix's `kind`-th command."""
    total = announcing = 0.0
    for j in range(count):
        started = time.process_time()
        await app.dispatcher.handle(message(1000 + len(KINDS) * j + kind))
        handled = time.process_time()
        await app.jobs.drain()
        total += time.process_time() - started
        announcing += time.process_time() - handled
    return total * 1000 / count, announcing * 1000 / count


async def measure(url: str, folder: Path, args: argparse.Namespace) -> Report:
    report = Report(f"P1 budget: CPU a command in process, 500 members ({args.backend})")
    path = folder / "cpu.toml"
    path.write_text(config_text(url, 1, 2), encoding="utf-8")
    app = await build_app(load_config(path))
    gc.collect()
    gc.freeze()  # as `teambeat run` does once started (adapters/runtime.py)
    try:
        for i in range(WARM_UP):
            await app.dispatcher.handle(message(i))
            await app.jobs.drain()
        costs = [await one_kind(app, k, args.commands) for k in range(len(KINDS))]
    finally:
        await app.close()
    for kind, (total, announcing) in zip(KINDS, costs, strict=True):
        report.figure(f"{kind}_cpu_ms", total)
        report.figure(f"{kind}_announcing_cpu_ms", announcing)
    report.figure("mix_cpu_ms", sum(total for total, _ in costs) / len(costs))
    return report


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=100, help="of each kind")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    folder = scratch_dir()
    return await measure_on(args.backend, folder, "cpu", "P1 budget", lambda url: measure(url, folder, args))


if __name__ == "__main__":
    run(main)

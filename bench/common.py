"""What every benchmark shares: percentiles, a database per backend, and the `name: value` report."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.storage.db import normalize_url

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0–100) by nearest rank: what a reader of "p99 ≤ 50 ms" expects."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


async def timings_ms(action: Callable[[], Awaitable[object]], runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        await action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


@dataclass
class Report:
    """Figures printed as `name: value` on the last lines; a missed target makes the exit code 1."""

    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def figure(self, name: str, value: float | int | str, unit: str = "") -> None:
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        self.figures.append((name, f"{shown}{(' ' + unit) if unit else ''}"))

    def target(
        self, name: str, value: float, *, at_most: float | None = None, at_least: float | None = None
    ) -> None:
        """Record a figure with its target; say which way it was missed."""
        unit = ""
        self.figure(name, value, unit)
        if at_most is not None and value > at_most:
            self.missed.append(f"{name} = {value:.3f} > {at_most}")
        if at_least is not None and value < at_least:
            self.missed.append(f"{name} = {value:.3f} < {at_least}")

    def finish(self) -> int:
        print(f"# {self.title}")
        for line in self.missed:
            print(f"# MISSED {line}")
        for name, value in self.figures:
            print(f"{name}: {value}")
        print(f"target_met: {'yes' if not self.missed else 'no'}")
        return 1 if self.missed else 0


def postgres_url() -> str | None:
    """The PostgreSQL server to measure on, when one answers (TEAMBEAT_BENCH_POSTGRES_URL overrides)."""
    url = os.environ.get("TEAMBEAT_BENCH_POSTGRES_URL") or os.environ.get("TEAMBEAT_TEST_POSTGRES_URL")
    return url or DEFAULT_POSTGRES


async def postgres_available(url: str) -> bool:
    engine = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with asyncio.timeout(3), engine.connect():
            return True
    except Exception:
        return False
    finally:
        await engine.dispose()


@asynccontextmanager
async def postgres_schema(url: str) -> AsyncIterator[str]:
    """A schema of its own for one benchmark run, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with admin.begin() as connection:
            await connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield schema
        async with admin.begin() as connection:
            await connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.dispose()


def scratch_dir() -> Path:
    path = Path(os.environ.get("TEAMBEAT_BENCH_DIR", "/tmp/teambeat-bench")) / uuid.uuid4().hex[:8]
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(main: Callable[[], Awaitable[int]]) -> None:
    sys.exit(asyncio.run(main()))


def median(values: list[float]) -> float:
    return statistics.median(values)


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    """A fresh database on the server for a benchmark that runs `teambeat run` itself; dropped after."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(normalize_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url.rsplit("/", 1)[0] + "/" + name
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


async def measure_on(
    backend: str, folder: Path, name: str, title: str, measure: Callable[[str], Awaitable[Report]]
) -> int:
    """Run `measure(url)` on a fresh SQLite file or a fresh PostgreSQL database; the exit code of its
    report (a missed target, or no PostgreSQL server answering, is 1)."""
    if backend == "sqlite":
        return (await measure(f"sqlite:///{folder / f'{name}.db'}")).finish()
    server = postgres_url()
    if not await postgres_available(server):
        report = Report(f"{title} (postgres)")
        report.missed.append(f"postgres: no server answers at {server}")
        return report.finish()
    async with postgres_database(server) as url:
        return (await measure(url)).finish()

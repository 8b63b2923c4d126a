"""P9 — charts: the evening recap's chart for a 30-person day and the 小组PK race for 50 groups, drawn
the way posts draw them (matplotlib Agg, the packaged CJK font). Each is drawn once to warm up (the font
is registered and matplotlib's caches filled on first use: reported as `first_*_ms`), then `--runs`
times; the median time and the PNG's size are held against the targets (≤ 300 ms, ≤ 300 KB). Every
run must give the same bytes.

Run: python -m bench.p9_charts [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
import warnings
from collections.abc import Callable

from bench.common import Report
from bot.charts.model import GroupRace, PersonDay, RaceChart, RecapChart
from bot.charts.race import race_png
from bot.charts.recap import recap_png

TIME_MS, SIZE_KB = 300.0, 300.0
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def recap_data(people: int = 30) -> RecapChart:
    rows = tuple(
        PersonDay(
            SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] + ("明" if i % 3 else ""),
            actual=((i * 7919) % 50) * 100_000,
            planned=((i * 104_729) % 40 + 5) * 100_000 if i % 5 else None,
        )
        for i in range(people)
    )
    return RecapChart(
        locale="zh-CN",
        unit="CNY",
        day="12/04",
        people=rows,
        team_actual=sum(p.actual for p in rows),
        team_planned=sum(p.planned or 0 for p in rows),
        goal=60_000_000,
    )


def race_data(groups: int = 50) -> RaceChart:
    rows = tuple(
        GroupRace(
            name=f"华东{i + 1}组·{SURNAMES[i % len(SURNAMES)]}家军",
            total=(groups - i) * 1_234_500,
            per_capita=(groups - i) * 1_234_500 // (4 + i % 7),
            goal=60_000_000 if i % 4 == 0 else None,
        )
        for i in range(groups)
    )
    return RaceChart(locale="zh-CN", unit="CNY", title="双十二冲刺", groups=rows)


def measure(report: Report, name: str, draw: Callable[[], bytes], runs: int) -> None:
    """The target holds the drawing's own CPU time (the process's), which other programs on a shared
    machine do not inflate the way they do the wall-clock time, reported beside it."""
    start = time.perf_counter()
    first = draw()
    report.figure(f"first_{name}_ms", (time.perf_counter() - start) * 1000)
    cpu, wall, outputs = [], [], set()
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        outputs.add(draw())
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    report.target(f"{name}_ms", statistics.median(cpu), at_most=TIME_MS)
    report.figure(f"{name}_wall_ms", statistics.median(wall))
    report.target(f"{name}_kb", len(first) / 1024, at_most=SIZE_KB)
    report.target(f"{name}_same_bytes", float(outputs == {first}), at_least=1.0)


def probe() -> float:
    """bench/README's speed probe: 0.25 s on a fast day of the development VM, 0.40 s on an ordinary one."""
    return timeit.timeit("sum(range(10000))", number=2000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    report = Report("P9 charts: recap (30 people) and 小组PK race (50 groups)")
    report.figure("probe_s", probe())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recap, race = recap_data(), race_data()
        measure(report, "recap", lambda: recap_png(recap), args.runs)
        measure(report, "race50", lambda: race_png(race), args.runs)
    missing = [w for w in caught if "missing from font" in str(w.message)]
    report.target("missing_glyphs", float(len(missing)), at_most=0.0)
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())

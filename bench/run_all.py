"""Run every benchmark (P1–P9 of quality.md) one after another; exit 1 if any target was missed.

Run: python -m bench.run_all [--only p5 p6 …]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

SCRIPTS = {
    "p1": ["bench.p1_busy_morning"],
    "p1_pg": ["bench.p1_busy_morning", "--backend", "postgres"],
    "p2": ["bench.p2_callbacks"],
    "p3": ["bench.p3_fanout"],
    "p4": ["bench.p4_robot_limit"],
    "p5": ["bench.p5_recap_scale", "--backend", "both"],
    "p6": ["bench.p6_webhook_burst"],
    "p6_pg": ["bench.p6_webhook_burst", "--backend", "postgres"],
    "p7": ["bench.p7_memory"],
    "p8": ["bench.p8_many_teams"],
    "p9": ["bench.p9_charts"],
    "p9_tv": ["bench.p9_tv_board"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SCRIPTS), help="run only these workloads")
    args = parser.parse_args()
    failed = []
    for name in args.only or sorted(SCRIPTS):
        command = [sys.executable, "-m", *SCRIPTS[name]]
        print(f"== {name}: {' '.join(command[2:])}", flush=True)
        began = time.monotonic()
        code = subprocess.call(command)
        print(f"== {name}: exit {code} after {time.monotonic() - began:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    print(f"missed: {', '.join(failed) if failed else 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

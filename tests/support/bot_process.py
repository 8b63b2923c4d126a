"""The real `teambeat run` as a subprocess for reliability tests: start it, wait until it answers
/healthz, kill it or stop it, and read what it printed (its output goes to files, so a full pipe can
never stall it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

SHANGHAI = ZoneInfo("Asia/Shanghai")
START_TIMEOUT = 90.0
EXIT_TIMEOUT = 240.0


@dataclass
class Bot:
    """One `teambeat run` process."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @classmethod
    def start(cls, config: Path, cwd: Path, run: int) -> Bot:
        stdout, stderr = cwd / f"run{run}.out", cwd / f"run{run}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", "run", "-c", str(config)],
                cwd=cwd,
                stdin=subprocess.PIPE,  # never written to, closed only at the very end
                stdout=out,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return cls(process, stdout, stderr)

    def output(self) -> str:
        return self.stdout.read_text("utf-8", errors="replace")

    def errors(self) -> str:
        return self.stderr.read_text("utf-8", errors="replace")

    async def wait_listening(self, base: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"teambeat run exited {self.process.returncode}:\n{self.errors()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise AssertionError(f"teambeat run did not listen within {START_TIMEOUT} s:\n{self.errors()}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)

    async def end_input_and_wait(self) -> int:
        """Close stdin: the console loop ends, drains what is due and stops."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return await asyncio.to_thread(self.process.wait, EXIT_TIMEOUT)

    async def terminate_and_wait(self) -> int:
        """SIGTERM, as a service manager stops it: requests in flight finish, then it exits."""
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(self.process.wait, EXIT_TIMEOUT)
        if self.process.stdin is not None:
            self.process.stdin.close()
        return code

    def stop_if_running(self) -> None:
        if self.process.poll() is None:
            self.kill()
            self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()


@contextlib.contextmanager
def cleanup(*bots: list[Bot]) -> Iterator[None]:
    try:
        yield
    finally:
        for group in bots:
            for bot in group:
                bot.stop_if_running()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def holidays_around_today(zone: ZoneInfo = SHANGHAI) -> str:
    """Yesterday, today and tomorrow in the teams' timezone, as a TOML list for a team's `extra_holidays`:
    no check-in, recap or summary is due while the test runs."""
    today = datetime.now(zone).date()
    return json.dumps([(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)])

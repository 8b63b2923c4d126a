"""Driving the real `teambeat run` process for benchmarks: config, start, wait until it listens, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def console_team_config(url: str, port: int, secret: str, members: int = 20, extra: str = "") -> str:
    """A console team (no platform account) with an HTTP server and the deal webhook switched on."""
    lines = [
        f'[database]\nurl = "{url}"\n',
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n',
        f'[hooks]\ndeals_secret = "{secret}"\n',
        '[console]\nenabled = true\nuser = "lead"\n',
        "[[teams]]",
        'id = "bench"',
        'name = "压测一部"',
        'platform = "console"',
        'workspace = "local"',
        'channel = "bench"',
        'calendar = "everyday"',
        'leaders = ["lead"]',
        "[[teams.members]]",
        'id = "lead"',
        'name = "lead"',
    ]
    for i in range(members):
        lines += ["[[teams.members]]", f'id = "m{i}"', f'name = "成员{i}"', f'email = "m{i}@example.com"']
    return "\n".join(lines) + "\n" + extra


class BotProcess:
    """`teambeat run -c FILE` with its stdin held open (the console waits) and its output in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "run", "-c", str(self.config)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    async def wait_listening(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"teambeat run exited with {self.process.returncode}; see {self.log}")
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"teambeat run did not listen on {port} within {timeout} s")

    def cpu_seconds(self) -> float:
        """The process's CPU time so far (user + system, all threads); NaN where /proc is missing."""
        assert self.process is not None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.stdin:
                self.process.stdin.close()

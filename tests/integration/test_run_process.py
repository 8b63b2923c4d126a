"""`teambeat run` as a process: it serves HTTP when a route is configured and stops cleanly on SIGTERM,
even while the console is waiting for a line that never comes."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow  # every test here starts `teambeat run` as a process

CONFIG = """
[database]
url = "sqlite:///{db}"
[server]
host = "127.0.0.1"
port = {port}
[hooks]
deals_secret = "s3cret"
[console]
enabled = true
user = "boss"
[[teams]]
id = "east"
name = "华东一部"
platform = "console"
workspace = "local"
channel = "east"
leaders = ["boss"]
[[teams.members]]
id = "boss"
name = "Boss"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_sigterm_stops_a_waiting_bot_and_its_server(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(db=tmp_path / "run.db", port=port), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "run", "-c", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        health = None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(300):
                try:
                    health = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert health is not None and health.json()["adapters"] == {"console": {"ok": True}}
            unsigned = await client.post("/hooks/deals", content=b"{}")
            assert unsigned.status_code == 401
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
        assert code == 0
        assert time.monotonic() - began < 15
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdin.close()


def test_a_port_already_taken_is_a_one_line_answer_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "run.toml"
        config.write_text(CONFIG.format(db=tmp_path / "run.db", port=port), encoding="utf-8")
        finished = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "run", "-c", str(config)],
            input=b"",
            capture_output=True,
            timeout=60,
        )
    errors = finished.stderr.decode()
    assert finished.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in errors and "[server] port" in errors
    assert "Traceback" not in errors

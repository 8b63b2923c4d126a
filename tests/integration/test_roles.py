"""`teambeat run --role web|worker` (product.md): a `web` process takes a signed Slack command in and
works no job; a `worker` process on the same database answers it, with no HTTP server of its own.

Two Runtimes in one test process, each with its own App (engine, sessions, job workers) on one database,
against the fake Slack on loopback; the command is posted to the web Runtime's own server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from adapters.runtime import Role, Runtime
from adapters.slack.adapter import SlackAdapter
from bot.app import App, build_app
from bot.config import load_config
from bot.storage.orm import JobRow
from tests.fakes.slack import FakeSlack, command_form, encode_form, message_text, signed_headers
from tests.fakes.slack_bot import APP_TOKEN, CHANNEL, SECRET, TEAM, workspace, write_config
from tests.support.bot_process import free_port
from tests.support.loopback import serve


@contextlib.asynccontextmanager
async def running(config: Path, database_url, role: Role) -> AsyncIterator[Runtime]:
    _, pg_schema = database_url
    app: App = await build_app(load_config(config, environ={}), pg_schema=pg_schema)
    runtime = Runtime(app, {"slack": SlackAdapter(app)}, role)
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.stop()


async def jobs_waiting(runtime: Runtime) -> int:
    async with runtime.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(JobRow)) or 0)


@pytest.mark.slow  # about two seconds of waiting for pollers
async def test_a_command_taken_by_web_is_answered_by_the_worker(database_url, tmp_path: Path) -> None:
    fake = FakeSlack([workspace()], app_token=APP_TOKEN)
    async with serve(fake.app()) as fake_url:
        config = write_config(tmp_path, database_url[0], fake_url)
        port = free_port()
        config.write_text(config.read_text() + f"\n[server]\nport = {port}\n", encoding="utf-8")
        answer_url = fake.response_url(fake_url)
        form = command_form(TEAM, "U0001", CHANNEL, "/goal", "team 300000 month", answer_url)
        body = encode_form(form)
        async with running(config, database_url, "web") as web:
            assert web.web is not None and not web.scheduler.leading
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                acked = await http.post(
                    "/slack/events", content=body, headers=signed_headers(SECRET, body) | headers
                )
            assert acked.status_code == 200, acked.text
            await asyncio.sleep(1.5)  # longer than a job worker's poll: web works no job
            assert fake.answers_at(answer_url) == []
            assert await jobs_waiting(web) == 1
            async with running(config, database_url, "worker") as worker:
                assert worker.web is None  # no HTTP of its own
                # The answer is sent before the job's row is deleted: wait for both.
                async with asyncio.timeout(15):
                    while not fake.answers_at(answer_url) or await jobs_waiting(worker):
                        await asyncio.sleep(0.05)
    answers = [message_text(a) for a in fake.answers_at(answer_url)]
    assert len(answers) == 1 and "300,000" in answers[0], answers

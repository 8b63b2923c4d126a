"""teambeat on a fake Slack: the real adapter, bolt and slack_sdk, the fake Web API on loopback, and the
bot's own HTTP server driven with signed requests — so tests read like a Slack conversation."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from adapters.slack.adapter import SlackAdapter
from adapters.slack.socket_mode import WatchdogSettings
from adapters.web.server import build_web_app
from bot.app import App, build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.delivery.worker import DeliveryWorker
from bot.ports import MessageSink
from tests.fakes.slack import (
    FakeSlack,
    Workspace,
    block_actions,
    command_form,
    encode_form,
    event_callback,
    interactive_body,
    message_text,
    signed_headers,
    view_submission,
)
from tests.support.loopback import serve

TEAM = "T0001"
CHANNEL = "C0001"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-fake-T0001"
APP_TOKEN = "xapp-1-fake"
BOT_USER = "UBOT"
PEOPLE = {"U0001": "Boss", "U0002": "Alice", "U0003": "Bob", "U0004": "Carol", "U0005": "Dave"}
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

CONFIG = """
[database]
url = "{url}"

[slack]
mode = "{mode}"
bot_token = "{bot_token}"
signing_secret = "{secret}"
app_token = "{app_token}"
api_base_url = "{api}/api/"
oauth = {oauth}
client_id = "cid.1"
client_secret = "csecret"

[[teams]]
id = "east"
name = "East Sales"
platform = "slack"
workspace = "T0001"
channel = "C0001"
locale = "{locale}"
calendar = "cn"
leaders = ["U0001"]

[[teams.groups]]
name = "Wolves"
members = ["U0002", "U0005"]

[[teams.groups]]
name = "Tigers"
members = ["U0003", "U0004"]

[[teams.members]]
id = "U0001"
name = "Boss"
[[teams.members]]
id = "U0002"
name = "Alice"
role = "lead"
[[teams.members]]
id = "U0003"
name = "Bob"
[[teams.members]]
id = "U0004"
name = "Carol"
"""


def workspace(team: str = TEAM, token: str = BOT_TOKEN, channels: tuple[str, ...] = (CHANNEL,)) -> Workspace:
    ws = Workspace(team, token, BOT_USER, set(channels))
    for user_id, name in PEOPLE.items():
        ws.add_user(user_id, name)
    return ws


@dataclass
class SlackBot:
    """One test's bot. Methods are what a person does in Slack; they return what that person sees."""

    app: App
    adapter: SlackAdapter
    fake: FakeSlack
    fake_url: str
    http: httpx.AsyncClient
    worker: DeliveryWorker
    ack_seconds: list[float] = field(default_factory=list)

    async def post(self, body: bytes, content_type: str, **headers: str) -> httpx.Response:
        signed = signed_headers(SECRET, body) | headers
        started = time.perf_counter()
        response = await self.http.post(
            "/slack/events", content=body, headers={"Content-Type": content_type, **signed}
        )
        self.ack_seconds.append(time.perf_counter() - started)
        return response

    async def command(self, user: str, line: str, *, channel: str = CHANNEL, team: str = TEAM) -> list[str]:
        """`user` types a slash command; the answers only they see (mrkdwn, as Slack got them)."""
        command, _, text = line.partition(" ")
        url = self.fake.response_url(self.fake_url)
        form = command_form(team, user, channel, command, text, url)
        self.fake.triggers[form["trigger_id"]] = (team, user, self.fake.clock())
        response = await self.post(encode_form(form), "application/x-www-form-urlencoded")
        assert response.status_code == 200, response.text
        await self.settle()
        answers = self.fake.answers_at(url)
        ephemeral = [e for e in self.fake.ephemerals(user) if e.get("channel") == channel]
        return [message_text(a) for a in answers] or [message_text(e) for e in ephemeral[-1:]]

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **headers: str
    ) -> httpx.Response:
        body = json.dumps(event_callback(TEAM, event, event_id=event_id, bot_user_id=BOT_USER)).encode()
        return await self.post(body, "application/json", **headers)

    async def mention(self, user: str, text: str, *, channel: str = CHANNEL) -> list[str]:
        """`@teambeat <text>` in a channel; the ephemeral answers `user` got for it."""
        before = len(self.fake.ephemerals(user))
        event = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER}> {text}",
            "ts": f"{time.time():.6f}",
            "channel": channel,
            "event_ts": f"{time.time():.6f}",
        }
        response = await self.event(event)
        assert response.status_code == 200, response.text
        await self.settle()
        return [message_text(e) for e in self.fake.ephemerals(user)[before:]]

    async def dm(self, user: str, text: str) -> list[str]:
        """A plain message in the bot's DM; what the bot then wrote in that DM."""
        channel = self.dm_channel(user)
        before = len(self.fake.posts(channel))
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
            "channel": channel,
            "event_ts": f"{time.time():.6f}",
        }
        response = await self.event(event)
        assert response.status_code == 200, response.text
        await self.settle()
        return [message_text(p) for p in self.fake.posts(channel)[before:]]

    async def click(
        self, user: str, message: dict[str, Any], button: int = 0, *, team: str = TEAM
    ) -> httpx.Response:
        """`user` clicks the `button`-th button of a message the bot posted (as Slack accepted it)."""
        channel = str(message.get("channel"))
        trigger = self.fake.issue_trigger(team, user)
        payload = block_actions(team, user, channel, message, button, trigger)
        response = await self.post(interactive_body(payload), "application/x-www-form-urlencoded")
        await self.settle()
        return response

    async def submit(
        self, user: str, view_id: str, values: dict[str, str], *, team: str = TEAM
    ) -> httpx.Response:
        """`user` presses the modal's submit button with `values` entered (block_id → text)."""
        view = self.fake.views[view_id]["view"]
        trigger = self.fake.issue_trigger(team, user)
        payload = view_submission(team, user, view, values, trigger)
        response = await self.post(interactive_body(payload), "application/x-www-form-urlencoded")
        await self.settle()
        return response

    def dm_channel(self, user: str, team: str = TEAM) -> str:
        """The DM channel id Slack gives the bot and `user` (the fake opens it on first use)."""
        return self.fake.workspaces[team].dms.setdefault(user, "D" + user.lstrip("UW"))

    def channel_posts(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        return self.fake.posts(channel)

    def dms_to(self, user: str, team: str = TEAM) -> list[str]:
        return [message_text(p) for p in self.fake.posts(self.dm_channel(user, team))]

    async def settle(self, *, let_time_pass: bool = True) -> None:
        """Background work done and the outbox drained; with `let_time_pass`, the clock moves on to
        each rate-limit slot or retry the worker waits for (a few seconds), as real time would."""
        await self.adapter.wait_idle()
        for _ in range(50):
            await self.app.jobs.drain()
            await self.worker.drain()
            due = self.worker.next_due
            if not let_time_pass or due is None:
                return
            clock = self.app.clock
            assert isinstance(clock, FixedClock)
            if due > clock.now() + timedelta(minutes=5):
                return
            clock.set(max(due, clock.now()))


def write_config(
    tmp_path: Path, url: str, api: str, *, mode: str = "http", oauth: bool = False, locale: str = "en"
) -> Path:
    path = tmp_path / "teambeat.toml"
    path.write_text(
        CONFIG.format(
            url=url,
            mode=mode,
            bot_token="" if oauth else BOT_TOKEN,
            secret=SECRET,
            app_token=APP_TOKEN,
            api=api,
            oauth=str(oauth).lower(),
            locale=locale,
        ),
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def slack_bot(
    tmp_path: Path,
    database_url: Any,
    *,
    fake: FakeSlack | None = None,
    mode: str = "http",
    oauth: bool = False,
    watchdog: WatchdogSettings | None = None,
    sink: Callable[[App], MessageSink] | None = None,
    locale: str = "en",
) -> AsyncIterator[SlackBot]:
    """The bot in `mode` against a fake Slack; the bot's HTTP server is served when it has routes."""
    url, pg_schema = database_url
    fake = fake or FakeSlack([workspace()], app_token=APP_TOKEN)
    async with serve(fake.app()) as fake_url:
        config = load_config(
            write_config(tmp_path, url, fake_url, mode=mode, oauth=oauth, locale=locale), environ={}
        )
        app = await build_app(config, FixedClock(MONDAY_10), migrate=False, pg_schema=pg_schema)
        adapter = SlackAdapter(app, watchdog=watchdog)
        worker = DeliveryWorker(app.uow_factory, {"slack": adapter}, app.clock, metrics=app.metrics)
        try:
            await adapter.start(sink(app) if sink else app.dispatcher.handle)
            async with (
                serve(build_web_app(app, {"slack": adapter})) as bot_url,
                httpx.AsyncClient(base_url=bot_url, timeout=10) as http,
            ):
                yield SlackBot(app, adapter, fake, fake_url, http, worker)
        finally:
            await adapter.stop()
            await app.close()

"""The real `teambeat run` with all four signed doors open, and the fake platforms behind it.

One bot process serves Slack in HTTP mode (`POST /slack/events`), DingTalk in HTTP mode (`POST
/dingtalk/callback`), WeCom (`GET|POST /wecom/callback`) and the deal webhook (`POST /hooks/deals`), with
every platform's API pointed at a fake served by the test on loopback. Each platform has a team (the
"east" ones); a test module may add its own teams, for which the fakes also know a second Slack channel
(`SLACK_WEST`) and a second WeCom group robot (`WECOM_WEST_KEY`); DingTalk's fake knows `dingtalk.WEST`
and its custom robot already.

Every day around the test is a holiday for the teams, so no scheduled post can add rows of its own.
Stopping checks what R6 asks of every run: the process exits 0 on SIGTERM without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from wechatpy.enterprise.crypto import WeChatCrypto

from adapters.dingtalk.sign import callback_sign
from adapters.wecom.payload import parse_xml
from bot.clock import SystemClock
from bot.storage.db import create_engine
from bot.storage.orm import Checkin, Deal, Kudos, Member, OutboxRow, ProcessedEvent, Team
from tests.fakes import dingtalk, slack_bot, wecom
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.slack import FakeSlack
from tests.fakes.wecom import FakeWeCom, WeComBot
from tests.support import deals
from tests.support.bot_process import Bot, cleanup, free_port, holidays_around_today
from tests.support.databases import database_for_subprocess
from tests.support.loopback import serve

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUIET = 0.5  # seconds in which nothing changed: the bot has finished with what it was sent
SETTLE_TIMEOUT = 60.0
SLACK_WEST = "C0002"
SLACK_SOUTH = "T0002"  # a second Slack workspace, served when the app is installed with OAuth
SLACK_SOUTH_TOKEN = "xoxb-fake-T0002"
SLACK_OAUTH = 'oauth = true\nclient_id = "cid.1"\nclient_secret = "csecret"'
WECOM_WEST_KEY = "robot-west-key"
RECORDS = {
    "processed_events": ProcessedEvent,
    "members": Member,
    "deals": Deal,
    "kudos": Kudos,
    "checkins": Checkin,
    "outbox": OutboxRow,
}

CONFIG = """
[database]
url = "{url}"

[server]
host = "127.0.0.1"
port = {port}

[hooks]
deals_secret = "{deals_secret}"

[slack]
mode = "http"
bot_token = "{slack_token}"
signing_secret = "{slack_secret}"
api_base_url = "{slack_api}/api/"
{slack_oauth}

[dingtalk]
mode = "http"
app_key = "{ding_key}"
app_secret = "{ding_secret}"
robot_code = "{ding_robot}"
api_base_url = "{ding_api}"
oapi_base_url = "{ding_api}"

[wecom]
corp_id = "{corp_id}"
agent_id = {agent_id}
secret = "{wecom_secret}"
token = "{wecom_token}"
encoding_aes_key = "{aes_key}"
api_base_url = "{wecom_api}"

[[teams]]
id = "slack-east"
name = "East Sales"
platform = "slack"
workspace = "{slack_team}"
channel = "{slack_channel}"
locale = "en"
calendar = "everyday"
extra_holidays = {holidays}
leaders = ["U0001"]
[[teams.members]]
id = "U0001"
name = "Boss"
[[teams.members]]
id = "U0002"
name = "Alice"
email = "alice@example.com"
[[teams.members]]
id = "U0003"
name = "Bob"

[[teams]]
id = "dingtalk-east"
name = "华东一部"
platform = "dingtalk"
workspace = "{ding_corp}"
channel = "{ding_channel}"
calendar = "everyday"
extra_holidays = {holidays}
leaders = ["boss01"]
[[teams.members]]
id = "boss01"
name = "王总"
[[teams.members]]
id = "alice01"
name = "alice"

[[teams]]
id = "wecom-east"
name = "华东二部"
platform = "wecom"
workspace = "{corp_id}"
channel = "{wecom_channel}"
channel_webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={robot_key}"
calendar = "everyday"
extra_holidays = {holidays}
leaders = ["boss"]
[[teams.members]]
id = "boss"
name = "Boss"
[[teams.members]]
id = "alice"
name = "Alice"
"""


def wecom_fake(*robot_keys: str) -> FakeWeCom:
    """The fake WeCom of the corp every test config names, with these group robots."""
    return FakeWeCom(
        clock=SystemClock(),
        corp_id=wecom.CORP_ID,
        secret=wecom.SECRET,
        agent_id=wecom.AGENT_ID,
        users=dict(wecom.PEOPLE),
        robot_keys=set(robot_keys),
    )


def now_s() -> int:
    return int(time.time())


def config_values(url: str, port: int, slack_api: str, ding_api: str, wecom_api: str) -> dict[str, object]:
    """What a config template of these tests may name: the database, the port and each fake's settings."""
    return {
        "url": url,
        "port": port,
        "deals_secret": deals.SECRET,
        "slack_token": slack_bot.BOT_TOKEN,
        "slack_oauth": "",
        "slack_secret": slack_bot.SECRET,
        "slack_api": slack_api,
        "slack_team": slack_bot.TEAM,
        "slack_channel": slack_bot.CHANNEL,
        "ding_key": dingtalk.APP_KEY,
        "ding_secret": dingtalk.APP_SECRET,
        "ding_robot": dingtalk.ROBOT_CODE,
        "ding_api": ding_api,
        "ding_corp": dingtalk.CORP,
        "ding_channel": dingtalk.EAST,
        "corp_id": wecom.CORP_ID,
        "agent_id": wecom.AGENT_ID,
        "wecom_secret": wecom.SECRET,
        "wecom_token": wecom.TOKEN,
        "aes_key": wecom.AES_KEY,
        "wecom_api": wecom_api,
        "wecom_channel": wecom.EAST_CHANNEL,
        "robot_key": wecom.ROBOT_KEY,
        "holidays": holidays_around_today(),
    }


def write_config(
    tmp_path: Path,
    url: str,
    port: int,
    slack_api: str,
    ding_api: str,
    wecom_api: str,
    extra_teams: str = "",
    slack_oauth: bool = False,
) -> Path:
    """The config of the east teams, then `extra_teams` (TOML; it may use `{holidays}` like they do).
    With `slack_oauth`, Slack is a multi-workspace app: no bot token, each workspace's comes with its
    install."""
    path = tmp_path / "teambeat.toml"
    values = config_values(url, port, slack_api, ding_api, wecom_api)
    if slack_oauth:
        values.update(slack_token="", slack_oauth=SLACK_OAUTH)
    text = (CONFIG + extra_teams).format(**values)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Trace:
    """Everything a request can leave behind: rows per table, and how often each fake platform was called."""

    rows: dict[str, int]
    pending: int
    platforms: dict[str, int]


@dataclass
class Doors:
    """The running bot's four signed doors, its database, and the fake platforms it talks to."""

    bot: Bot
    http: httpx.AsyncClient
    engine: AsyncEngine
    slack: FakeSlack
    slack_url: str
    dingtalk: FakeDingTalk
    wecom: FakeWeCom

    async def trace(self) -> Trace:
        async with self.engine.connect() as connection:
            rows = {
                name: int(await connection.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in RECORDS.items()
            }
            pending = await connection.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")
            )
        platforms = {
            "slack api": len(self.slack.calls),
            "slack response_url": len(self.slack.responses),
            "dingtalk": len(self.dingtalk.calls),
            "wecom sent": len(self.wecom.sent) + len(self.wecom.dropped),
            "wecom refused": len(self.wecom.refused),
            "wecom tokens": self.wecom.token_requests,
        }
        return Trace(rows, int(pending or 0), platforms)

    async def settled(self, until: Callable[[], bool] = lambda: True) -> Trace:
        """The trace once the bot is idle: `until` holds (the effect the test waits for is visible), its
        outbox is delivered, and nothing changed for QUIET seconds."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        last = await self.trace()
        while True:
            await asyncio.sleep(QUIET)
            now = await self.trace()
            if now == last and now.pending == 0 and until():
                return now
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot never settled: {now}\n{self.bot.errors()}")
            last = now

    async def deals_of(self, team: str) -> list[Row[Any]]:
        """The deals stored for the team with this slug, oldest first."""
        of_team = select(Team.id).where(Team.slug == team).scalar_subquery()
        query = select(Deal).where(Deal.team_id == of_team).order_by(Deal.id)
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def kudos(self) -> list[str]:
        async with self.engine.connect() as connection:
            return list(await connection.scalars(select(Kudos.reason)))


async def install_slack_app(http: httpx.AsyncClient, code: str) -> None:
    """A workspace admin clicks "Add to Slack" and approves: the bot stores that workspace's token."""
    page = await http.get("/slack/install")
    assert page.status_code == 200, page.text
    state = page.headers["set-cookie"].partition("slack-app-oauth-state=")[2].partition(";")[0]
    assert state, page.headers
    done = await http.get(
        "/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    )
    assert done.status_code == 200 and "Thank you!" in done.text, done.text


@contextlib.asynccontextmanager
async def open_doors(
    backend: str, tmp_path: Path, *, extra_teams: str = "", slack_oauth: bool = False
) -> AsyncIterator[Doors]:
    """One `teambeat run` with every HTTP entry point configured, on a fresh database of the backend;
    afterwards it must stop on SIGTERM with exit code 0 and no traceback on stderr. With `slack_oauth`,
    the Slack app is installed (OAuth) in two workspaces, `slack_bot.TEAM` and `SLACK_SOUTH`, which
    have the same channel ids and the same user ids."""
    channels = (slack_bot.CHANNEL, SLACK_WEST)
    workspaces = [slack_bot.workspace(channels=channels)]
    if slack_oauth:
        workspaces.append(slack_bot.workspace(SLACK_SOUTH, SLACK_SOUTH_TOKEN, channels))
    fake_slack = FakeSlack(workspaces)
    fake_slack.oauth_codes = {f"code-{ws.team_id}": ws for ws in workspaces} if slack_oauth else {}
    fake_dingtalk = FakeDingTalk(SystemClock(), users=dict(dingtalk.PEOPLE))
    fake_wecom = wecom_fake(wecom.ROBOT_KEY, WECOM_WEST_KEY)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    running: list[Bot] = []
    async with (
        database_for_subprocess(backend, tmp_path) as url,
        serve(fake_slack.app()) as slack_url,
        serve(fake_dingtalk.asgi()) as dingtalk_url,
        serve(fake_wecom.asgi()) as wecom_url,
    ):
        config = write_config(
            tmp_path, url, port, slack_url, dingtalk_url, wecom_url, extra_teams, slack_oauth
        )
        with cleanup(running):
            running.append(Bot.start(config, tmp_path, 1))
            bot = running[0]
            await bot.wait_listening(base)
            engine = create_engine(url)
            try:
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    for code in list(fake_slack.oauth_codes):
                        await install_slack_app(http, code)
                    yield Doors(bot, http, engine, fake_slack, slack_url, fake_dingtalk, fake_wecom)
            finally:
                await engine.dispose()
            assert await bot.terminate_and_wait() == 0, bot.errors()
            assert "Traceback" not in bot.errors(), bot.errors()


# ----- signing each door's requests as its platform does ---------------------------------------------


async def post_to_slack(doors: Doors, body: bytes, headers: dict[str, str]) -> httpx.Response:
    kind = "application/json" if body.startswith(b"{") else "application/x-www-form-urlencoded"
    return await doors.http.post("/slack/events", content=body, headers={"Content-Type": kind, **headers})


def dingtalk_headers(secret: str = dingtalk.APP_SECRET, *, shift_ms: int = 0) -> dict[str, str]:
    timestamp = int(time.time() * 1000) + shift_ms
    return {"timestamp": str(timestamp), "sign": callback_sign(secret, timestamp)}


async def post_to_dingtalk(doors: Doors, payload: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return await doors.http.post(
        "/dingtalk/callback", content=body, headers={"Content-Type": "application/json", **headers}
    )


def sealed(
    plain: str, *, token: str = wecom.TOKEN, corp_id: str = wecom.CORP_ID, shift: int = 0
) -> tuple[bytes, dict[str, str]]:
    """A callback as WeCom sends it, encrypted and signed by wechatpy (the independent oracle)."""
    timestamp, nonce = str(now_s() + shift), uuid.uuid4().hex[:10]
    crypto = WeChatCrypto(token, wecom.AES_KEY, corp_id)
    sent = parse_xml(crypto.encrypt_message(plain, nonce, timestamp).encode())
    query = {"msg_signature": sent["MsgSignature"], "timestamp": sent["TimeStamp"], "nonce": sent["Nonce"]}
    return WeComBot.envelope(sent["Encrypt"]), query

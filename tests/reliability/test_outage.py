"""R2 outage and R3 rate limit (quality.md), seen from the real `teambeat run` on SQLite and PostgreSQL.

One bot process per test posts into three team channels: a Slack channel (chat.postMessage), a DingTalk
custom group robot (robot/send, signed) and a WeCom group robot (webhook/send). Each platform is a fake
from tests/fakes served on loopback behind a switch (tests/support/outage.py) that can make it answer 500
or stop listening. Deals come in through the signed deal webhook; each becomes one 喜报 in its team's
channel — the other announcements are switched off and every day around the test is a holiday — so a
channel must show exactly its deals' customers, each once, in the order the deals were acknowledged.
(A backlog that outruns Slack's rate of three posts in three seconds is folded into a digest, as designed;
the digest lists the deals in order, and its folded rows share its outbox status.)

The retry policy is shortened through `[delivery]` (quality.md's 30 s outage becomes about 6 s); the waits
platforms impose (Retry-After, DingTalk's ten-minute robot block, WeCom's 45009) are not shortened.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SystemClock
from bot.storage.db import create_engine
from bot.storage.orm import OutboxRow
from tests.fakes import dingtalk, slack_bot, wecom
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.slack import FakeSlack, message_text
from tests.fakes.wecom import FakeWeCom
from tests.support import deals, doors
from tests.support.bot_process import Bot, cleanup, free_port
from tests.support.databases import database_for_subprocess
from tests.support.doors import config_values
from tests.support.outage import Switched, serve_switched

PHASE = 3.0  # seconds each kind of outage lasts at least (500s, then refused connections)
SETTLE_TIMEOUT = 60.0
QUIET = 1.0  # after the last expected post: time for a duplicate, were there one, to arrive
RETRY_AFTER = 2  # Slack's Retry-After, in seconds
DUE_WITHIN = 2.0  # a retry that has fallen due is made within this (the worker polls every 0.2 s)
OBSERVE = 5.0  # seconds after a DingTalk or WeCom refusal in which a retry would break the platform's rule
PLATFORM_WAITS = {
    "dingtalk": ("130101", timedelta(minutes=10)),  # the robot is blocked for ten minutes (platforms.md)
    "wecom": ("45009", timedelta(seconds=60)),  # "api freq out of limit", no wait given: teambeat waits 60 s
}
CONNECTION_FAILED = re.compile("connect", re.IGNORECASE)

# Short retries, many of them: a few-second outage must not exhaust max_attempts, and the retries (which
# count in a robot's 10-messages-in-30-s burst window) must leave room for the backlog after recovery.
MAX_BACKOFF = 3.0
DELIVERY = f"""
[delivery]
poll_interval = 0.2
max_attempts = 100
base_backoff = 1.5
max_backoff = {MAX_BACKOFF}
"""

CONFIG = """
[database]
url = "{url}"

[server]
host = "127.0.0.1"
port = {port}

[hooks]
deals_secret = "{deals_secret}"
{delivery}
[slack]
mode = "http"
bot_token = "{slack_token}"
signing_secret = "{slack_secret}"
api_base_url = "{slack_api}/api/"

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
{only_deals}
[[teams.members]]
id = "U0001"
name = "Boss"
[[teams.members]]
id = "U0002"
name = "Alice"

[[teams]]
id = "dingtalk-west"
name = "华西二部"
platform = "dingtalk"
workspace = "{ding_corp}"
channel = "{ding_channel}"
channel_webhook = "https://oapi.dingtalk.com/robot/send?access_token={ding_robot_token}"
channel_secret = "{ding_robot_secret}"
calendar = "everyday"
extra_holidays = {holidays}
leaders = ["li01"]
{only_deals}
[[teams.members]]
id = "li01"
name = "李经理"
[[teams.members]]
id = "zhao01"
name = "赵六"

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
{only_deals}
[[teams.members]]
id = "boss"
name = "Boss"
[[teams.members]]
id = "alice"
name = "Alice"
"""

ONLY_DEALS = """[teams.announcements]
milestones = false
records = false
rank_changes = false
"""


@dataclass
class Channel:
    """One team's channel on one fake platform: how a deal reaches it and what the platform accepted."""

    platform: str
    team: str
    member: str
    initial: str
    switch: Switched
    path: str
    """Where the bot posts into this channel on the platform."""
    accepted: Callable[[], list[str]]
    """The text of every post the platform accepted for the channel, in order."""
    tags: list[str] = field(default_factory=list)
    """The customers of the deals acknowledged for this team, in order: what the channel must show."""

    def tag(self, number: int) -> str:
        return f"Client{self.initial}{number:02d}"


@dataclass
class Stage:
    """The running bot, its database, its webhook and the three channels it posts into."""

    config: Path
    tmp_path: Path
    base: str
    engine: AsyncEngine
    http: httpx.AsyncClient
    slack: FakeSlack
    dingtalk: FakeDingTalk
    wecom: FakeWeCom
    channels: list[Channel]
    bots: list[Bot] = field(default_factory=list)

    @property
    def bot(self) -> Bot:
        return self.bots[-1]

    def channel(self, platform: str) -> Channel:
        return next(c for c in self.channels if c.platform == platform)

    async def start(self) -> None:
        self.bots.append(Bot.start(self.config, self.tmp_path, len(self.bots) + 1))
        await self.bot.wait_listening(self.base)

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops it: it exits cleanly, having shown no stack trace."""
        assert await self.bot.terminate_and_wait() == 0, self.bot.errors()
        assert "Traceback" not in self.bot.errors(), self.bot.errors()

    async def deals(self, numbers: Iterable[int]) -> None:
        """One signed deal per team for each number, one after the other; each must be acknowledged."""
        for number in numbers:
            for channel in self.channels:
                tag = channel.tag(number)
                payload = {
                    "id": f"{channel.team}-{number}",
                    "team": channel.team,
                    "member": channel.member,
                    "amount": 1000 + number,
                    "customer": tag,
                }
                raw = deals.body_of(payload)
                answer = await self.http.post(
                    "/hooks/deals", content=raw, headers=deals.signed_headers(raw, int(time.time()))
                )
                assert answer.status_code == 202, answer.text
                channel.tags.append(tag)

    async def outbox(self) -> list[Row[Any]]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(select(OutboxRow.__table__).order_by(OutboxRow.id))).all())

    async def attempts(self) -> dict[str, int]:
        """Send attempts so far, per platform."""
        rows = await self.outbox()
        return {c.platform: sum(r.attempts for r in rows if r.platform == c.platform) for c in self.channels}

    async def tried_since(self, before: dict[str, int]) -> bool:
        """Whether every platform was tried again since `attempts()` answered `before`."""
        now = await self.attempts()
        return all(now[platform] > count for platform, count in before.items())

    async def head(self, platform: str) -> Row[Any]:
        """The platform's oldest pending post: the one being tried (the others wait behind it)."""
        rows = [r for r in await self.outbox() if r.platform == platform]
        pending = [r for r in rows if r.status == "pending"]
        assert pending, f"nothing is waiting to go to {platform}: {[(r.status, r.last_error) for r in rows]}"
        return pending[0]

    async def delivered(self) -> bool:
        """Every acknowledged deal is shown in its channel and nothing is left to send."""
        every = self.every_tag()
        if any(len(shown(c.accepted(), every)) < len(c.tags) for c in self.channels):
            return False
        return not any(r.status == "pending" for r in await self.outbox())

    def every_tag(self) -> list[str]:
        return [tag for channel in self.channels for tag in channel.tags]

    async def until(self, condition: Callable[[], bool | Awaitable[bool]], what: str) -> float:
        """Wait until `condition` holds; the seconds it took."""
        start = time.monotonic()
        while True:
            held = condition()
            if inspect.isawaitable(held):
                held = await held
            if held:
                return time.monotonic() - start
            if time.monotonic() - start > SETTLE_TIMEOUT:
                raise AssertionError(f"not within {SETTLE_TIMEOUT} s: {what}\n{self.bot.errors()}")
            await asyncio.sleep(0.1)


def write_config(tmp_path: Path, url: str, port: int, slack_api: str, ding_api: str, wecom_api: str) -> Path:
    path = tmp_path / "teambeat.toml"
    text = CONFIG.format(
        **config_values(url, port, slack_api, ding_api, wecom_api)
        | {
            "delivery": DELIVERY,
            "only_deals": ONLY_DEALS,
            "ding_channel": dingtalk.WEST,
            "ding_robot_token": dingtalk.WEST_ROBOT_TOKEN,
            "ding_robot_secret": dingtalk.WEST_ROBOT_SECRET,
        }
    )
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def staged(backend: str, tmp_path: Path) -> AsyncIterator[Stage]:
    """`teambeat run` on a fresh database, posting to the three fakes behind their switches; stopped
    with SIGTERM afterwards (and killed if the test failed first)."""
    slack = FakeSlack([slack_bot.workspace()])
    ding = FakeDingTalk(SystemClock(), users=dict(dingtalk.PEOPLE))
    wecom_fake = doors.wecom_fake(wecom.ROBOT_KEY)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        database_for_subprocess(backend, tmp_path) as url,
        serve_switched(slack.app()) as slack_api,
        serve_switched(ding.asgi()) as ding_api,
        serve_switched(wecom_fake.asgi()) as wecom_api,
    ):
        channels = [
            Channel(
                "slack",
                "slack-east",
                "U0002",
                "S",
                slack_api,
                "/api/chat.postMessage",
                lambda: [message_text(post) for post in slack.posts(slack_bot.CHANNEL)],
            ),
            Channel(
                "dingtalk",
                "dingtalk-west",
                "zhao01",
                "D",
                ding_api,
                "/robot/send",
                lambda: [post["markdown"]["text"] for post in ding.robot_posts(dingtalk.WEST_ROBOT_TOKEN)],
            ),
            Channel(
                "wecom",
                "wecom-east",
                "alice",
                "W",
                wecom_api,
                "/cgi-bin/webhook/send",
                lambda: [post.content for post in wecom_fake.robot_posts(wecom.ROBOT_KEY)],
            ),
        ]
        config = write_config(tmp_path, url, port, slack_api.url, ding_api.url, wecom_api.url)
        engine = create_engine(url)
        bots: list[Bot] = []
        try:
            with cleanup(bots):
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    fakes = (slack, ding, wecom_fake)
                    stage = Stage(config, tmp_path, base, engine, http, *fakes, channels, bots)
                    await stage.start()
                    yield stage
                    await stage.stop()
        finally:
            await engine.dispose()


def shown(posts: list[str], tags: list[str]) -> list[str]:
    """The tags the posts show, post by post (within a post, in the order they appear): a deal shown
    twice comes out twice, one never shown not at all. A digest of folded 喜报 shows several."""
    return [tag for post in posts for tag in sorted((t for t in tags if t in post), key=post.index)]


def fates(rows: list[Row[Any]]) -> dict[str, str]:
    """Each outbox row's outcome; a 喜报 folded into a digest shares the outcome of the digest's row."""
    status_of = {row.id: row.status for row in rows}
    return {
        row.dedupe_key: status_of.get(row.folded_into, "missing") if row.status == "folded" else row.status
        for row in rows
    }


def at(hit_time: float) -> datetime:
    return datetime.fromtimestamp(hit_time, UTC)


async def test_an_outage_delays_every_post_until_recovery_and_loses_or_repeats_none(backend, tmp_path):
    """R2: the platforms answer 500, then refuse connections, then recover; deals keep coming meanwhile.

    A post that failed only because the platform was down must be retried until it goes, not marked
    failed; the backlog must leave in the order it was queued, each post once.
    """
    async with staged(backend, tmp_path) as stage:
        for channel in stage.channels:
            channel.switch.fail(500)
        began = time.monotonic()
        await stage.deals([1, 2])
        await stage.until(
            lambda: all(sum(h.status == 500 for h in c.switch.on(c.path)) >= 2 for c in stage.channels),
            "every platform answered 500 to a post and to its retry",
        )
        await asyncio.sleep(max(0.0, PHASE - (time.monotonic() - began)))

        tried = await stage.attempts()
        for channel in stage.channels:
            await channel.switch.refuse()
        refused = time.monotonic()
        await stage.deals([3, 4])
        await stage.until(
            lambda: stage.tried_since(tried), "every platform's head post was tried against a closed port"
        )
        await asyncio.sleep(max(0.0, PHASE - (time.monotonic() - refused)))
        for channel in stage.channels:  # still waiting, not failed: the refusal was only transient
            head = await stage.head(channel.platform)
            assert head.attempts > 1 and CONNECTION_FAILED.search(head.last_error or ""), head
        outage_s = time.monotonic() - began

        for channel in stage.channels:
            await channel.switch.recover()
        recovery_s = await stage.until(stage.delivered, "every post is delivered after the recovery")
        await asyncio.sleep(QUIET)
        rows = await stage.outbox()

    every = stage.every_tag()
    for channel in stage.channels:
        assert shown(channel.accepted(), every) == channel.tags  # each once, in order, nowhere else
        sent = [r for r in rows if r.platform == channel.platform and r.status == "sent"]
        assert len(channel.accepted()) == len(sent)  # no row went twice
        assert max(r.attempts for r in sent) > 1
        statuses = [h.status for h in channel.switch.on(channel.path)]
        failed = statuses.count(500)  # (refused connections never reached the platform)
        assert failed >= 2 and statuses == [500] * failed + [200] * len(sent)  # then one request per post
    assert set(fates(rows).values()) == {"sent"}  # none failed, none left behind
    attempts = ", ".join(f"{r.platform} {r.attempts}" for r in rows if r.attempts > 1)
    posts = ", ".join(f"{c.platform} {len(c.accepted())}" for c in stage.channels)
    print(
        f"{backend}: outage {outage_s:.1f} s (500s, then refused); attempts of retried rows: {attempts}; "
        f"posts for 4 deals each: {posts}; all delivered {recovery_s:.1f} s after the recovery"
    )


async def test_rate_limits_are_waited_out_and_each_post_then_goes_once(backend, tmp_path):
    """R3: Slack answers 429 with Retry-After twice, DingTalk's robot 130101 and WeCom's robot 45009 once.

    Slack is measured live: no retry before Retry-After has passed, then delivery. DingTalk blocks the
    robot for ten minutes and WeCom asks for a pause: the bot must not try again meanwhile (watched for
    OBSERVE seconds, and read from the post's scheduled next attempt); then time passes for those two
    posts — the bot is stopped, their schedule moved back by the wait, the bot started again — and each
    post goes once, in order.
    """
    async with staged(backend, tmp_path) as stage:
        slack = stage.channel("slack")
        robots = (stage.channel("dingtalk"), stage.channel("wecom"))
        for _ in range(2):
            stage.slack.fail_next("chat.postMessage", status=429, retry_after=RETRY_AFTER)
        stage.dingtalk.fail(
            "/robot/send", 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        )
        stage.wecom.script["webhook/send"] = [45009]
        await stage.deals([1, 2])

        await stage.until(
            lambda: (
                len(shown(slack.accepted(), slack.tags)) == 2 and all(c.switch.on(c.path) for c in robots)
            ),
            "Slack delivered both posts, DingTalk and WeCom refused the first",
        )
        last_refusal = max(c.switch.on(c.path)[0].at for c in robots)
        await asyncio.sleep(max(0.0, last_refusal + OBSERVE - time.time()))

        hits = slack.switch.on(slack.path)
        assert [h.status for h in hits] == [429, 429, 200, 200]
        for refusal, retry in itertools.pairwise(hits[:3]):
            # Retry-After honoured, by the platform's clock; and not waited out much beyond it (or the
            # jittered backoff, when that is longer)
            assert RETRY_AFTER <= retry.at - refusal.at < max(RETRY_AFTER, MAX_BACKOFF) + DUE_WITHIN

        heads: dict[str, Row[Any]] = {}
        for channel in robots:
            code, wait = PLATFORM_WAITS[channel.platform]
            seen = channel.switch.on(channel.path)
            assert len(seen) == 1, f"{channel.platform} was tried again within {OBSERVE} s of refusing"
            head = heads[channel.platform] = await stage.head(channel.platform)
            assert head.attempts == 1 and code in (head.last_error or ""), head
            assert head.next_attempt_at >= at(seen[0].at) + wait  # the platform's wait, not the backoff's

        await stage.stop()  # ... and the wait passes for those two posts while the bot is down
        async with stage.engine.begin() as connection:
            for platform, head in heads.items():
                _, wait = PLATFORM_WAITS[platform]
                await connection.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == head.id)
                    .values(
                        next_attempt_at=head.next_attempt_at - wait,
                        last_attempt_at=head.last_attempt_at - wait,
                    )
                )
        await stage.start()
        await stage.until(stage.delivered, "DingTalk and WeCom delivered once their wait was over")
        await asyncio.sleep(QUIET)
        rows = await stage.outbox()

    every = stage.every_tag()
    for channel in stage.channels:
        assert shown(channel.accepted(), every) == channel.tags  # each once, in order
        assert len(channel.switch.on(channel.path)) == len(channel.tags) + (2 if channel is slack else 1)
    assert set(fates(rows).values()) == {"sent"}
    assert sorted(r.attempts for r in rows) == [1, 1, 1, 2, 2, 3]  # each refusal cost one attempt
    print(
        f"{backend}: Slack retried after {hits[1].at - hits[0].at:.2f} s and {hits[2].at - hits[1].at:.2f} s "
        f"(Retry-After {RETRY_AFTER} s); DingTalk and WeCom left alone for {OBSERVE:.0f} s, then delivered"
    )

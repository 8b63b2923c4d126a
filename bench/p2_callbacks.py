"""P2 — callbacks: signed DingTalk HTTP callbacks and encrypted WeCom callbacks (answered with an
encrypted passive reply) at 100 requests/s to the real `teambeat run` (`--role all`, the default):
quality.md's P2, p99 ≤ 100 ms to the answer on each platform and DingTalk's replies p99 ≤ 1 s.

Members of a configured team (SQLite file DB) send quality.md's mix, P1's four commands in turn in
Chinese: `/成交 AMOUNT 客户N` (a deal, which also queues a 喜报 for the team's channel), `/点赞`,
`/排行 本月` and `/打卡 a; b; c` (`--commands deal-rank`: the heavier deal/ranking alternation).
Per platform, a bare endpoint that only does the unavoidable work (check the signature / decrypt,
answer; see bench/p2_servers.py) takes the same load in the same run, first, and the figures are also
given as ratios to it. Fake DingTalk and WeCom servers on loopback take every outbound call, each in a
process of its own, as are the baselines; the load comes from a raw asyncio generator (bench/openloop.py).

- DingTalk: the callback's 200 is one target; the reply then goes through the message's
  sessionWebhook, and the time from the request's due moment until the fake receives it
  (`dingtalk_reply_*`) is the other.
- WeCom: the callback's answer carries the command's reply (encrypted) when the command is done within
  the adapter's passive-reply wait, so its latency is the whole command; every answer is
  decrypted and the passive replies counted (the bot runs `--role all`, the only role that answers
  passively). A deal's reply carries an undo button, which only a card through message/send can carry.

The exit code is 1 when any target is missed.

Run: python -m bench.p2_callbacks [--rate 100] [--seconds 15] [--members 200]
     [--platform both|dingtalk|wecom] [--commands mix|deal-rank|rank|deal] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.common import (
    Report,
    percentile,
    postgres_available,
    postgres_database,
    postgres_url,
    run,
    scratch_dir,
)
from bench.openloop import Answer, Load, http_request, open_loop
from bench.runner import BotProcess, free_port

HOST = "127.0.0.1"
WARMUP_SECONDS = 2.0
REPLY_WAIT_SECONDS = 60.0
ANSWER_P99_MS = 100.0  # quality.md P2: the callback's answer
REPLY_P99_MS = 1000.0  # quality.md P2: DingTalk's reply through the sessionWebhook


def member_ids(count: int) -> list[str]:
    return [f"m{i:03d}" for i in range(count)]


def command_texts(kind: str, count: int, prefix: str, members: int) -> list[str]:
    """The i-th request's command (its sender is member i): quality.md's mix (P1's four commands in turn,
    in Chinese: a deal naming its own customer, a kudos to the next member, the month's ranking, a
    check-in answered in one line), or one command only, or the heavier deal/ranking alternation."""
    ids = member_ids(members)
    deal = [f"/成交 {12800 + i} {prefix}客户{i}" for i in range(count)]
    rank = ["/排行 本月"] * count
    if kind == "deal":
        return deal
    if kind == "rank":
        return rank
    if kind == "deal-rank":
        return [deal[i] if i % 2 == 0 else rank[i] for i in range(count)]
    mix = [
        lambda i: deal[i],
        lambda i: f"/点赞 @成员{ids[(i + 1) % members][1:]} 方案讲得清楚",
        lambda i: rank[i],
        lambda i: "/打卡 拜访3个客户; 1.28万; 需要报价",
    ]
    # member i % members sends request i; the mix moves on by one each round of the members, so that
    # each member sends every kind (and no giver meets the daily kudos cap)
    return [mix[(i + i // members) % len(mix)](i) for i in range(count)]


def team_toml(platform: str, workspace: str, channel: str, members: int, extra: str = "") -> str:
    ids = member_ids(members)
    lines = [
        "[[teams]]",
        'id = "east"',
        'name = "华东一部"',
        f'platform = "{platform}"',
        f'workspace = "{workspace}"',
        f'channel = "{channel}"',
        extra,
        'locale = "zh-CN"',
        'calendar = "everyday"',
        f'leaders = ["{ids[0]}"]',
    ]
    size = max(1, len(ids) // 4)
    for g in range(0, len(ids), size):
        group = ", ".join(f'"{m}"' for m in ids[g : g + size])
        lines += ["[[teams.groups]]", f'name = "第{g // size + 1}组"', f"members = [{group}]"]
    for m in ids:
        lines += ["[[teams.members]]", f'id = "{m}"', f'name = "成员{m[1:]}"']
    return "\n".join(lines) + "\n"


def database_extra() -> str:
    """Experiments only: TEAMBEAT_BENCH_DATABASE_EXTRA, lines added to the bot's [database] table."""
    return os.environ.get("TEAMBEAT_BENCH_DATABASE_EXTRA", "").replace(";", "\n") + "\n"


def dingtalk_config(url: str, port: int, fake: str, members: int) -> str:
    from tests.fakes.dingtalk import APP_KEY, APP_SECRET, CORP, EAST, ROBOT_CODE

    return (
        f'[database]\nurl = "{url}"\n{database_extra()}\n[server]\nhost = "{HOST}"\nport = {port}\n\n'
        f'[dingtalk]\nmode = "http"\napp_key = "{APP_KEY}"\napp_secret = "{APP_SECRET}"\n'
        f'robot_code = "{ROBOT_CODE}"\napi_base_url = "{fake}"\noapi_base_url = "{fake}"\n\n'
        + team_toml("dingtalk", CORP, EAST, members)
    )


def wecom_config(url: str, port: int, fake: str, members: int) -> str:
    from tests.fakes.wecom import AES_KEY, AGENT_ID, CORP_ID, ROBOT_KEY, SECRET, TOKEN

    robot = f'channel_webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"'
    return (
        f'[database]\nurl = "{url}"\n{database_extra()}\n[server]\nhost = "{HOST}"\nport = {port}\n\n'
        f'[wecom]\ncorp_id = "{CORP_ID}"\nagent_id = {AGENT_ID}\nsecret = "{SECRET}"\ntoken = "{TOKEN}"\n'
        f'encoding_aes_key = "{AES_KEY}"\napi_base_url = "{fake}"\n\n'
        + team_toml("wecom", CORP_ID, "wrEastHome", members, robot)
    )


# ----- the requests -----------------------------------------------------------------------------------


def dingtalk_requests(port: int, texts: list[str], members: int, prefix: str) -> list[bytes]:
    """Signed group @-messages to the robot, each with its own sessionWebhook `PREFIX-i`."""
    from adapters.dingtalk.sign import callback_sign
    from tests.fakes.dingtalk import APP_SECRET, robot_message

    ids = member_ids(members)
    now = datetime.now(UTC)
    requests = []
    for i, text in enumerate(texts):
        sender = ids[i % members]
        payload = robot_message(
            text,
            sender=sender,
            msg_id=f"{prefix}-{i}",
            session=f"{prefix}-{i}",
            expires_at=now + timedelta(minutes=90),
            nick=f"成员{sender[1:]}",
        )
        ts = str(int(time.time() * 1000))
        headers = {"timestamp": ts, "sign": callback_sign(APP_SECRET, ts), "Content-Type": "application/json"}
        body = json.dumps(payload, ensure_ascii=False).encode()
        requests.append(http_request("POST", "/dingtalk/callback", f"{HOST}:{port}", body, headers))
    return requests


def wecom_requests(port: int, texts: list[str], members: int, prefix: str) -> list[bytes]:
    """Encrypted, signed text messages members send to the app (a DM: the passive reply goes back)."""
    from adapters.wecom.crypto import WeComCrypto
    from tests.fakes.wecom import AES_KEY, AGENT_ID, CORP_ID, TOKEN

    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    ids = member_ids(members)
    first_id = time.time_ns() // 1000  # runs are seconds apart: ids never repeat
    requests = []
    for i, text in enumerate(texts):
        ts, nonce = str(int(time.time())), f"{prefix}{i}"
        plain = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{ids[i % members]}]]></FromUserName><CreateTime>{ts}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
            f"<MsgId>{first_id + i}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
        )
        encrypt = crypto.encrypt(plain.encode())
        query = urlencode({"msg_signature": crypto.sign(ts, nonce, encrypt), "timestamp": ts, "nonce": nonce})
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
        requests.append(http_request("POST", f"/wecom/callback?{query}", f"{HOST}:{port}", body, headers))
    return requests


Build = Callable[[int, list[str], int, str], list[bytes]]


# ----- processes ----------------------------------------------------------------------------------------


class Child:
    """A fake platform or a baseline in a process of its own (bench/p2_servers.py)."""

    def __init__(self, role: str, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.p2_servers", role, str(self.port), *extra],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    async def ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.process.args} exited with {self.process.returncode}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.process.args} did not listen")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def handled_in_all(args: argparse.Namespace) -> int:
    """Commands one bot is sent: the warm-up's and the measured run's."""
    return int(args.rate * WARMUP_SECONDS) + int(args.rate * args.seconds)


async def load(port: int, build: Build, args: argparse.Namespace, prefix: str) -> Load:
    """A short warm-up at the same rate (imports, caches, tokens), then the measured run."""
    warm = int(args.rate * WARMUP_SECONDS)
    await open_loop(
        HOST,
        port,
        build(port, command_texts(args.commands, warm, "w", args.members), args.members, f"{prefix}w"),
        args.rate,
    )
    count = int(args.rate * args.seconds)
    requests = build(port, command_texts(args.commands, count, prefix, args.members), args.members, prefix)
    return await open_loop(HOST, port, requests, args.rate)


async def commands_handled(port: int, expected: int) -> dict[str, float]:
    """teambeat_commands_total by outcome, from the bot's own /metrics, once it has handled `expected`
    commands (or after REPLY_WAIT_SECONDS: a bot that fell behind is still working through them)."""
    deadline = time.monotonic() + REPLY_WAIT_SECONDS
    async with httpx.AsyncClient(timeout=REPLY_WAIT_SECONDS) as client:
        while True:
            text = (await client.get(f"http://{HOST}:{port}/metrics")).text
            outcomes: dict[str, float] = {}
            for match in re.finditer(r"^teambeat_commands_total\{([^}]*)\} ([0-9.e+]+)$", text, re.M):
                outcome = re.search(r'outcome="([^"]*)"', match.group(1))
                key = outcome.group(1) if outcome else "?"
                outcomes[key] = outcomes.get(key, 0) + float(match.group(2))
            if sum(outcomes.values()) >= expected or time.monotonic() > deadline:
                return outcomes
            await asyncio.sleep(0.5)


async def reply_arrivals(fake: str, prefix: str, expected: int) -> dict[str, tuple[float, str]]:
    """Wait until the fake DingTalk has every reply of this run (or give up), then read the stamps."""
    deadline = time.monotonic() + REPLY_WAIT_SECONDS
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            arrivals = (await client.get(f"{fake}/bench/replies", params={"prefix": f"{prefix}-"})).json()
            if len(arrivals) >= expected or time.monotonic() > deadline:
                return {k: (float(v[0]), str(v[1])) for k, v in arrivals.items()}
            await asyncio.sleep(0.5)


def reply_latencies(loaded: Load, arrivals: dict[str, tuple[float, str]], prefix: str) -> list[float]:
    return [
        (arrivals[f"{prefix}-{i}"][0] - answer.scheduled) * 1000
        for i, answer in enumerate(loaded.answers)
        if f"{prefix}-{i}" in arrivals
    ]


def stop_bot(bot: BotProcess) -> None:
    """SIGTERM lets it finish the commands it took; one still busy after a minute is killed."""
    try:
        bot.stop(timeout=60)
    except subprocess.TimeoutExpired:
        assert bot.process is not None
        bot.process.kill()
        bot.process.wait()


# ----- one platform -----------------------------------------------------------------------------------


@dataclass
class Run:
    bot: Load
    baseline: Load
    commands: dict[str, float]
    commands_sent: int
    bot_replies: list[float] | None = None
    replied: int = 0
    passive: int = 0
    bot_cpu_s: float = float("nan")
    """The bot's CPU (all threads) from the warm-up's start until every command was handled."""


@asynccontextmanager
async def database(args: argparse.Namespace, folder: Path, name: str) -> AsyncIterator[str]:
    """A fresh SQLite file, or a fresh database on the PostgreSQL server, for one bot."""
    if args.backend == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    server = postgres_url()
    if not await postgres_available(server):
        raise RuntimeError(f"no PostgreSQL server answers at {server}")
    async with postgres_database(server) as url:
        yield url


async def dingtalk(args: argparse.Namespace, folder: Path) -> Run:
    fake = Child("fake-dingtalk", folder / "fake-dingtalk.log")
    try:
        await fake.ready()
        base = Child("base-dingtalk", folder / "base-dingtalk.log")
        try:
            await base.ready()
            baseline = await load(base.port, dingtalk_requests, args, "base")
        finally:
            base.stop()
        port = free_port()
        config = folder / "dingtalk.toml"
        async with database(args, folder, "dingtalk") as url:
            config.write_text(dingtalk_config(url, port, fake.url, args.members), "utf-8")
            bot = BotProcess(config, folder / "dingtalk.log")
            bot.start()
            try:
                await bot.wait_listening(port)
                cpu = bot.cpu_seconds()
                loaded = await load(port, dingtalk_requests, args, "bot")
                arrivals = await reply_arrivals(fake.url, "bot", len(loaded.answers))
                commands = await commands_handled(port, handled_in_all(args))
                cpu = bot.cpu_seconds() - cpu
            finally:
                stop_bot(bot)
    finally:
        fake.stop()
    return Run(
        loaded,
        baseline,
        commands,
        handled_in_all(args),
        bot_replies=reply_latencies(loaded, arrivals, "bot"),
        replied=len(arrivals),
        bot_cpu_s=cpu,
    )


def passive_replies(answers: list[Answer]) -> int:
    """Answers that are a well-signed encrypted passive text reply with some content."""
    from adapters.wecom.crypto import CallbackRejected, WeComCrypto
    from adapters.wecom.payload import UnsafeXml, parse_xml
    from tests.fakes.wecom import AES_KEY, CORP_ID, TOKEN

    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    good = 0
    for answer in answers:
        if answer.status != 200 or not answer.body:
            continue
        try:
            envelope = parse_xml(answer.body)
            plain = crypto.decrypt_message(
                envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
            )
            reply = parse_xml(plain)
        except (CallbackRejected, UnsafeXml, KeyError):
            continue
        good += reply.get("MsgType") == "text" and bool(reply.get("Content", "").strip())
    return good


async def wecom(args: argparse.Namespace, folder: Path) -> Run:
    fake = Child("fake-wecom", folder / "fake-wecom.log", "--members", str(args.members))
    try:
        await fake.ready()
        base = Child("base-wecom", folder / "base-wecom.log")
        try:
            await base.ready()
            baseline = await load(base.port, wecom_requests, args, "base")
        finally:
            base.stop()
        port = free_port()
        config = folder / "wecom.toml"
        async with database(args, folder, "wecom") as url:
            config.write_text(wecom_config(url, port, fake.url, args.members), "utf-8")
            bot = BotProcess(config, folder / "wecom.log")
            bot.start()
            try:
                await bot.wait_listening(port)
                cpu = bot.cpu_seconds()
                loaded = await load(port, wecom_requests, args, "bot")
                commands = await commands_handled(port, handled_in_all(args))
                cpu = bot.cpu_seconds() - cpu
            finally:
                stop_bot(bot)
    finally:
        fake.stop()
    return Run(
        loaded,
        baseline,
        commands,
        handled_in_all(args),
        passive=passive_replies(loaded.answers),
        bot_cpu_s=cpu,
    )


# ----- figures ------------------------------------------------------------------------------------------


def ms(answers: list[Answer]) -> list[float]:
    return [a.latency_ms for a in answers]


def figures(report: Report, name: str, result: Run) -> None:
    answers, base = result.bot.answers, result.baseline.answers
    p99, base_p99 = percentile(ms(answers), 99), percentile(ms(base), 99)
    sent = len(answers)
    report.figure(f"{name}_requests", sent)
    report.target(f"{name}_non_2xx", sum(1 for a in answers if not 200 <= a.status < 300), at_most=0)
    ok = result.commands.get("ok", 0.0)
    report.figure(f"{name}_commands_sent", result.commands_sent)
    report.target(f"{name}_commands_ok", ok, at_least=result.commands_sent)
    report.figure(f"{name}_commands_not_ok", sum(v for k, v in result.commands.items() if k != "ok"))
    report.figure(f"{name}_p50_ms", percentile(ms(answers), 50))
    report.target(f"{name}_p99_ms", p99, at_most=ANSWER_P99_MS)
    report.figure(f"{name}_max_ms", max(ms(answers)))
    report.figure(f"{name}_baseline_p50_ms", percentile(ms(base), 50))
    report.figure(f"{name}_baseline_p99_ms", base_p99)
    report.figure(f"{name}_p99_ratio_vs_baseline", p99 / base_p99 if base_p99 else float("nan"))
    report.figure(f"{name}_generator_lag_p99_ms", percentile([a.lag_ms for a in answers + base], 99))
    report.figure(f"{name}_connections", result.bot.connections)
    report.figure(f"{name}_bot_cpu_ms_per_command", result.bot_cpu_s * 1000 / result.commands_sent)
    if result.bot_replies is not None:
        report.target(f"{name}_replies_received", result.replied, at_least=sent)
        report.figure(f"{name}_reply_p50_ms", percentile(result.bot_replies, 50))
        reply_p99 = percentile(result.bot_replies, 99) if result.bot_replies else float("inf")
        report.target(f"{name}_reply_p99_ms", reply_p99, at_most=REPLY_P99_MS)
    if name == "wecom":  # a /成交's reply carries its undo button: a card through message/send instead
        report.figure(f"{name}_passive_replies", result.passive)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--platform", choices=["both", "dingtalk", "wecom"], default="both")
    parser.add_argument("--commands", choices=["mix", "deal-rank", "rank", "deal"], default="mix")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    report = Report(
        f"P2 callbacks: {args.rate:g} requests/s for {args.seconds:g} s, commands: {args.commands}, "
        f"from {args.members} members ({args.backend})"
    )
    folder = scratch_dir()
    if args.platform in ("both", "dingtalk"):
        figures(report, "dingtalk", await dingtalk(args, folder))
    if args.platform in ("both", "wecom"):
        figures(report, "wecom", await wecom(args, folder))
    print(f"# logs and databases in {folder}")
    return report.finish()


if __name__ == "__main__":
    run(main)

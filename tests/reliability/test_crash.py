"""R1 (quality.md): `kill -9` of `teambeat run` in the middle of a webhook burst, then a restart.

What must hold: every deal that got a 2xx is in the database and is announced after the restart, each
exactly once (one `deal:<id>` outbox row, sent alone or folded into a digest, and the deal shown once on
the console), and re-sending what was acknowledged answers 200 duplicate. The real `teambeat run` runs as
a subprocess (console team, the webhook on a free port, stdin held open so the console loop waits), on
SQLite and on PostgreSQL.

The same for the chat doors: Slack slash commands and DingTalk callbacks are acknowledged once they are
as command jobs (the `jobs` table) and handled after. A `kill -9` with acknowledged commands still waiting, or
half handled, must lose none and repeat none: the next start adopts them and handles each once.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.clock import SystemClock
from bot.storage.db import create_engine
from bot.storage.orm import Deal, JobRow, Kudos, OutboxRow
from tests.fakes import dingtalk, slack_bot, wecom
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.slack import FakeSlack, command_form, encode_form
from tests.fakes.slack import signed_headers as slack_headers
from tests.support import doors
from tests.support.bot_process import Bot, cleanup, free_port
from tests.support.databases import database_for_subprocess
from tests.support.deals import body_of, signed_headers, write_deals_config
from tests.support.loopback import serve

BURST = 300
CONCURRENCY = 40
KILL_AFTER_ACKS = BURST // 3
HANDLES = ("alice", "bob@example.com", "+86 138 0000 0003", "E002", "carol", "boss")
STALL = 5.0
RETRY_UNANSWERED = 30


def tag(external_id: str) -> str:
    """What identifies a deal's announcement on the console: its customer, unique per deal."""
    return f"C{external_id[-4:]}"


def payload(i: int) -> dict[str, object]:
    return {
        "id": f"burst-{i:04d}",
        "team": "east",
        "member": HANDLES[i % len(HANDLES)],
        "amount": 1000 + i,
        "customer": f"C{i:04d}",
    }


async def post(client: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    raw = body_of(body)
    return await client.post("/hooks/deals", content=raw, headers=signed_headers(raw, int(time.time())))


async def burst_until_killed(base: str, bot: Bot) -> dict[str, httpx.Response | None]:
    """Fire BURST signed deals, CONCURRENCY at a time; SIGKILL the bot once KILL_AFTER_ACKS were 2xx.

    Each id maps to its answer, or None when the connection broke (the deal may or may not be stored).
    """
    answers: dict[str, httpx.Response | None] = {}
    acked = 0
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one(i: int) -> None:
            nonlocal acked
            async with gate:
                try:
                    answer = await post(client, payload(i))
                except httpx.TransportError:
                    answers[f"burst-{i:04d}"] = None
                    return
            answers[f"burst-{i:04d}"] = answer
            if answer.is_success:
                acked += 1
                if acked == KILL_AFTER_ACKS:
                    killer.append(asyncio.create_task(kill_soon()))

        async def kill_soon() -> None:
            # A moment later, so that some deals are committed whose answers never leave.
            await asyncio.sleep(random.uniform(0.0, 0.2))
            bot.kill()

        killer: list[asyncio.Task[None]] = []
        await asyncio.gather(*(one(i) for i in range(BURST)))
        await asyncio.gather(*killer)
    return answers


async def read_state(url: str) -> tuple[dict[str, int], dict[str, str]]:
    """Deals by external id -> deal id, and each `deal:` outbox row's key -> its post's fate.

    A 喜报 folded into a digest (when a burst outruns the channel's rate) went out inside the row it
    was folded into, so its fate is that row's status.
    """
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            deals = dict((await connection.execute(select(Deal.external_id, Deal.id))).all())
            rows = (
                await connection.execute(
                    select(OutboxRow.id, OutboxRow.dedupe_key, OutboxRow.status, OutboxRow.folded_into)
                )
            ).all()
    finally:
        await engine.dispose()
    status_of = {row_id: status for row_id, _, status, _ in rows}
    fates = {
        key: status_of.get(into, "missing") if status == "folded" else status
        for _, key, status, into in rows
        if key.startswith("deal:")
    }
    assert len(fates) == len([key for _, key, _, _ in rows if key.startswith("deal:")])
    return deals, fates


async def lease_held_until(url: str) -> datetime | None:
    """The latest lease on a pending row or a job: a worker killed mid-send holds its head row until
    then, and one killed while announcing a deal holds that deal's job."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            leases = [
                await connection.scalar(
                    select(func.max(OutboxRow.claimed_until)).where(OutboxRow.status == "pending")
                ),
                await connection.scalar(select(func.max(JobRow.lease_until))),
            ]
    finally:
        await engine.dispose()
    return max((lease for lease in leases if lease is not None), default=None)


async def wait_sent(url: str, expected: int) -> bool:
    """Whether the running bot sends every `deal:` row; False once nothing moved for STALL s while no
    lease held by the killed process was still to expire (its head row waits for that, by design)."""
    sent, changed = -1, time.monotonic()
    while True:
        _, rows = await read_state(url)
        now_sent = sum(status == "sent" for status in rows.values())
        if now_sent == expected:
            return True
        if now_sent != sent:
            sent, changed = now_sent, time.monotonic()
        lease = await lease_held_until(url)
        leased = lease is not None and lease + timedelta(seconds=STALL) > datetime.now(UTC)
        if not leased and time.monotonic() - changed > STALL:
            return False
        await asyncio.sleep(0.5)


async def test_sigkill_in_a_webhook_burst_loses_and_repeats_no_acknowledged_deal(backend, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first: list[Bot] = []
    second: list[Bot] = []
    async with database_for_subprocess(backend, tmp_path) as url:
        config = write_deals_config(tmp_path, url, port=port)
        with cleanup(first, second):
            first.append(Bot.start(config, tmp_path, 1))
            await first[0].wait_listening(base)
            clock = time.monotonic()
            answers = await burst_until_killed(base, first[0])
            burst_s = time.monotonic() - clock
            assert await asyncio.to_thread(first[0].process.wait, 30) == -signal.SIGKILL

            acked = {i: a.json()["deal"] for i, a in answers.items() if a is not None and a.is_success}
            broken = [i for i, a in answers.items() if a is None]
            refused = {
                i: (a.status_code, a.text) for i, a in answers.items() if a is not None and not a.is_success
            }
            assert not refused, refused  # before the kill, every answer was a 2xx
            assert len(acked) >= KILL_AFTER_ACKS and broken, "the kill must land in the middle of the burst"
            assert len(acked) < BURST

            deals, _ = await read_state(url)
            assert {i: deals.get(i) for i in acked} == acked, "an acknowledged deal was lost"
            stored_unanswered = sorted(set(deals) - set(acked))
            assert set(stored_unanswered) <= set(broken)
            # The sender retries what got no answer (a sample of it, to keep the test short, plus every
            # one that was in fact stored): each is recorded now, or was before the kill.
            retry = stored_unanswered + [i for i in broken if i not in deals][:RETRY_UNANSWERED]

            second.append(Bot.start(config, tmp_path, 2))
            await second[0].wait_listening(base)
            clock = time.monotonic()
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                resent = await asyncio.gather(*(post(client, payload(int(i[-4:]))) for i in sorted(acked)))
                assert {a.status_code for a in resent} == {200}
                assert {a.json()["status"] for a in resent} == {"duplicate"}
                assert {i: a.json()["deal"] for i, a in zip(sorted(acked), resent, strict=True)} == acked
                retried = await asyncio.gather(*(post(client, payload(int(i[-4:]))) for i in retry))
                assert [a.status_code for a in retried] == [200] * len(stored_unanswered) + [202] * (
                    len(retry) - len(stored_unanswered)
                )

            resend_s, clock = time.monotonic() - clock, time.monotonic()
            expected = sorted({*acked, *retry})
            assert await wait_sent(url, len(expected)), "the restarted bot did not deliver everything"
            assert await second[0].end_input_and_wait() == 0, second[0].errors()
            deliver_s = time.monotonic() - clock

        deals, rows = await read_state(url)
        assert sorted(deals) == expected, "every deal acknowledged or retried is stored, once"
        assert rows == {f"deal:{deal_id}": "sent" for deal_id in deals.values()}
        shown = {i: (first[0].output().count(tag(i)), second[0].output().count(tag(i))) for i in answers}
        never = [i for i, (a, b) in shown.items() if i in deals and a + b == 0]
        assert not never, f"stored but never announced: {never}"
        assert all(a + b == 0 for i, (a, b) in shown.items() if i not in deals)
        # At-least-once to the platform: the one post a destination had in flight at the kill (its head
        # row: order per destination) may have gone out before its `sent` was committed; it goes again.
        twice = [i for i, (a, b) in shown.items() if a + b > 1]
        assert len(twice) <= 1 and all(shown[i] == (1, 1) for i in twice), twice
        assert "Traceback" not in second[0].errors(), second[0].errors()
        print(
            f"{backend}: {len(acked)} acknowledged before SIGKILL, {len(broken)} without an answer "
            f"({len(stored_unanswered)} of them stored); shown twice (in flight at the kill): {twice}; "
            f"burst {burst_s:.1f} s, re-sending {resend_s:.1f} s, delivery and exit {deliver_s:.1f} s"
        )


# ----- the chat doors: Slack /kudos and DingTalk 成交, kept in the inbox before the acknowledgement ----

COMMANDS = 100  # Slack /kudos, and as many DingTalk 成交
DOOR_CONCURRENCY = 50
ANSWER_DELAYS = {"slow answers": 0.5, "full speed": 0.0}
"""Seconds each answer to a command takes on the fake platforms until the kill: slow, the handlers
spend their time answering; at full speed, in the database."""
HANDLED_TIMEOUT = 120.0
ADOPTED = "{adapter}: {rows} acknowledged request(s) left by an earlier run"


@dataclass
class SlowAnswers:
    """A fake platform whose answers to commands (`path`: Slack's response_url hooks, DingTalk's
    sessionWebhook) take `delay` seconds: each handler holds its inbox row that long after its command
    is stored, and the handlers, a few at a time, fall behind the acknowledgements."""

    app: ASGIApp
    path: str
    delay: float

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["path"].startswith(self.path) and self.delay):
            return await self.app(scope, receive, send)
        request = [await receive()]  # arrived in full: the platform has it, and answers late
        while request[-1].get("more_body"):
            request.append(await receive())
        await asyncio.sleep(self.delay)

        async def again() -> Message:
            return request.pop(0) if request else await receive()

        await self.app(scope, again, send)


@dataclass(frozen=True)
class ChatState:
    """What the database holds: inbox rows per adapter and what they would store (a kudos' reason, a
    deal's customer), and the kudos and deals stored, counted by reason and by customer."""

    inbox: Counter[str]
    waiting: frozenset[str]
    kudos: Counter[str]
    deals: Counter[str]


def reason(i: int) -> str:
    return f"closing deal {i:03d}"


def customer(i: int) -> str:
    return f"客户{i:03d}"


def what_it_stores(adapter: str, payload: str) -> str:
    """The reason of a /kudos, or the customer of a 成交, in a command job's payload."""
    taken = json.loads(payload)["payload"]
    if adapter == "slack":
        return taken["body"]["text"].partition(" ")[2]  # after `<@U0003|bob>`
    return taken["text"]["content"].split()[-1]


async def read_chat_state(url: str) -> ChatState:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            commands = select(JobRow.kind, JobRow.payload).where(JobRow.kind.like("command.%"))
            rows = [(kind.partition(".")[2], payload) for kind, payload in await connection.execute(commands)]
            kudos = Counter((await connection.scalars(select(Kudos.reason))).all())
            deals = Counter((await connection.scalars(select(Deal.customer))).all())
    finally:
        await engine.dispose()
    inbox = Counter(adapter for adapter, _ in rows)
    waiting = frozenset(what_it_stores(adapter, payload) for adapter, payload in rows)
    return ChatState(inbox, waiting, kudos, deals)


async def wait_handled(url: str, bot: Bot) -> ChatState:
    """The database once the running bot has handled (and deleted) every inbox row."""
    deadline = time.monotonic() + HANDLED_TIMEOUT
    while True:
        state = await read_chat_state(url)
        if not state.inbox:
            return state
        if bot.process.poll() is not None:
            raise AssertionError(f"teambeat run exited {bot.process.returncode}:\n{bot.errors()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"inbox rows still unhandled: {dict(state.inbox)}\n{bot.errors()}")
        await asyncio.sleep(0.2)


def write_doors_config(tmp_path: Path, url: str, port: int, slack: str, ding: str, wecom_api: str) -> Path:
    """The doors' config (tests/support/doors.py), without the Slack team's daily kudos cap: Alice
    thanks Bob for every deal of the burst."""
    leaders = 'leaders = ["U0001"]\n'
    assert doors.CONFIG.count(leaders) == 1  # the Slack team's
    template = doors.CONFIG.replace(leaders, leaders + "kudos_daily_cap = 0\n")
    path = tmp_path / "teambeat.toml"
    values = doors.config_values(url, port, slack, ding, wecom_api)
    path.write_text(template.format(**values), encoding="utf-8")
    return path


async def chat_burst(
    base: str, fake_slack: FakeSlack, slack_url: str
) -> tuple[dict[str, httpx.Response], dict[str, httpx.Response]]:
    """Alice, in the Slack channel: `/kudos @bob closing deal 007`, COMMANDS times; and in the DingTalk
    group: `@teambeat 成交 1007 客户007`, COMMANDS times; interleaved, DOOR_CONCURRENCY at a time.
    The answers by kudos reason, and by deal customer."""
    gate = asyncio.Semaphore(DOOR_CONCURRENCY)
    limits = httpx.Limits(max_connections=DOOR_CONCURRENCY, max_keepalive_connections=DOOR_CONCURRENCY)
    expires = datetime.now(doors.SHANGHAI) + timedelta(minutes=90)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def kudos(i: int) -> httpx.Response:
            url = fake_slack.response_url(slack_url)
            text = f"<@U0003|bob> {reason(i)}"
            form = command_form(slack_bot.TEAM, "U0002", slack_bot.CHANNEL, "/kudos", text, url)
            body = encode_form(form)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            async with gate:
                return await client.post(
                    "/slack/events", content=body, headers=headers | slack_headers(slack_bot.SECRET, body)
                )

        async def deal(i: int) -> httpx.Response:
            message = dingtalk.robot_message(
                f" 成交 {1000 + i} {customer(i)}",
                sender="alice01",
                msg_id=f"msgBurst{i:03d}",
                session=f"burst{i:03d}",
                expires_at=expires,
            )
            body = json.dumps(message, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json"}
            async with gate:
                return await client.post(
                    "/dingtalk/callback", content=body, headers=headers | doors.dingtalk_headers()
                )

        answers = await asyncio.gather(*(one(i) for i in range(COMMANDS) for one in (kudos, deal)))
    kudos_answers = {reason(i): answer for i, answer in enumerate(answers[0::2])}
    deal_answers = {customer(i): answer for i, answer in enumerate(answers[1::2])}
    return kudos_answers, deal_answers


@pytest.mark.parametrize("answer_delay", list(ANSWER_DELAYS.values()), ids=list(ANSWER_DELAYS))
async def test_sigkill_with_acknowledged_chat_commands_unhandled_loses_and_repeats_none(
    backend: str, tmp_path: Path, answer_delay: float
) -> None:
    """Slack wants its 200 within 3 s and DingTalk within a few, so a command is acknowledged once it is in
    the inbox, and handled after, a few at a time; the bot is killed right after the last 200 of a
    burst, when most commands are still waiting in the inbox. With slow answers, the few in hand are
    stored and still answering (their rows not deleted yet); at full speed, they are somewhere in
    their database work. The next start adopts the rows and handles them: each acknowledged /kudos and
    成交 is stored exactly once, and the inbox ends empty."""
    fake_slack = FakeSlack([slack_bot.workspace(channels=(slack_bot.CHANNEL, doors.SLACK_WEST))])
    fake_dingtalk = FakeDingTalk(SystemClock(), users=dict(dingtalk.PEOPLE))
    fake_wecom = doors.wecom_fake(wecom.ROBOT_KEY, doors.WECOM_WEST_KEY)
    slow_slack = SlowAnswers(fake_slack.app(), "/hooks/commands/", answer_delay)
    slow_dingtalk = SlowAnswers(fake_dingtalk.asgi(), "/robot/sendBySession", answer_delay)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first: list[Bot] = []
    second: list[Bot] = []
    async with (
        database_for_subprocess(backend, tmp_path) as url,
        serve(slow_slack) as slack_url,
        serve(slow_dingtalk) as dingtalk_url,
        serve(fake_wecom.asgi()) as wecom_url,
    ):
        config = write_doors_config(tmp_path, url, port, slack_url, dingtalk_url, wecom_url)
        with cleanup(first, second):
            first.append(Bot.start(config, tmp_path, 1))
            await first[0].wait_listening(base)
            clock = time.monotonic()
            kudos_answers, deal_answers = await chat_burst(base, fake_slack, slack_url)
            first[0].kill()  # right after the last acknowledgement
            burst_s = time.monotonic() - clock
            assert await asyncio.to_thread(first[0].process.wait, 30) == -signal.SIGKILL

            answers = kudos_answers | deal_answers
            refused = {key: (a.status_code, a.text) for key, a in answers.items() if a.status_code != 200}
            assert not refused, refused  # every command was acknowledged
            assert {a.json()["status"] for a in deal_answers.values()} == {"accepted"}

            at_kill = await read_chat_state(url)
            assert at_kill.inbox["slack"] and at_kill.inbox["dingtalk"], (
                f"the kill must leave acknowledged commands unhandled on both doors: {dict(at_kill.inbox)}"
            )
            assert at_kill.waiting <= set(answers)
            stored = set(at_kill.kudos) | set(at_kill.deals)
            assert all(n == 1 for n in (at_kill.kudos + at_kill.deals).values())
            half_done = sorted(stored & at_kill.waiting)  # stored, and handled again after the restart

            slow_slack.delay = slow_dingtalk.delay = 0.0
            second.append(Bot.start(config, tmp_path, 2))
            await second[0].wait_listening(base)
            clock = time.monotonic()
            after = await wait_handled(url, second[0])
            handle_s = time.monotonic() - clock
            assert await second[0].terminate_and_wait() == 0, second[0].errors()

        lost = sorted(set(answers) - set(after.kudos) - set(after.deals))
        repeated = sorted(key for key, n in (after.kudos + after.deals).items() if n > 1)
        assert not lost and not repeated, (
            f"acknowledged, never stored: {lost} (in the inbox at the kill: "
            f"{sorted(at_kill.waiting & set(lost))}); stored more than once: {repeated}"
        )
        assert after.kudos == Counter(kudos_answers.keys()), "every acknowledged /kudos is stored, once"
        assert after.deals == Counter(deal_answers.keys()), "every acknowledged 成交 is stored, once"
        assert not after.inbox
        for adapter, rows in at_kill.inbox.items():
            assert ADOPTED.format(adapter=adapter, rows=rows) in second[0].errors(), second[0].errors()
        assert "Traceback" not in second[0].errors(), second[0].errors()
        print(
            f"{backend}, answers after {answer_delay} s: {len(answers)} commands acknowledged in "
            f"{burst_s:.1f} s, then SIGKILL; {len(stored) - len(half_done)} handled, {len(half_done)} "
            f"stored but still in the inbox, {dict(at_kill.inbox)} inbox rows in all; after the restart "
            f"all handled in {handle_s:.1f} s"
        )

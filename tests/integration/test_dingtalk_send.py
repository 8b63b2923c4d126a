"""Sending to DingTalk: the token, batching, the robot's 20 a minute, and which failures are retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import event, select

from adapters.dingtalk.adapter import GROUP_LIMITS, RobotBusy
from adapters.dingtalk.errors import classify_openapi, classify_robot
from bot.clock import FixedClock
from bot.delivery.outbox import enqueue
from bot.delivery.worker import MAX_DIGEST_LINES
from bot.messages import ChannelRef, Heading, OutgoingMessage, Paragraph, Text, UserRef
from bot.ports import DeliveryError
from bot.storage.orm import OutboxRow
from tests.fakes.dingtalk import CORP, EAST, WEST, DingTalkChat, open_dingtalk

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Ticks:
    """A monotonic clock the test moves (token lifetimes)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def ticks() -> Ticks:
    return Ticks()


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path, ticks) -> AsyncIterator[DingTalkChat]:
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    async with open_dingtalk(tmp_path, database_url, clock, monotonic=ticks) as chat:
        yield chat


def note(text: str, title: str = "通知") -> OutgoingMessage:
    return OutgoingMessage((Heading((Text(title),)), Paragraph((Text(text),))), text)


def dm(user: str) -> ChannelRef:
    return ChannelRef("dingtalk", CORP, user, "dm")


def group(channel: str) -> ChannelRef:
    return ChannelRef("dingtalk", CORP, channel, "group")


def errors_counted(dt: DingTalkChat, kind: str) -> float:
    return dt.app.metrics.platform_errors.labels(platform="dingtalk", kind=kind)._value.get()


async def outbox(dt: DingTalkChat) -> list[OutboxRow]:
    async with dt.app.sessionmaker() as session:
        # the posts, not the day's leaderboard (a board: a card in a group, skipped by a custom robot)
        posts = select(OutboxRow).where(OutboxRow.board_quiet.is_(False))
        return list(await session.scalars(posts.order_by(OutboxRow.id)))


async def test_one_token_for_many_concurrent_sends_and_dms_batched_by_twenty(dt):
    users = [f"u{i:02d}" for i in range(45)]
    dt.fake.users.update({u: u for u in users})
    dt.fake.token_latency = 0.2  # every caller arrives while the first fetch is in flight
    sent = await asyncio.gather(*(dt.adapter.send(dm(u), note("今天的打卡开始啦")) for u in users))
    assert dt.fake.token_requests == 1
    batches = dt.fake.dm_batches()
    assert sorted(len(users_) for users_, _ in batches) == [5, 20, 20]
    assert sorted(u for users_, _ in batches for u in users_) == users
    assert all(param["text"].endswith("今天的打卡开始啦") for _, param in batches)
    assert {s.message_id for s in sent} == {
        c.answer["processQueryKey"] for c in dt.fake.ok("/v1.0/robot/oToMessages/batchSend")
    }


async def test_different_dms_are_not_merged_and_unknown_users_fail_alone(dt):
    results = await asyncio.gather(
        dt.adapter.send(dm("bob01"), note("A")),
        dt.adapter.send(dm("nobody"), note("A")),
        dt.adapter.send(dm("alice01"), note("B")),
        return_exceptions=True,
    )
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    assert isinstance(results[1], DeliveryError) and not results[1].transient
    texts = {tuple(users): param["text"] for users, param in dt.fake.dm_batches()}
    assert len(texts) == 2 and texts[("alice01",)].endswith("B")
    assert sorted(next(u for u in texts if "bob01" in u)) == ["bob01", "nobody"]
    assert errors_counted(dt, "permanent") == 1


async def test_the_token_is_refreshed_before_it_expires(dt, ticks):
    await dt.adapter.send(group(EAST), note("一"))
    ticks.now += 7200 - 400  # not yet due
    await dt.adapter.send(group(EAST), note("二"))
    assert dt.fake.token_requests == 1
    ticks.now += 200  # within the last five minutes of the token's life
    await dt.adapter.send(group(EAST), note("三"))
    assert dt.fake.token_requests == 2
    assert not any(
        a.get("code") == "InvalidAuthentication" for a in dt.fake.answers("/v1.0/robot/groupMessages/send")
    )


async def test_a_refused_token_is_refreshed_once_and_the_call_retried(dt):
    await dt.adapter.send(group(EAST), note("一"))
    dt.fake.expire_tokens()  # revoked early (the secret was reset, another process fetched too often)
    await dt.adapter.send(group(EAST), note("二"))
    answers = dt.fake.answers("/v1.0/robot/groupMessages/send")
    assert [a.get("code") for a in answers] == [None, "InvalidAuthentication", None]
    assert dt.fake.token_requests == 2
    assert [p["text"][-1] for p in dt.fake.group_posts(EAST)] == ["一", "二"]
    # a token refused even right after a refresh is not retried forever
    dt.fake.fail("/v1.0/robot/groupMessages/send", 400, {"code": "InvalidAuthentication"}, times=2)
    with pytest.raises(DeliveryError) as failure:
        await dt.adapter.send(group(EAST), note("三"))
    assert not failure.value.transient
    assert dt.fake.token_requests == 3


async def test_rate_limited_robot_posts_are_retried_later_and_delivered_once(dt):
    dt.fake.fill_robot_minute()  # another sender used up this minute
    await dt.say("zhao01", " 成交 5000", group=WEST)
    await dt.deliver()
    assert [a["errcode"] for a in dt.fake.answers("/robot/send")] == [130101]
    head = (await outbox(dt))[0]
    assert head.status == "pending" and "130101" in (head.last_error or "")
    assert head.next_attempt_at >= dt.clock.now() + timedelta(seconds=60)
    assert errors_counted(dt, "transient") == 1

    dt.clock.advance(timedelta(minutes=5))  # the robot is still blocked: nothing is tried
    await dt.deliver()
    assert len(dt.fake.answers("/robot/send")) == 1

    dt.clock.advance(timedelta(minutes=6))
    await dt.deliver()
    rows = await outbox(dt)
    assert {r.status for r in rows} == {"sent"}
    posts = dt.fake.robot_posts()
    assert len(posts) == len(rows)
    assert len([p for p in posts if "喜报" in p["markdown"]["title"]]) == 1


async def test_a_robot_never_gets_more_than_twenty_messages_a_minute(dt):
    sent = []
    for n in range(20):
        sent.append(await dt.adapter.send(group(WEST), note(f"第{n}条")))
    with pytest.raises(RobotBusy) as busy:
        await dt.adapter.send(group(WEST), note("第21条"))
    assert busy.value.transient and 0 < busy.value.retry_after <= 60
    assert len(dt.fake.robot_posts()) == 20 and dt.fake.robot_violations == 0
    dt.clock.advance(timedelta(seconds=60))
    await dt.adapter.send(group(WEST), note("第21条"))
    assert len(dt.fake.robot_posts()) == 21 and dt.fake.robot_violations == 0
    assert GROUP_LIMITS.rate_per_minute == 20
    assert dt.adapter.limits_for(group(WEST)) == GROUP_LIMITS


async def test_a_burst_of_deals_through_the_outbox_stays_under_the_robot_limit(dt):
    for n in range(25):
        await dt.say("zhao01", f" 成交 {1000 + n}", group=WEST)
    for _ in range(10):
        await dt.deliver()
        dt.clock.advance(timedelta(seconds=20))
    rows = await outbox(dt)
    assert {r.status for r in rows} == {"sent", "folded"}  # what did not fit went out as a digest
    assert dt.fake.robot_violations == 0
    times = sorted(c.at for c in dt.fake.ok("/robot/send"))
    assert len(times) == len([r for r in rows if r.status == "sent"])
    for i, start in enumerate(times):
        assert len([t for t in times[i:] if t < start + timedelta(seconds=60)]) <= 20


@pytest.mark.slow
async def test_folding_a_long_burst_loads_no_more_rows_at_once_than_one_digest_takes(dt):
    """Hundreds of 喜报 waiting for a 20/minute robot: each digest takes 40 of them, and the worker loads
    those, not every waiting row (hundreds, loaded as entities in one step of the event loop per fold)."""
    for n in range(150):
        await dt.say("zhao01", f" 成交 {1000 + n}", group=WEST)
    per_statement: list[int] = [0]

    def statement(*_args) -> None:
        per_statement.append(0)

    def loaded(*_args) -> None:
        per_statement[-1] += 1

    engine = dt.app.engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(OutboxRow, "load", loaded)
    try:
        await dt.deliver()
    finally:
        event.remove(OutboxRow, "load", loaded)
        event.remove(engine, "before_cursor_execute", statement)
    rows = await outbox(dt)
    assert any(r.status == "folded" for r in rows)
    assert max(per_statement) <= MAX_DIGEST_LINES


async def test_a_long_post_is_split_and_resumes_after_a_failure_part_way(dt):
    msg = OutgoingMessage(
        (
            Heading((Text("📊 月度复盘"),)),
            *(Paragraph((Text(f"第{n}行 " + "业绩" * 200),)) for n in range(30)),
        ),
        "月度复盘",
    )
    dt.fake.fail("/robot/send", 502, {"message": "bad gateway"})  # not the first part…
    dt.fake._scripted["/robot/send"].appendleft((200, {"errcode": 0, "errmsg": "ok"}))  # …the second
    async with dt.app.uow_factory() as uow:
        await enqueue(uow.session, channel=group(WEST), message=msg, dedupe_key="long", now=dt.clock.now())
        await uow.commit()
    await dt.deliver()
    [row] = await outbox(dt)
    assert row.status == "pending" and "502" in (row.last_error or "")
    assert row.parts_sent == 1  # recorded on the row, for whichever worker retries it
    dt.clock.advance(timedelta(minutes=1))
    await dt.deliver()
    [row] = await outbox(dt)
    assert row.status == "sent" and row.attempts == 2
    texts = [c.body["markdown"]["text"] for c in dt.fake.calls if c.path == "/robot/send" and c.status == 200]
    titles = [c.body["markdown"]["title"] for c in dt.fake.calls if c.path == "/robot/send"]
    total = len(titles) - 1
    assert total >= 3
    assert titles == [f"📊 月度复盘 (1/{total})", f"📊 月度复盘 (2/{total})"] + [
        f"📊 月度复盘 ({n}/{total})" for n in range(2, total + 1)
    ]
    assert len(set(texts)) == len(texts)  # part 1 was not sent twice
    assert all(len(t.encode()) <= 15_000 for t in texts)


@pytest.mark.parametrize(
    ("path", "status", "answer", "transient", "min_retry"),
    [
        ("/v1.0/robot/groupMessages/send", 500, {"code": "ServiceUnavailable"}, True, None),
        ("/v1.0/robot/groupMessages/send", 429, {"code": "Throttling.Api"}, True, 60),
        ("/v1.0/robot/groupMessages/send", 400, {"code": "Forbidden.AccessDenied.QpsLimitForApi"}, True, 60),
        ("/v1.0/robot/groupMessages/send", 400, {"code": "invalidParameter.robotCode"}, False, None),
        (
            "/v1.0/robot/groupMessages/send",
            403,
            {"code": "Forbidden.AccessDenied.AccessTokenPermissionDenied"},
            False,
            None,
        ),
    ],
)
async def test_openapi_failures_are_classified(dt, path, status, answer, transient, min_retry):
    dt.fake.fail(path, status, answer)
    with pytest.raises(DeliveryError) as failure:
        await dt.adapter.send(group(EAST), note("x"))
    assert failure.value.transient is transient
    if min_retry:
        assert failure.value.retry_after >= min_retry
    assert errors_counted(dt, "transient" if transient else "permanent") == 1


async def test_unknown_conversations_and_broken_robots_fail_for_good(dt):
    with pytest.raises(DeliveryError) as unknown:
        await dt.adapter.send(group("cidNotThere=="), note("x"))
    assert not unknown.value.transient
    dt.fake.robots["robot-west-token"] = "SEC-changed"  # the robot's secret was reset in DingTalk
    with pytest.raises(DeliveryError) as bad_sign:
        await dt.adapter.send(group(WEST), note("x"))
    assert not bad_sign.value.transient and "310000" in bad_sign.value.reason
    del dt.fake.robots["robot-west-token"]  # the robot was removed from the group
    with pytest.raises(DeliveryError) as removed:
        await dt.adapter.send(group(WEST), note("x"))
    assert not removed.value.transient


def test_error_tables():
    assert classify_robot(200, {"errcode": 0}) is None
    limited = classify_robot(200, {"errcode": 130101, "errmsg": "send too fast"})
    assert limited.transient and limited.retry_after >= 60
    assert classify_robot(200, {"errcode": -1, "errmsg": "系统繁忙"}).transient
    assert not classify_robot(200, {"errcode": 400013, "errmsg": "群已被解散"}).transient
    assert classify_robot(503, None).transient and not classify_robot(404, None).transient
    assert classify_openapi(400, {"code": "InvalidAuthentication"}).token_expired
    assert classify_openapi(500, {"code": "x"}, "7").retry_after == 7


async def test_people(dt):
    profile = await dt.adapter.resolve_user(UserRef("dingtalk", CORP, "li01"))
    assert profile.name == "李经理"
    unknown = await dt.adapter.resolve_user(UserRef("dingtalk", CORP, "ghost"))
    assert unknown.name == "ghost"
    assert await dt.adapter.open_dm(UserRef("dingtalk", CORP, "li01")) == dm("li01")
    assert await dt.adapter.health() == {"ok": True, "mode": "http", "receiving": True}


@pytest.mark.slow
async def test_sixty_deals_in_ten_seconds_fold_into_digests_under_the_robot_limit(dt):
    """P4/issue 8: every deal shows within 3 minutes, no 60-s window carries more than 20 posts."""
    began = dt.clock.now()
    amounts = [f"{1001 + n:,}" for n in range(60)]  # ¥1,001 … ¥1,060: each deal recognisable in a post
    for n in range(60):
        await dt.say("zhao01", f" 成交 {1001 + n}", group=WEST)
        await dt.deliver()
        dt.clock.advance(timedelta(seconds=10 / 60))
    while dt.clock.now() < began + timedelta(minutes=3):
        await dt.deliver()
        dt.clock.advance(timedelta(seconds=5))
    rows = await outbox(dt)
    assert {r.status for r in rows} <= {"sent", "folded"}
    assert any(r.status == "folded" for r in rows)  # the burst did not fit: some 喜报 were folded
    posts = dt.fake.ok("/robot/send")
    assert dt.fake.robot_violations == 0
    times = sorted(c.at for c in posts)
    for i, start in enumerate(times):
        assert len([t for t in times[i:] if t < start + timedelta(seconds=60)]) <= 20
    shown = "\n".join(c.body["markdown"]["text"] for c in posts)
    assert all(f"¥{amount}" in shown for amount in amounts), [a for a in amounts if f"¥{a}" not in shown]
    assert max(times) <= began + timedelta(minutes=3)
    digests = [c.body["markdown"]["text"] for c in posts if "喜报连连" in c.body["markdown"]["text"]]
    assert digests and all("zhao01" in digest for digest in digests)

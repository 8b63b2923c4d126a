"""DingTalk interactive cards, end to end through the wire-level fake: the scheduled check-in prompt
arrives as a robot card (StandardCard) with its buttons; a click comes back as DingTalk sends it — a
signed HTTP callback to /dingtalk/card, or a Stream frame of topic /v1.0/card/instances/callback fed to
the SDK client — and becomes the clicker's command in their DM, once per card; the card then shows what
was chosen. "Skip today" is recorded (the export shows it), "fill in" starts the typed check-in in the
DM, and the evening recap counts the check-ins. Forged, stale, foreign and unknown-card callbacks get
401 with nothing changed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy import func, select

from adapters.dingtalk.stream import StreamClient
from bot.clock import FixedClock
from bot.messages import Button, ChannelRef, OutgoingMessage, Paragraph, Text
from bot.services import csv_io, directory
from bot.services.posts import run_post
from bot.storage.orm import Checkin, Goal, JobRow, ProcessedEvent, SentCard
from tests.fakes.dingtalk import (
    APP_KEY,
    APP_SECRET,
    CARD_SECRET,
    CORP,
    EAST,
    DingTalkChat,
    button_ids,
    card_click,
    card_frame,
    card_headers,
    open_dingtalk,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # a workday, the check-in prompt's time
FILL_IN, SKIP, LEAVE = ("📝 填写表单", "tb-0"), ("⏭ 今天跳过", "tb-1"), ("🏖 今天请假", "tb-2")
SEND_THE_COMMAND = "请直接发送命令（/帮助 查看全部命令）。"


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    async with open_dingtalk(tmp_path, database_url, FixedClock(MONDAY_9)) as chat:
        yield chat


@pytest_asyncio.fixture
async def dt_stream(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    async with open_dingtalk(tmp_path, database_url, FixedClock(MONDAY_9), mode="stream") as chat:
        yield chat


async def post(dt: DingTalkChat, kind: str) -> None:
    """The scheduled post of `kind` for team east, delivered."""
    async with dt.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        await run_post(uow, dt.app.renderer, team, kind, dt.app.clock.now())
        await uow.commit()
    await dt.deliver()


def card_of(dt: DingTalkChat, user: str, index: int = -1) -> tuple[str, dict]:
    cards = dt.fake.cards_to(user)
    assert cards, f"no card to {user}"
    return cards[index]


def card_text(card: dict) -> str:
    return "\n".join(b["text"] for b in card["contents"] if b["type"] == "markdown")


async def checkin_status(dt: DingTalkChat, user: str) -> str | None:
    async with dt.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        text = await csv_io.export_checkins(uow, team, MONDAY_9.date(), MONDAY_9.date())
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["member"] == user]
    return rows[0]["status"] if rows else None


async def count(dt: DingTalkChat, model) -> int:
    async with dt.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_prompt_card_skip_and_fill_in_recorded_exported_and_counted(dt):
    await post(dt, "checkin")
    card_id, card = card_of(dt, "bob01")
    assert button_ids(card) == [FILL_IN, SKIP, LEAVE]
    assert card["header"]["title"]["text"] == "📝 打卡 1/3"
    assert "今天要做什么" in card_text(card) or "1/3" in card_text(card)
    assert dt.fake.dms("bob01") == []  # the prompt is the card, not a markdown DM beside it
    [sent] = [
        c for c in dt.fake.ok("/v1.0/im/v1.0/robot/interactiveCards/send") if c.body["cardBizId"] == card_id
    ]
    assert sent.body["cardTemplateId"] == "StandardCard" and sent.body["callbackRouteKey"] == "teambeat"
    assert json.loads(sent.body["singleChatReceiver"]) == {"userId": "bob01"}

    # bob skips today: recorded, answered in his DM, and the card shows the choice instead of buttons
    response = await dt.click(card_id, "bob01", SKIP[1])
    assert response.status_code == 200, response.text
    assert await checkin_status(dt, "bob01") == "skipped"
    [answer] = dt.fake.dms("bob01")
    assert "今天的打卡已跳过" in answer
    _, shown = card_of(dt, "bob01")
    assert button_ids(shown) == []
    assert card_text(shown).endswith("✅ 已选择：**⏭ 今天跳过**")

    # a double click, or the other button after it: acts no more
    for button in (SKIP[1], FILL_IN[1]):
        assert (await dt.click(card_id, "bob01", button)).status_code == 200
    assert len(dt.fake.dms("bob01")) == 1 and len(dt.fake.cards[card_id]["updates"]) == 1
    assert len(dt.fake.cards_to("bob01")) == 1
    assert await checkin_status(dt, "bob01") == "skipped"

    # alice fills in: the typed check-in starts in her DM (question 1, as a card again), she answers there
    alice_card, _ = card_of(dt, "alice01")
    assert (await dt.click(alice_card, "alice01", FILL_IN[1])).status_code == 200
    assert "✅ 已选择：**📝 填写表单**" in card_text(card_of(dt, "alice01", 0)[1])
    _, question = card_of(dt, "alice01")
    assert "1/3" in question["header"]["title"]["text"]
    assert button_ids(question) == [(SKIP[0], "tb-0"), (LEAVE[0], "tb-1")]  # not "fill in": she just did
    assert "2/3" in await dt.say("alice01", "拜访了3家客户", group=None)
    assert "3/3" in await dt.say("alice01", "5万", group=None)
    assert "拜访了3家客户" in await dt.say("alice01", "需要报价支持", group=None)
    assert await checkin_status(dt, "alice01") == "done"

    # dave is off today: one tap books the prompt's day as leave
    dave_card, _ = card_of(dt, "dave01")
    assert (await dt.click(dave_card, "dave01", LEAVE[1])).status_code == 200
    [booked] = dt.fake.dms("dave01")
    assert booked.startswith("🏖 已登记请假：**11月23日**（1 个工作日）")

    # the evening recap counts them: alice's check-in is done, bob's skip is not a check-in
    dt.clock.set(MONDAY_9.replace(hour=18))
    await post(dt, "recap")
    [recap] = [p["text"] for p in dt.fake.group_posts(EAST) if "复盘" in p.get("title", "")]
    assert "📝 打卡参与：1/3（33%）" in recap  # dave on leave is not expected to check in


async def test_clicks_over_stream_act_once_and_an_unknown_card_gets_a_clear_line(dt_stream):
    dt = dt_stream
    await post(dt, "checkin")
    card_id, _ = card_of(dt, "bob01")
    client = StreamClient(APP_KEY, APP_SECRET, api_base_url="http://127.0.0.1:9", http=dt.http)
    client.subscribe(dt.adapter.accept, dt.adapter.accept_click)
    sent: list[dict] = []

    class Socket:
        async def send(self, text: str) -> None:
            sent.append(json.loads(text))

    client.websocket = Socket()
    click = card_click(card_id, "bob01", SKIP[1])
    await client.route_message(card_frame(click, "frame-1"))
    await client.route_message(card_frame(click, "frame-1"))  # redelivered: the same frame again
    await client.route_message(card_frame(card_click(card_id, "bob01", FILL_IN[1]), "frame-2"))
    await dt.adapter.settle()
    assert [(a["code"], a["headers"]["messageId"]) for a in sent] == [
        (200, "frame-1"),
        (200, "frame-1"),
        (200, "frame-2"),
    ]
    assert await checkin_status(dt, "bob01") == "skipped"
    assert len(dt.fake.dms("bob01")) == 1
    assert len(dt.fake.cards[card_id]["updates"]) == 1
    assert await count(dt, ProcessedEvent) == 1

    # a card we never sent (over Stream DingTalk vouches for the click): a clear line, nothing done
    await client.route_message(card_frame(card_click("tb-never-sent", "dave01", SKIP[1]), "frame-3"))
    await dt.adapter.settle()
    assert sent[-1]["code"] == 200
    assert dt.fake.dms("dave01") == [f"🤔 这张卡片不是我发给你的，无法处理。{SEND_THE_COMMAND}"]
    assert await checkin_status(dt, "dave01") == "open"  # as the prompt left it


async def test_forged_stale_and_foreign_card_callbacks_get_401_and_change_nothing(dt):
    await post(dt, "checkin")
    card_id, _ = card_of(dt, "bob01")
    now_ms = int(dt.clock.now().timestamp() * 1000)
    jobs_before = await count(dt, JobRow)
    refused = [
        await dt.click(card_id, "bob01", SKIP[1], headers={"content-type": "application/json"}),
        await dt.click(card_id, "bob01", SKIP[1], headers=card_headers(now_ms, secret="not-" + CARD_SECRET)),
        await dt.click(card_id, "bob01", SKIP[1], headers=card_headers(now_ms - 2 * 3_600_000)),
        await dt.click(card_id, "bob01", SKIP[1], headers=card_headers(now_ms + 2 * 3_600_000)),
        await dt.click(card_id, "bob01", SKIP[1], corpId="dingOtherCorp"),  # another organisation
        await dt.click(card_id, "bob01", SKIP[1], corpId=None),  # no organisation named
        await dt.click("tb" + "0" * 30, "bob01", SKIP[1]),  # a card we never sent
    ]
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert [r.json()["error"] for r in refused] == ["bad_signature"] * 4 + ["foreign_card"] * 3
    assert await checkin_status(dt, "bob01") == "open"  # as the prompt left it
    assert dt.fake.dms("bob01") == [] and dt.fake.cards[card_id]["updates"] == []
    assert await count(dt, JobRow) == jobs_before and await count(dt, ProcessedEvent) == 0
    async with dt.app.sessionmaker() as session:
        assert await session.scalar(select(SentCard.chosen).where(SentCard.card_id == card_id)) is None

    # not a click on one of the card's buttons: 400 with the reason, nothing kept either
    bad = await dt.click(card_id, "bob01", "tb-9")
    assert bad.status_code == 400 and bad.json()["error"] == "not_a_click"
    assert await checkin_status(dt, "bob01") == "open" and await count(dt, JobRow) == jobs_before


async def test_an_expired_card_answers_with_a_clear_line_and_does_nothing(dt):
    await post(dt, "checkin")
    card_id, _ = card_of(dt, "bob01")
    checkins = await count(dt, Checkin)
    dt.clock.set(MONDAY_9 + timedelta(hours=25))
    response = await dt.click(card_id, "bob01", SKIP[1])
    assert response.status_code == 200
    assert dt.fake.dms("bob01") == [f"⌛ 这张卡片已超过 1 天，按钮不再有效。{SEND_THE_COMMAND}"]
    assert await count(dt, Checkin) == checkins and dt.fake.cards[card_id]["updates"] == []
    assert await count(dt, ProcessedEvent) == 0


async def test_a_click_acts_with_the_role_of_the_person_who_clicked(dt):
    # a card whose button stands for a leader's command, in a member's DM: dave is refused, no goal set
    ask = "本月目标？"
    leaders_only = Button("设定团队目标", "/目标 团队 30万 本月")
    msg = OutgoingMessage((Paragraph((Text(ask),)),), ask, buttons=(leaders_only,))
    await dt.adapter.send(ChannelRef("dingtalk", CORP, "dave01", "dm"), msg)
    card_id, card = card_of(dt, "dave01")
    assert button_ids(card) == [("设定团队目标", "tb-0")]
    assert (await dt.click(card_id, "dave01", "tb-0")).status_code == 200
    [refusal] = dt.fake.dms("dave01")
    assert "只有团队长可以使用" in refusal
    assert await count(dt, Goal) == 0

    # the same button on the leader's card sets the goal
    await dt.adapter.send(ChannelRef("dingtalk", CORP, "boss01", "dm"), msg)
    boss_card, _ = card_of(dt, "boss01")
    assert (await dt.click(boss_card, "boss01", "tb-0")).status_code == 200
    _, answer = card_of(dt, "boss01")  # the answer carries "post to channel": a card too
    assert "目标已设定" in card_text(answer)
    assert [label for label, _ in button_ids(answer)] == ["📣 发到群里"]
    assert await count(dt, Goal) == 1


async def test_a_refused_click_leaves_the_card_as_it_was_and_another_button_still_acts(dt):
    ask = "本月目标？"
    buttons = (Button("设定团队目标", "/目标 团队 30万 本月"), Button("🏆 排行", "/rank"))
    msg = OutgoingMessage((Paragraph((Text(ask),)),), ask, buttons=buttons)
    await dt.adapter.send(ChannelRef("dingtalk", CORP, "dave01", "dm"), msg)
    card_id, _ = card_of(dt, "dave01")
    for _ in range(2):  # a click and DingTalk redelivering it: refused once
        assert (await dt.click(card_id, "dave01", "tb-0")).status_code == 200
    [refusal] = dt.fake.dms("dave01")
    assert "只有团队长可以使用" in refusal
    # the card is as it was, its buttons still there, its one click not taken
    assert dt.fake.cards[card_id]["updates"] == [] and await count(dt, Goal) == 0
    async with dt.app.sessionmaker() as session:
        row = await session.get(SentCard, card_id)
        assert (row.chosen, row.shown) == (None, False)

    # so the button dave may use still acts, and the card then shows it
    assert (await dt.click(card_id, "dave01", "tb-1")).status_code == 200
    assert len(dt.fake.dms("dave01")) == 2 and "只有团队长" not in dt.fake.dms("dave01")[1]
    _, shown = card_of(dt, "dave01")
    assert button_ids(shown) == [] and card_text(shown).endswith("✅ 已选择：**🏆 排行**")
    assert len(dt.fake.cards[card_id]["updates"]) == 1


async def test_http_mode_registers_the_card_callback_url_with_its_secret(engine, database_url, tmp_path):
    public = "https://teambeat.example.com"
    async with open_dingtalk(tmp_path, database_url, FixedClock(MONDAY_9), public_url=public) as dt:
        assert dt.fake.card_callbacks == {"teambeat": (public + "/dingtalk/card", CARD_SECRET)}


async def test_malformed_card_callbacks_get_a_4xx_with_the_reason(dt):
    await post(dt, "checkin")
    card_id, _ = card_of(dt, "bob01")
    headers = card_headers(int(dt.clock.now().timestamp() * 1000))
    bodies = {
        b"not json": "not_json",
        b"[1, 2]": "not_json",
        json.dumps({"type": "actionCallback", "userId": "bob01"}).encode(): "not_a_click",
        json.dumps({**card_click(card_id, "bob01", SKIP[1]), "content": "{oops"}).encode(): "not_a_click",
        json.dumps({**card_click(card_id, "bob01", SKIP[1]), "content": "{}"}).encode(): "not_a_click",
        json.dumps({**card_click(card_id, "bob01", SKIP[1]), "type": "other"}).encode(): "not_a_click",
    }
    for body, error in bodies.items():
        response = await dt.http.post("/dingtalk/card", content=body, headers=headers)
        assert (response.status_code, response.json()["error"]) == (400, error), body
    assert await checkin_status(dt, "bob01") == "open" and dt.fake.dms("bob01") == []

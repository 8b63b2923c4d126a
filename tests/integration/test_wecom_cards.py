"""WeCom button cards end to end, through the wire-level fake: the scheduled check-in prompt arrives as a
`button_interaction` template card; a member's click comes back as an encrypted `template_card_event`
at /wecom/callback and runs the button's command as that member (checked with the export and the
evening recap); the card is updated once with the click's response_code. Double clicks and WeCom's
retries act once; forged, stale or foreign clicks change nothing; a member's click on a leader's button
is refused.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select
from wechatpy.enterprise.crypto import WeChatCrypto

from adapters.wecom.adapter import WeComAdapter
from adapters.wecom.crypto import signature
from adapters.wecom.payload import parse_xml
from bot.messages import (
    Button,
    CardClick,
    ChannelRef,
    Heading,
    IncomingMessage,
    OutgoingMessage,
    Paragraph,
    Text,
    UserRef,
)
from bot.services import csv_io, directory, sent_cards
from bot.services.posts import run_post
from bot.storage.orm import Checkin, Member, ProcessedEvent, SentCard, TvKey
from tests.fakes.wecom import AES_KEY, CORP_ID, EAST_CHANNEL, MONDAY, ROBOT_KEY, TOKEN, WeComBot, wecom_bot


@pytest_asyncio.fixture
async def bot(engine, database_url, tmp_path) -> AsyncIterator[WeComBot]:
    async with wecom_bot(tmp_path, database_url) as running:
        yield running


async def send_prompts(bot: WeComBot, kind: str = "checkin") -> None:
    async with bot.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        await run_post(uow, bot.app.renderer, team, kind, bot.clock.now())
        await uow.commit()
    await bot.deliver()


def last_card(bot: WeComBot, user: str) -> dict:
    cards = [s for s in bot.fake.dms(user) if s.msgtype == "template_card"]
    assert cards, f"no card to {user}"
    return cards[-1].payload["template_card"]


def texts_to(bot: WeComBot, user: str) -> list[str]:
    return [s.content for s in bot.fake.dms(user) if s.msgtype in ("markdown", "text")]


async def statuses(bot: WeComBot) -> dict[str, str]:
    """Each member's check-in status today, but for those still open (the prompt opens one for all)."""
    async with bot.app.sessionmaker() as session:
        rows = await session.execute(
            select(Member.user_id, Checkin.status)
            .join(Member, Member.id == Checkin.member_id)
            .where(Checkin.status != "open")
        )
        return dict(rows.all())


async def click(bot: WeComBot, user: str, card: dict, label: str):
    """`user` presses the button labelled `label` on `card`; then the work it started is done."""
    key = next(b["key"] for b in card["button_list"] if b["text"] == label)
    response, body, params = await bot.click(user, card["task_id"], key)
    assert response.status_code == 200 and response.content == b""  # acknowledged at once, no reply
    await bot.deliver()
    return body, params


async def test_prompt_card_skip_click_recorded_card_updated_once_and_counted(bot):
    await send_prompts(bot)
    card = last_card(bot, "dave")
    # The card as sent, checked by the fake as WeCom checks it.
    assert card["card_type"] == "button_interaction"
    assert card["main_title"] == {"title": "📝 打卡 1/3"}
    assert "今天的打卡开始啦" in card["sub_title_text"] and "昨天完成了什么" in card["sub_title_text"]
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [
        ("📝 填写表单", "b0"),
        ("⏭ 今天跳过", "b1"),
        ("🏖 今天请假", "b2"),
    ]
    assert card["task_id"] in bot.fake.cards
    assert bot.fake.refused == []

    await click(bot, "dave", card, "⏭ 今天跳过")
    assert (await statuses(bot))["dave"] == "skipped"
    assert any("跳过" in t for t in texts_to(bot, "dave"))  # the command's answer, by message/send
    assert bot.fake.card_updates == [(card["task_id"], "dave", "⏭ 今天跳过")]

    # "fill in" starts the typed check-in in the app chat; the answers complete it.
    bob = last_card(bot, "bob")
    await click(bot, "bob", bob, "📝 填写表单")
    again = last_card(bot, "bob")
    assert again["task_id"] != bob["task_id"] and again["main_title"]["title"] == "📝 打卡 1/3"
    for answer in ("拜访了3家客户", "5万", "需要报价支持"):
        await bot.say("bob", answer)
    await bot.deliver()
    assert await statuses(bot) == {"dave": "skipped", "bob": "done"}
    assert [u[1:] for u in bot.fake.card_updates] == [("dave", "⏭ 今天跳过"), ("bob", "📝 填写表单")]

    # Alice is off today: one tap books the prompt's day as leave.
    await click(bot, "alice", last_card(bot, "alice"), "🏖 今天请假")
    assert next(t for t in texts_to(bot, "alice") if "请假" in t).startswith("🏖 已登记请假：**11月23日**")

    async with bot.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        exported = await csv_io.export_checkins(uow, team, MONDAY.date(), MONDAY.date())
    rows = {r["member"]: r for r in csv.DictReader(io.StringIO(exported.lstrip("\ufeff")))}
    assert rows["dave"]["status"] == "skipped" and rows["bob"]["status"] == "done"

    bot.clock.advance(timedelta(hours=8))
    await send_prompts(bot, "recap")
    [recap] = [
        p.content for p in bot.fake.robot_posts(ROBOT_KEY) if p.msgtype == "markdown" and "复盘" in p.content
    ]
    assert "📝 打卡参与：1/3（33%）" in recap  # bob's done; dave's skip is not one; alice is on leave


async def test_double_click_and_wecom_retry_act_once(bot):
    await send_prompts(bot)
    card = last_card(bot, "dave")
    body, params = await click(bot, "dave", card, "⏭ 今天跳过")
    answers = len(texts_to(bot, "dave"))

    # WeCom's retry of the same callback (same body, within its 5 minutes): nothing new at all.
    again = await bot.post(body, params)
    assert again.status_code == 200 and again.content == b""
    await bot.deliver()
    assert len(texts_to(bot, "dave")) == answers

    # A second click on the same card — the other button: it does not act; one clear line, once.
    _, body2, params2 = await bot.click("dave", card["task_id"], "b0")
    await bot.deliver()
    await bot.post(body2, params2)  # and WeCom retrying that one
    await bot.deliver()
    lines = texts_to(bot, "dave")[answers:]
    assert lines == ["✅ 这张卡片你已经选过 **⏭ 今天跳过** 了，只算一次。"]
    assert (await statuses(bot))["dave"] == "skipped"
    assert len(bot.fake.card_updates) == 1  # the card updated once; its response code used once
    assert [p for p, _ in bot.fake.refused] == []


async def test_a_member_clicking_a_leaders_button_is_refused(bot):
    tv = OutgoingMessage(
        (Heading((Text("📺 TV board"),)), Paragraph((Text("Open the board"),))),
        "📺 TV board",
        buttons=(Button("📺 打开看板", "/team tv"),),
    )
    for user in ("dave", "boss"):
        await bot.adapter.send(ChannelRef("wecom", CORP_ID, user, "dm"), tv)
    await click(bot, "dave", last_card(bot, "dave"), "📺 打开看板")
    [refusal] = texts_to(bot, "dave")
    assert refusal.startswith("🔒 /team tv 只有团队长可以使用。")
    assert await bot.count(TvKey) == 0
    # The same button works for a leader (their own card): the command runs as the clicker.
    await click(bot, "boss", last_card(bot, "boss"), "📺 打开看板")
    assert await bot.count(TvKey) == 1
    assert any("/tv/east?key=" in t for t in texts_to(bot, "boss"))


async def test_a_refused_click_leaves_the_card_as_it_was_and_another_button_still_acts(bot):
    board = OutgoingMessage(
        (Heading((Text("📺 看板"),)), Paragraph((Text("看看今天的排行"),))),
        "📺 看板",
        buttons=(Button("📺 打开看板", "/team tv"), Button("🏆 排行", "/rank")),
    )
    await bot.adapter.send(ChannelRef("wecom", CORP_ID, "dave", "dm"), board)
    card = last_card(bot, "dave")
    body, params = await click(bot, "dave", card, "📺 打开看板")
    assert (await bot.post(body, params)).status_code == 200  # WeCom retrying it: no second refusal
    await bot.deliver()
    [refusal] = texts_to(bot, "dave")
    assert refusal.startswith("🔒 /team tv 只有团队长可以使用。")
    # the card is as it was: not greyed out, its one click not taken
    assert bot.fake.card_updates == [] and await bot.count(TvKey) == 0
    async with bot.app.sessionmaker() as session:
        row = await session.get(SentCard, card["task_id"])
        assert (row.chosen, row.chosen_click, row.shown) == (None, None, False)

    # so the button dave may use still acts, and the card then shows it
    await click(bot, "dave", card, "🏆 排行")
    assert len(texts_to(bot, "dave")) == 2 and "🔒" not in texts_to(bot, "dave")[1]
    assert bot.fake.card_updates == [(card["task_id"], "dave", "🏆 排行")]
    async with bot.app.sessionmaker() as session:
        row = await session.get(SentCard, card["task_id"])
        assert (row.chosen, row.chosen_by, row.shown) == (1, "dave", True)


async def test_a_command_clicked_on_a_card_another_click_answered_first_is_rolled_back(bot):
    """Two presses racing on one card: the dispatcher records the choice with the command's effects, so
    the press that comes second changes nothing, whatever its command did meanwhile."""
    board = OutgoingMessage(
        (Paragraph((Text("看板"),)),),
        "看板",
        buttons=(Button("📺 打开看板", "/team tv"), Button("🏆 排行", "/rank")),
    )
    await bot.adapter.send(ChannelRef("wecom", CORP_ID, "boss", "dm"), board)
    task_id = last_card(bot, "boss")["task_id"]
    async with bot.app.uow_factory() as uow:  # the other press got there first
        assert await sent_cards.choose(
            uow.session, "wecom", "boss", CardClick(task_id, 1, "rc-1"), bot.clock.now()
        )
        await uow.commit()
    late = IncomingMessage(
        event_id=f"card:{task_id}:rc-2",
        user=UserRef("wecom", CORP_ID, "boss"),
        channel=ChannelRef("wecom", CORP_ID, "boss", "dm"),
        text="/team tv",
        addressed_to_bot=True,
        received_at=bot.clock.now(),
        clicked=CardClick(task_id, 0, "rc-2"),
    )
    assert await bot.app.dispatcher.handle(late) is None
    assert await bot.count(TvKey) == 0 and await bot.count(ProcessedEvent) == 0
    async with bot.app.sessionmaker() as session:
        row = await session.get(SentCard, task_id)
        assert (row.chosen, row.chosen_click) == (1, "rc-1")


async def test_foreign_unknown_and_expired_cards_get_a_clear_line_and_change_nothing(bot):
    await send_prompts(bot)
    bobs = last_card(bot, "bob")
    # dave presses a button on a card that went to bob (or one we never sent): nothing happens to bob
    await click(bot, "dave", bobs, "⏭ 今天跳过")
    response, _, _ = await bot.click("dave", "tbneverSent123", "b1")
    assert response.status_code == 200
    await bot.deliver()
    assert (
        texts_to(bot, "dave")[-2:]
        == ["🤔 这张卡片不是我发给你的，无法处理。请直接发送命令（/帮助 查看全部命令）。"] * 2
    )
    assert await statuses(bot) == {}
    assert bot.fake.card_updates == []

    # Three days later dave's own card no longer acts.
    bot.clock.advance(timedelta(hours=72, minutes=1))
    await click(bot, "dave", last_card(bot, "dave"), "⏭ 今天跳过")
    assert texts_to(bot, "dave")[-1].startswith("⌛ 这张卡片已超过 3 天")
    assert await statuses(bot) == {}
    assert bot.fake.card_updates == []


def _forged(bot: WeComBot, plain: str, name: str) -> tuple[bytes, dict[str, str]]:
    body, params = bot.sealed(plain)
    encrypt = parse_xml(body)["Encrypt"]
    ts, nonce = params["timestamp"], params["nonce"]
    if name == "forged signature":
        return body, {**params, "msg_signature": signature("not-the-token", ts, nonce, encrypt)}
    if name == "wrong corp id":
        other = WeChatCrypto(TOKEN, AES_KEY, "wwSOMEONEELSE00000")
        enc = parse_xml(other.encrypt_message(plain, nonce, ts).encode())["Encrypt"]
        return bot.envelope(enc), {
            "msg_signature": signature(TOKEN, ts, nonce, enc),
            "timestamp": ts,
            "nonce": nonce,
        }
    if name == "garbage":
        return bot.envelope(encrypt[:-7]), {
            "msg_signature": signature(TOKEN, ts, nonce, encrypt[:-7]),
            "timestamp": ts,
            "nonce": nonce,
        }
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("name", "status"), [("forged signature", 401), ("wrong corp id", 401), ("garbage", 400)]
)
async def test_forged_clicks_are_refused_and_change_nothing(bot, name, status):
    await send_prompts(bot)
    card = last_card(bot, "dave")
    sent = len(bot.fake.sent)
    body, params = _forged(bot, bot.fake.click("dave", card["task_id"], "b1"), name)
    response = await bot.post(body, params)
    assert response.status_code == status, response.text
    await bot.deliver()
    assert await statuses(bot) == {}
    assert len(bot.fake.sent) == sent and bot.fake.card_updates == []
    async with bot.app.sessionmaker() as session:
        assert (await session.get(SentCard, card["task_id"])).chosen is None


async def test_a_replayed_click_after_five_minutes_is_401(bot):
    await send_prompts(bot)
    card = last_card(bot, "dave")
    body, params = bot.sealed(bot.fake.click("dave", card["task_id"], "b1"))
    bot.clock.advance(timedelta(seconds=301))  # captured and posted again later
    response = await bot.post(body, params)
    assert response.status_code == 401
    await bot.deliver()
    assert await statuses(bot) == {} and bot.fake.card_updates == []


async def test_long_text_goes_ahead_as_markdown_and_at_most_six_buttons(bot):
    many = tuple(Button(f"选项{i}", f"/rank {p}") for i, p in enumerate(["today", "week", "month"] * 3))
    long = OutgoingMessage(
        (Heading((Text("排行"),)), Paragraph((Text("很长的说明。" * 40),))), "排行", buttons=many
    )
    await bot.adapter.send(ChannelRef("wecom", CORP_ID, "dave", "dm"), long)
    kinds = [s.msgtype for s in bot.fake.dms("dave")]
    assert kinds == ["markdown", "template_card"]
    card = last_card(bot, "dave")
    assert "sub_title_text" not in card and card["main_title"]["title"] == "排行"
    assert [b["key"] for b in card["button_list"]] == ["b0", "b1", "b2", "b3", "b4", "b5"]
    assert json.loads(bot.fake.dms("dave")[-1].content) == card
    assert "很长的说明" in bot.fake.dms("dave")[0].content


async def test_a_group_robot_gets_no_card_its_text_stays(bot):
    """Group robots cannot take clicks: a channel post with buttons keeps its markdown, buttons left out."""
    post = OutgoingMessage(
        (Paragraph((Text("今天的目标已更新"),)),), "今天的目标已更新", buttons=(Button("撤销", "/goal"),)
    )
    await bot.adapter.send(ChannelRef("wecom", CORP_ID, EAST_CHANNEL, "group"), post)
    [sent] = bot.fake.robot_posts(ROBOT_KEY)
    assert sent.msgtype == "markdown" and sent.content == "今天的目标已更新"
    assert bot.fake.cards == {}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_in_the_web_role_a_click_is_acknowledged_and_a_worker_acts_on_it(
    engine, database_url, tmp_path
):
    async with wecom_bot(tmp_path, database_url, work=False) as bot:
        await send_prompts(bot)
        card = last_card(bot, "dave")
        response, _, _ = await bot.click("dave", card["task_id"], "b1")
        assert response.status_code == 200 and response.content == b""
        await bot.adapter.settle()
        assert await statuses(bot) == {} and bot.fake.card_updates == []  # taken in, not yet handled
        worker = WeComAdapter(
            bot.app.config.wecom,
            clock=bot.clock,
            uow_factory=bot.app.uow_factory,
            renderer=bot.app.renderer,
        )
        await worker.start(bot.app.dispatcher.handle, serve=False)
        try:
            await worker.settle()
        finally:
            await worker.stop()
        assert await statuses(bot) == {"dave": "skipped"}
        assert bot.fake.card_updates == [(card["task_id"], "dave", "⏭ 今天跳过")]

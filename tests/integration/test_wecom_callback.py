"""GET|POST /wecom/callback over real HTTP, on SQLite and PostgreSQL: WeCom (played by wechatpy or by our
own crypto) posts encrypted messages; the bot answers with an encrypted passive reply, or at once with
an empty 200 and later through message/send. Anything forged or malformed is a 4xx that leaves no trace.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import func, select
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from adapters.wecom import build_adapter
from adapters.wecom.adapter import WeComAdapter
from adapters.wecom.crypto import pad, signature
from adapters.wecom.payload import parse_xml
from bot.config import WeComConfig
from bot.messages import OutgoingMessage, Paragraph, Text
from bot.storage.orm import Checkin, Deal, JobRow, OutboxRow, ProcessedEvent
from tests.fakes.wecom import AES_KEY, CORP_ID, ROBOT_KEY, TOKEN, WEST_CHAT, WeComBot, wecom_bot

ECHO = "1288432023552776189"


@pytest_asyncio.fixture
async def bot(engine, database_url, tmp_path) -> AsyncIterator[WeComBot]:
    async with wecom_bot(tmp_path, database_url) as running:
        yield running


async def nothing_recorded(bot: WeComBot) -> bool:
    counts = [await bot.count(model) for model in (ProcessedEvent, Deal, OutboxRow)]
    return counts == [0, 0, 0] and bot.fake.sent == []


# ----- URL verification ----------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["wechatpy", "ours"])
async def test_url_verification_returns_the_echo_exactly(bot, by):
    plain = ECHO.encode()
    key = base64.b64decode(AES_KEY + "=")
    echostr = PrpCrypto(key).encrypt(ECHO, CORP_ID).decode() if by == "wechatpy" else bot.ours.encrypt(plain)
    ts, nonce = bot.timestamp(), "1372623149"
    params = {"msg_signature": signature(TOKEN, ts, nonce, echostr), "timestamp": ts, "nonce": nonce}
    response = await bot.client.get("/wecom/callback", params={**params, "echostr": echostr})
    assert response.status_code == 200
    assert response.content == plain  # no quotes, no newline, no BOM


async def test_url_verification_survives_an_unencoded_plus(bot):
    echostr = next(e for e in (bot.ours.encrypt(ECHO.encode()) for _ in range(100)) if "+" in e)
    ts, nonce = bot.timestamp(), "42"
    sig = signature(TOKEN, ts, nonce, echostr)
    raw = f"/wecom/callback?msg_signature={sig}&timestamp={ts}&nonce={nonce}&echostr={echostr}"
    response = await bot.client.get(raw)  # '+' left raw: the server reads it as a space
    assert response.status_code == 200 and response.text == ECHO


async def test_url_verification_with_a_forged_signature_is_401(bot):
    echostr = bot.ours.encrypt(ECHO.encode())
    params = {"msg_signature": "0" * 40, "timestamp": bot.timestamp(), "nonce": "1", "echostr": echostr}
    response = await bot.client.get("/wecom/callback", params=params)
    assert response.status_code == 401 and response.json()["error"] == "bad_signature"
    assert ECHO not in response.text


# ----- commands and replies ------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["wechatpy", "ours"])
async def test_a_deal_in_the_app_chat_is_answered_with_an_undo_card_and_a_robot_announcement(bot, by):
    started = time.monotonic()
    response = await bot.say("alice", "/deal 12800 华为", by=by)
    assert time.monotonic() - started < 5
    assert bot.passive(response) is None  # the answer carries "undo": a card, through message/send
    await bot.deliver()
    [answer] = bot.fake.dms("alice")
    card = answer.payload["template_card"]
    assert answer.msgtype == "template_card" and card["card_type"] == "button_interaction"
    assert "#1" in answer.content and "¥1.28万" in answer.content
    assert [b["text"] for b in card["button_list"]] == ["↩️ 撤销"]
    posts = bot.fake.robot_posts(ROBOT_KEY)
    assert [p.msgtype for p in posts] == ["markdown", "markdown"]  # the 喜报 and the day's first deal
    assert "喜报" in posts[0].content and "<@alice>" in posts[0].content and "华为" in posts[0].content
    assert "开单" in posts[1].content
    assert posts[0].notified() == {"alice"}
    assert await bot.count(Deal) == 1


@pytest.mark.parametrize("by", ["wechatpy", "ours"])
async def test_a_command_answered_without_buttons_gets_a_passive_reply(bot, by):
    started = time.monotonic()
    await bot.say("alice", "/deal 12800 华为", by=by)
    reply = bot.passive(await bot.say("alice", "/rank month", by=by))
    assert time.monotonic() - started < 5
    assert reply is not None and reply["MsgType"] == "text"
    assert reply["ToUserName"] == "alice" and reply["FromUserName"] == CORP_ID
    assert "Alice" in reply["Content"] and "¥1.28万" in reply["Content"]


async def test_a_retried_msgid_is_handled_once(bot):
    first = await bot.say("alice", "/rank month", msg_id="889899")
    again = await bot.say("alice", "/rank month", msg_id="889899")  # WeCom's retry after a lost answer
    assert bot.passive(first) is not None
    assert again.status_code == 200 and again.content == b""
    first = await bot.say("alice", "/deal 5000", msg_id="889900")
    again = await bot.say("alice", "/deal 5000", msg_id="889900")
    assert again.status_code == 200 and again.content == b""
    await bot.deliver()
    assert await bot.count(Deal) == 1
    assert len([p for p in bot.fake.robot_posts(ROBOT_KEY) if "喜报" in p.content]) == 1
    assert len(bot.fake.dms("alice")) == 1  # one answer (a card, for its undo button)


async def test_a_checkin_conversation_in_the_app_chat(bot):
    # The first question carries the "fill in" / "skip today" buttons: a card, through message/send.
    assert bot.passive(await bot.say("dave", "/checkin")) is None
    await bot.deliver()
    [first] = bot.fake.dms("dave")
    assert first.msgtype == "template_card" and "1/3" in first.payload["template_card"]["main_title"]["title"]
    second = bot.passive(await bot.say("dave", "拜访了3家客户"))
    assert second is not None and "2/3" in second["Content"]
    bot.passive(await bot.say("dave", "5万"))
    done = bot.passive(await bot.say("dave", "需要报价支持"))
    assert done is not None and "拜访了3家客户" in done["Content"]
    assert await bot.count(Checkin) == 1


async def test_a_command_in_the_teams_appchat_is_answered_by_dm_and_announced_in_the_chat(bot):
    response = await bot.say("will", "@teambeat /deal 3000 老客户", chat_id=WEST_CHAT)
    assert response.status_code == 200 and response.content == b""  # groups get no passive reply
    ignored = await bot.say("will", "大家中午吃什么", chat_id=WEST_CHAT)  # chatter, not for the bot
    assert ignored.content == b""
    await bot.deliver()
    [dm] = bot.fake.dms("will")
    assert dm.msgtype == "template_card" and "¥3,000" in dm.content  # a card: it carries "undo"
    posts = bot.fake.appchat_posts(WEST_CHAT)
    assert posts and "喜报" in posts[0].content and "Will" in posts[0].content
    assert bot.fake.robot_posts(ROBOT_KEY) == []
    assert await bot.count(Deal) == 1


async def test_events_and_non_text_messages_are_acknowledged_and_ignored(bot):
    for plain in (
        f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>alice</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>event</MsgType><Event>enter_agent</Event><AgentID>1000002</AgentID></xml>",
        f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>alice</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>image</MsgType><PicUrl>http://x/y.png</PicUrl><MsgId>5</MsgId></xml>",
    ):
        body, params = bot.sealed(plain)
        response = await bot.post(body, params)
        assert response.status_code == 200 and response.content == b""
    assert await nothing_recorded(bot)


async def test_the_adapter_the_runtime_builds_serves_the_callback(bot):
    adapter = build_adapter(bot.app)
    try:
        assert adapter.name == "wecom"
        assert [route.path for route in adapter.routes()] == ["/wecom/callback"]
    finally:
        await adapter.stop()


# ----- slow and long replies ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_slow_command_is_acknowledged_at_once_and_answered_by_message_send(
    engine, database_url, tmp_path
):
    async with wecom_bot(tmp_path, database_url, sink_delay=1.5, passive_reply_within=0.1) as bot:
        started = time.monotonic()
        response = await bot.say("alice", "/deal 6000")
        answered = time.monotonic() - started
        assert response.status_code == 200 and response.content == b""
        assert answered < 1.5  # WeCom had its answer before the command finished
        await bot.deliver()
        [dm] = bot.fake.dms("alice")
        assert dm.msgtype == "template_card" and "¥6,000" in dm.content  # a card: it carries "undo"
        assert dm.payload["agentid"] == 1000002


async def commands_waiting(bot: WeComBot) -> int:
    async with bot.app.sessionmaker() as session:
        query = select(func.count()).select_from(JobRow).where(JobRow.kind == "command.wecom")
        return int(await session.scalar(query) or 0)


async def test_in_the_web_role_the_callback_is_answered_at_once_and_a_worker_replies_by_message_send(
    engine, database_url, tmp_path
):
    async with wecom_bot(tmp_path, database_url, work=False) as bot:
        response = await bot.say("alice", "/deal 6000")
        assert response.status_code == 200 and response.content == b""  # no passive reply: none works here
        await bot.adapter.settle()
        assert await bot.count(Deal) == 0 and await commands_waiting(bot) == 1
        worker = WeComAdapter(
            bot.app.config.wecom, clock=bot.clock, uow_factory=bot.app.uow_factory, metrics=bot.app.metrics
        )
        await worker.start(bot.app.dispatcher.handle, serve=False)
        try:
            await worker.settle()
        finally:
            await worker.stop()
        assert await bot.count(Deal) == 1 and await commands_waiting(bot) == 0
        [dm] = bot.fake.dms("alice")
        assert dm.msgtype == "template_card" and "¥6,000" in dm.content  # a card: it carries "undo"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_long_reply_goes_by_message_send_in_parts_under_2048_bytes(engine, database_url, tmp_path):
    long = OutgoingMessage(tuple(Paragraph((Text(f"第{i}名 " + "冲" * 200),)) for i in range(12)), "long")
    async with wecom_bot(tmp_path, database_url, canned={"/rank": long}) as bot:
        response = await bot.say("bob", "/rank")
        assert response.content == b""  # too long for one passive text reply
        await bot.deliver()
        parts = bot.fake.dms("bob")
        assert len(parts) > 1
        assert all(len(p.content.encode()) <= 2048 for p in parts)
        text = "".join(p.content for p in parts)
        assert text.count("冲") == 12 * 200 and all(f"第{i}名" in text for i in range(12))
        assert bot.fake.dropped == [] and bot.fake.refused == []


# ----- forgeries and malformed input: 4xx, nothing recorded -------------------------------------------


def _case(bot: WeComBot, name: str) -> tuple[str, bytes, dict[str, str]]:
    plain = bot.message("alice", "/deal 500")
    body, params = bot.sealed(plain)
    encrypt = parse_xml(body)["Encrypt"]
    ts, nonce = params["timestamp"], params["nonce"]

    def signed(enc: str, ts: str = ts) -> tuple[bytes, dict[str, str]]:
        return bot.envelope(enc), {
            "msg_signature": signature(TOKEN, ts, nonce, enc),
            "timestamp": ts,
            "nonce": nonce,
        }

    if name == "forged signature":
        return (
            "bad_signature",
            body,
            {**params, "msg_signature": signature("not-the-token", ts, nonce, encrypt)},
        )
    if name == "wrong corp id":
        other = WeChatCrypto(TOKEN, AES_KEY, "wwSOMEONEELSE00000")
        return "wrong_receiver", *signed(
            parse_xml(other.encrypt_message(plain, nonce, ts).encode())["Encrypt"]
        )
    if name == "bad padding":
        key = base64.b64decode(AES_KEY + "=")
        framed = pad(
            os.urandom(16) + len(plain.encode()).to_bytes(4, "big") + plain.encode() + CORP_ID.encode()
        )
        broken = framed[:-1] + bytes([framed[-1] ^ 0x40])
        enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return "bad_padding", *signed(base64.b64encode(enc.update(broken) + enc.finalize()).decode())
    if name == "truncated base64":
        return "bad_base64", *signed(encrypt[:-5])
    if name == "stale timestamp":
        return "stale_timestamp", *signed(encrypt, str(int(ts) - 3600))
    if name == "entity bomb":
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b"<xml><Encrypt>&c;</Encrypt></xml>"
        )
        return "bad_xml", bomb, params
    if name == "external entity":
        return (
            "bad_xml",
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
            params,
        )
    if name == "oversized body":
        return "body_too_large", body.replace(b"</xml>", b"<Pad>" + b"x" * 70_000 + b"</Pad></xml>"), params
    if name == "not xml":
        return "bad_xml", b'{"Encrypt": "abc"}', params
    if name == "no encrypt":
        return "missing_encrypt", b"<xml><ToUserName>x</ToUserName></xml>", params
    if name == "missing signature":
        return "missing_signature", body, {k: v for k, v in params.items() if k != "msg_signature"}
    raise AssertionError(name)


CASES = {
    "forged signature": 401,
    "wrong corp id": 401,
    "stale timestamp": 401,
    "bad padding": 400,
    "truncated base64": 400,
    "entity bomb": 400,
    "external entity": 400,
    "not xml": 400,
    "no encrypt": 400,
    "missing signature": 401,
    "oversized body": 413,
}


async def test_forged_or_malformed_callbacks_are_4xx_and_leave_no_trace(bot):
    for name, status in CASES.items():
        reason, body, params = _case(bot, name)
        response = await bot.post(body, params)
        assert response.status_code == status, (name, response.text)
        assert response.json()["error"] == reason, name
    await bot.deliver()
    assert await nothing_recorded(bot)


async def test_a_body_over_the_servers_limit_is_413_before_wecom_code_runs(bot):
    body, params = bot.sealed(bot.message("alice", "/deal 500"))
    huge = body + b" " * (bot.app.config.server.max_body_bytes + 1)
    response = await bot.post(huge, params)
    assert response.status_code == 413
    assert await nothing_recorded(bot)


async def test_garbage_never_causes_a_500(bot):
    for body in (
        b"",
        b"<xml>",
        b"\x00\xff" * 100,
        b"<xml><Encrypt>!!!!</Encrypt></xml>",
        "<xml>中</xml>".encode(),
    ):
        for params in ({}, {"msg_signature": "x", "timestamp": "abc", "nonce": "1"}, {"timestamp": "9" * 30}):
            response = await bot.client.post("/wecom/callback", params=params, content=body)
            assert 400 <= response.status_code < 500, (body, params, response.status_code)
    response = await bot.client.get("/wecom/callback")
    assert response.status_code == 401 and response.json()["error"] == "missing_signature"
    assert await nothing_recorded(bot)


async def test_without_token_and_key_there_is_no_callback_route(bot):
    config = WeComConfig(corp_id=CORP_ID, secret="s", agent_id=1)
    adapter = WeComAdapter(config, clock=bot.clock, uow_factory=bot.app.uow_factory)
    try:
        assert adapter.routes() == []
    finally:
        await adapter.stop()

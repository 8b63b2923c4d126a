"""Transcripts of each argument converter's errors, in zh-CN and en: the whole reply — what was wrong,
the usage line declared by the command (or by the form typed), and an example — and nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.storage.orm import Deal, Kudos, Leave
from tests.integration.conftest import SHANGHAI
from tests.support.chat import Chat, open_chat, write_config

DEAL_ZH = "用法：/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]\n例如：/成交 12800 华为年度采购"
DEAL_EN = (
    "Usage: /deal AMOUNT [@member] [customer or product] | /deal undo [ID]"
    "\nExample: /deal 12800 Acme annual plan"
)
RANK_ZH = (
    "用法：/排行 [今天|本周|本月|本季度] [个人|小组] [金额|单数|人均] [图表] | /排行 pk [比赛名称]"
    "\n例如：/排行 本周 小组"
)
RANK_EN = (
    "Usage: /rank [today|week|month|quarter] [people|groups] [amount|deals|per-capita] [chart]"
    " | /rank pk [COMPETITION]"
    "\nExample: /rank week groups"
)
KUDOS_ZH = "用法：/点赞 @成员 [@成员…] 原因\n例如：/点赞 @alice 电话跟进非常到位"
KUDOS_EN = "Usage: /kudos @member [@member…] reason\nExample: /kudos @alice great follow-up call"
GOAL_ZH = (
    "用法：/目标 [团队|小组 组名|@成员|我] 数额|清除 [单] 今天|本周|本月|本季度 | /目标 post 编号"
    "\n例如：/目标 团队 30万 本月"
)
GOAL_EN = (
    "Usage: /goal [team|group NAME|@member|me] AMOUNT|clear [deals] today|week|month|quarter | /goal post ID"
    "\nExample: /goal team 300000 month"
)
LEAVE_ZH = (
    "用法：/请假 [@成员] [今天|开始..结束] [原因] | /请假 cancel [@成员]"
    "\n例如：/请假 2026-11-23..2026-11-25 年假"
)
LEAVE_EN = (
    "Usage: /leave [@member] [today|START..END] [reason] | /leave cancel [@member]"
    "\nExample: /leave 2026-11-23..2026-11-25 vacation"
)
LONG = "x" * 301

# (who, what they typed) -> the whole reply, per locale
ZH = {
    (
        "alice",
        "/deal abc",
    ): "💰 「abc」不是有效的金额。支持这些写法：12800、12,800、¥12800、1.28万、1.2w、12.8k。\n" + DEAL_ZH,
    ("alice", "/成交"): "✍️ 还缺少「金额」，请补上后再发一次。\n👉 比如 12800、1.28万、¥12,800\n" + DEAL_ZH,
    ("alice", "/kudos @nobody 谢谢"): "👤 找不到成员「@nobody」。请用 @ 选择本团队的成员。\n" + KUDOS_ZH,
    ("alice", "/goal group 不存在 10万 本周"): "⚔️ 没有叫「不存在」的小组。发送 /team show 查看所有小组。\n"
    + GOAL_ZH,
    (
        "alice",
        "/rank 明年",
    ): "📆 不认识周期「明年」。可以用：today/今天、week/本周、month/本月、quarter/本季度。\n" + RANK_ZH,
    (
        "alice",
        "/rank 本周 小组 利润",
    ): "📊 不认识指标「利润」。可以用：amount（金额，默认）或 deals（单数）。\n" + RANK_ZH,
    ("alice", "/leave 2026-02-30"): "📆 日期「2026-02-30」不存在（比如没有 2 月 30 日），请检查一下。\n"
    + LEAVE_ZH,
    ("alice", f"/deal 12800 {LONG}"): "✂️ 内容太长了，最多 300 个字，请精简一下。\n" + DEAL_ZH,
    (
        "alice",
        "/kudos @bob",
    ): "✍️ 还缺少「理由」，请补上后再发一次。\n👉 写一句理由，让大家知道为什么值得点赞。\n" + KUDOS_ZH,
    (
        "alice",
        "/help dael",
    ): "📖 没有「dael」这个命令。发送 /帮助 查看你可以用的所有命令。\n用法：/帮助 [命令]\n例如：/帮助",
    ("boss", "/team group join"): "✍️ 还缺少「小组」，请补上后再发一次。\n👉 比如 狼队\n"
    "用法：/团队 group join 组名 @成员 [@成员…]\n例如：/团队 group join 狼队 @alice @bob",
}
EN = {
    (
        "alice",
        "/deal abc",
    ): "💰 “abc” is not an amount I understand. These work: 12800, 12,800, $12,800, 12.8k, 1.28万.\n"
    + DEAL_EN,
    ("alice", "/deal"): "✍️ The amount is missing. Please add it and send the command again.\n"
    "👉 e.g. 12800, 12,800, $12,800, 12.8k\n" + DEAL_EN,
    (
        "alice",
        "/kudos @nobody thanks",
    ): "👤 I can't find the member “@nobody”. Use @ to pick someone in this team.\n" + KUDOS_EN,
    ("alice", "/goal group Nowhere 100000 week"): "⚔️ There is no group called “Nowhere”. "
    "Send /team show to list the groups.\n" + GOAL_EN,
    ("alice", "/rank nextyear"): "📆 I don't know the period “nextyear”. Use today, week, month or quarter.\n"
    + RANK_EN,
    (
        "alice",
        "/rank week groups profit",
    ): "📊 I don't know the metric “profit”. Use amount (the default) or deals.\n" + RANK_EN,
    (
        "alice",
        "/leave 2026-02-30",
    ): "📆 The date “2026-02-30” does not exist (there is no 30 February, for example). "
    "Please check it.\n" + LEAVE_EN,
    ("alice", f"/deal 12800 {LONG}"): "✂️ That text is too long: 300 characters at most. Please shorten it.\n"
    + DEAL_EN,
    ("alice", "/kudos @bob"): "✍️ The reason is missing. Please add it and send the command again.\n"
    "👉 Add a few words on why they deserve it.\n" + KUDOS_EN,
    ("alice", "/help dael"): "📖 There is no command “dael”. Send /help to see every command you can use.\n"
    "Usage: /help [COMMAND]\nExample: /help",
    (
        "boss",
        "/team group join",
    ): "✍️ The group is missing. Please add it and send the command again.\n👉 e.g. Wolves\n"
    "Usage: /team group join GROUP @member [@member…]\nExample: /team group join Wolves @alice @bob",
}


@pytest_asyncio.fixture(params=["zh-CN", "en"])
async def any_chat(request, engine, database_url, tmp_path) -> AsyncIterator[Chat]:
    """The sample team in zh-CN or en, Monday 2026-11-23 10:00 Shanghai time."""
    url, pg_schema = database_url
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    chat = await open_chat(write_config(tmp_path, url, locale=request.param), clock, pg_schema)
    chat.locale = request.param  # type: ignore[attr-defined]
    try:
        yield chat
    finally:
        await chat.app.close()


async def count(chat: Chat, model) -> int:
    async with chat.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_each_converter_error_is_answered_whole_in_the_team_language(any_chat: Chat) -> None:
    expected = ZH if any_chat.locale == "zh-CN" else EN  # type: ignore[attr-defined]
    for (who, text), reply in expected.items():
        assert await any_chat.say(who, text) == reply, text
    assert [await count(any_chat, model) for model in (Deal, Kudos, Leave)] == [0, 0, 0]
    assert any_chat.channel_posts() == []


@pytest.mark.parametrize(
    ("locale", "text", "reply"),
    [
        (
            "zh-CN",
            "/帮助 成交",
            "【📖 /成交】\n登记成交（喜报）；undo 撤销\n"
            "用法：/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]\n"
            "例如：/成交 12800 华为年度采购\n也可以写：/deal、/开单、/签单、/deals",
        ),
        (
            "en",
            "/help 点赞",
            "【📖 /kudos】\nThank a teammate in the team channel; /kudos alone shows this month's board\n"
            "Usage: /kudos @member [@member…] reason\nExample: /kudos @alice great follow-up call\n"
            "Also: /点赞, /表扬, /thanks, /praise",
        ),
    ],
)
async def test_help_for_one_command_shows_its_declared_usage(
    engine, database_url, tmp_path, locale, text, reply
):
    url, pg_schema = database_url
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    chat = await open_chat(write_config(tmp_path, url, locale=locale), clock, pg_schema)
    try:
        assert await chat.say("bob", text) == reply
    finally:
        await chat.app.close()

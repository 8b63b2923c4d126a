"""Transcripts: a member says something, the bot answers, the channel shows a post."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select

from adapters.console.render import render_console
from bot.messages import ChannelRef, IncomingMessage, UserRef
from bot.storage.orm import Checkin, Deal, Goal, Kudos, Leave, Member, Team
from tests.integration.conftest import SHANGHAI


async def count(chat, model, *where) -> int:
    async with chat.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_deal_is_recorded_answered_and_announced_once(chat):
    reply = await chat.say("alice", "/deal 12800 华为年度采购")
    assert "#1" in reply and "¥1.28万" in reply
    posts = chat.channel_posts()
    assert len(posts) == 2  # the 喜报 and the day's first deal (开单)
    assert "alice" in posts[0] and "¥1.28万" in posts[0] and "华为年度采购" in posts[0]
    assert "开单" in posts[1]
    await chat.say("bob", "/成交 ¥3,000")
    assert len(chat.channel_posts()) == 3  # no second 开单
    assert await count(chat, Deal) == 2


async def test_amount_forms_are_exact(chat):
    for text, minor in [
        ("1.28万", 1_280_000),
        ("12,800", 1_280_000),
        ("1.2w", 1_200_000),
        ("12.8k", 1_280_000),
    ]:
        await chat.say("alice", f"/deal {text}")
        async with chat.app.sessionmaker() as session:
            latest = await session.scalar(select(Deal).order_by(Deal.id.desc()).limit(1))
        assert latest.amount_minor == minor


async def test_bad_amounts_get_a_specific_answer_and_store_nothing(chat):
    for text in ["/deal 0", "/deal -5", "/deal abc", "/deal 99999999999999", "/deal $100", "/deal"]:
        reply = await chat.say("alice", text)
        assert "/成交" in reply, (text, reply)  # the usage line is shown
    assert await count(chat, Deal) == 0
    assert chat.channel_posts() == []


async def test_member_cannot_log_a_deal_for_someone_else_but_a_leader_can(chat):
    reply = await chat.say("bob", "/deal 5000 @carol")
    assert await count(chat, Deal) == 0
    assert reply == (
        "🔒 /deal 只有组长或团队长可以使用。需要的话，请找你的组长帮忙。\n"
        "用法：/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]\n"
        "例如：/成交 12800 华为年度采购"
    )
    await chat.say("boss", "/deal 5000 @carol 客户A")
    async with chat.app.sessionmaker() as session:
        deal = await session.scalar(select(Deal))
        carol = await session.get(Member, deal.member_id)
    assert carol.user_id == "carol"


async def test_lead_logs_for_own_group_only(chat):
    await chat.say("alice", "/deal 5000 @dave")  # alice leads 狼队, dave is in it
    await chat.say("alice", "/deal 5000 @bob")  # bob is in 虎队
    assert await count(chat, Deal) == 1


async def test_deal_undo_voids_and_posts_the_correction(chat):
    await chat.say("alice", "/deal 12800")
    reply = await chat.say("alice", "/deal undo")
    assert "#1" in reply
    async with chat.app.sessionmaker() as session:
        deal = await session.scalar(select(Deal))
    assert deal.voided_at is not None
    assert any("#1" in post and "撤销" in post for post in chat.channel_posts())
    again = await chat.say("alice", "/deal undo 1")
    assert "已" in again  # already void, said so
    rank = await chat.say("alice", "/rank")
    assert "¥12,800" not in rank and "¥1.28万" not in rank


async def test_undo_after_24_hours_needs_a_leader(chat):
    await chat.say("bob", "/deal 8000")
    chat.at(chat.clock.now() + timedelta(hours=25))
    await chat.say("bob", "/deal undo 1")
    async with chat.app.sessionmaker() as session:
        assert (await session.scalar(select(Deal))).voided_at is None
    await chat.say("boss", "/deal undo 1")
    async with chat.app.sessionmaker() as session:
        assert (await session.scalar(select(Deal))).voided_at is not None


async def test_team_goal_needs_leader_and_a_number_and_a_period(chat):
    refused = await chat.say("bob", "/goal team 300000 month")
    assert await count(chat, Goal) == 0 and "团队长" in refused
    vague = await chat.say("boss", "/goal team 300000")
    assert "/目标" in vague and await count(chat, Goal) == 0
    vague = await chat.say("boss", "/goal team month")
    assert await count(chat, Goal) == 0
    reply = await chat.say("boss", "/目标 团队 30万 本月")
    assert "¥30万" in reply
    await chat.say("alice", "/deal 15万")
    shown = await chat.say("carol", "/goal")
    assert "50%" in shown and "¥15万" in shown
    posts = "\n".join(chat.channel_posts())
    assert "50%" in posts  # the milestone: the team goal passed half


async def test_goal_in_deals_and_for_group_and_self(chat):
    await chat.say("boss", "/goal team 50 deals month")
    await chat.say("alice", "/goal group 狼队 10万 week")
    await chat.say("bob", "/goal me 5000 today")
    refused = await chat.say("bob", "/goal group 狼队 10万 week")
    async with chat.app.sessionmaker() as session:
        goals = list(await session.scalars(select(Goal).order_by(Goal.id)))
    assert [(g.subject.split(":")[0], g.metric, g.period, g.target) for g in goals] == [
        ("team", "deals", "month", 50),
        ("group", "amount", "week", 10_000_000),
        ("member", "amount", "today", 500_000),
    ]
    assert refused == (
        "🔒 /goal 只有组长或团队长可以使用。需要的话，请找你的组长帮忙。\n"
        "用法：/目标 [团队|小组 组名|@成员|我] 数额|清除 [单] 今天|本周|本月|本季度 | /目标 post 编号\n"
        "例如：/目标 团队 30万 本月"
    )


async def test_kudos_posts_to_channel_with_cap_and_no_self(chat):
    reply = await chat.say("bob", "/kudos @alice great call")
    posts = chat.channel_posts()
    assert len(posts) == 1 and "alice" in posts[0] and "great call" in posts[0]
    assert reply == "👏 已为 alice 点赞，并发到了团队群！\n💬「great call」\n谢谢你让团队更有温度 ❤️"
    await chat.say("bob", "/kudos @bob me")
    assert await count(chat, Kudos) == 1
    for n in range(4):
        await chat.say("bob", f"/kudos @carol thanks {n}")
    capped = await chat.say("bob", "/kudos @dave one more")
    assert await count(chat, Kudos) == 5 and "5" in capped
    board = await chat.say("erin", "/kudos")
    assert "carol" in board


async def test_member_text_stays_literal_everywhere(chat):
    evil = "<!channel> @所有人 @all {{ 7*7 }} **bold** '; DROP TABLE deals; --"
    await chat.say("alice", f"/deal 100 {evil}")
    await chat.say("bob", f"/kudos @alice {evil}")
    posts = chat.channel_posts()
    shown = [post for post in posts if "DROP TABLE" in post]
    assert len(shown) == 2  # the 喜报 and the kudos post both show the text, literally
    for post in shown:
        assert "<!channel> @所有人 @all {{ 7*7 }} **bold**" in post
    assert all("49" not in post for post in posts)
    assert await count(chat, Deal) == 1
    for _to, message in chat.adapter.sent:
        assert set(message.mentioned_user_ids()) <= {"alice", "bob"}


async def test_rank_shows_top_and_own_place_with_gap(chat):
    await chat.say("alice", "/deal 5000")
    await chat.say("bob", "/deal 3000")
    reply = await chat.say("carol", "/rank")
    assert reply.index("alice") < reply.index("bob")
    groups = await chat.say("carol", "/rank week groups")
    assert groups.index("狼队") < groups.index("虎队")
    per_capita = await chat.say("carol", "/排行 本周 人均")
    assert "狼队" in per_capita
    bad = await chat.say("carol", "/rank yesteryear")
    assert "/排行" in bad


async def test_recap_on_demand(chat):
    await chat.say("alice", "/deal 5000")
    await chat.say("bob", "/kudos @alice 跟进到位")
    reply = await chat.say("carol", "/recap")
    assert "¥5,000" in reply and "跟进到位" in reply
    assert await chat.say("carol", "/复盘 本周")


async def test_leave_today_and_range_and_cancel(chat):
    reply = await chat.say("bob", "/leave today")
    assert "11月23日" in reply
    await chat.say("bob", "/请假 2026-11-25..2026-11-27 年假")
    assert await count(chat, Leave) == 2
    bad = await chat.say("bob", "/leave 2026-13-45")
    assert "/请假" in bad
    reversed_range = await chat.say("bob", "/leave 2026-11-27..2026-11-25")
    assert "/请假" in reversed_range
    await chat.say("bob", "/leave cancel")
    assert await count(chat, Leave, Leave.cancelled.is_(False)) == 0


async def test_checkin_conversation_in_dm(chat):
    first = await chat.say("carol", "/checkin", dm=True)
    assert "1/3" in first
    retry = await chat.say("carol", "拜访了3家客户", dm=True)
    assert "2/3" in retry
    again = await chat.say("carol", "很多", dm=True)  # words for an amount: re-asked with an example
    assert "5万" in again
    await chat.say("carol", "5万", dm=True)
    done = await chat.say("carol", "需要报价支持", dm=True)
    assert "拜访了3家客户" in done
    recap = await chat.say("boss", "/recap")
    assert "¥5万" in recap  # the plan shows in the recap


async def test_checkin_in_one_line_edit_and_skip(chat):
    done = await chat.say("dave", "/checkin 打了50个电话; 3万; 无")
    assert done == (
        "【✅ 打卡完成！】\n"
        "昨天完成了什么？: 打了50个电话\n"
        "今天的目标成交额是多少？: 3万\n"
        "遇到什么困难，需要什么支持？: 无\n"
        "🌱 坚持打卡的第一天，明天继续！\n"
        "想修改回答？发送 /打卡 edit。祝今天开单大吉！🧧"
    )
    reopened = await chat.say("dave", "/checkin edit", dm=True)
    assert "1/3" in reopened
    skipped = await chat.say("erin", "/checkin skip 外出培训")
    assert "外出培训" in skipped


async def test_checkin_in_group_sends_the_question_by_dm(chat):
    reply = await chat.say("carol", "/打卡")
    assert reply == "📬 carol，已私信你今天的打卡问题，请在私聊里回答"
    assert any("1/3" in dm for dm in chat.dms("carol"))


async def test_team_admin_flow(chat):
    denied = await chat.say("bob", "/team group add 豹队")
    assert "团队长" in denied
    await chat.say("boss", "/team group add 豹队 快如闪电")
    await chat.say("boss", "/team group join 豹队 @bob")
    await chat.say("boss", "/team role @bob lead")
    shown = await chat.say("boss", "/team show")
    assert "豹队" in shown and "bob" in shown
    assert chat.last_reply.mentioned_user_ids() == ()
    schedule = await chat.say("boss", "/team schedule morning 08:45")
    assert "08:45" in schedule
    bad_time = await chat.say("boss", "/team schedule morning 25:00")
    assert "/团队" in bad_time
    assert "18:15" in await chat.say("boss", "/team schedule 洞察 18:15")
    assert await team_schedule(chat, "insights") == "18:15"
    assert "关闭" in await chat.say("boss", "/team schedule insights off")
    assert await team_schedule(chat, "insights") is None
    await chat.say("boss", "/team calendar everyday")
    await chat.say("boss", "/team member remove @erin")
    assert await count(chat, Member, Member.user_id == "erin", Member.active.is_(True)) == 0


async def team_schedule(chat, key: str):
    async with chat.app.sessionmaker() as session:
        team = await session.scalar(select(Team).where(Team.slug == "east"))
        return (team.schedule or {}).get(key)


async def test_team_setup_in_a_new_channel(chat):
    reply = await chat.say("zed", "/team setup 华南二部", channel="C-south")
    assert "华南二部" in reply
    await chat.say("zed", "/deal 100", channel="C-south")
    assert len(chat.channel_posts("C-south")) >= 1
    assert chat.channel_posts("C-east") == []


async def test_stranger_in_team_channel_joins_as_member(chat):
    await chat.say("newbie", "/deal 100")
    async with chat.app.sessionmaker() as session:
        member = await session.scalar(select(Member).where(Member.user_id == "newbie"))
    assert member is not None and member.role == "member"


async def test_unknown_command_suggests_the_closest(chat):
    reply = await chat.say("alice", "/dael 100")
    assert "deal" in reply
    assert await count(chat, Deal) == 0


async def test_full_width_and_chinese_names(chat):
    await chat.say("alice", "／成交　１２８００")
    async with chat.app.sessionmaker() as session:
        assert (await session.scalar(select(Deal))).amount_minor == 1_280_000


async def test_help_lists_commands_for_the_role(chat):
    member_help = await chat.say("bob", "/help")
    leader_help = await chat.say("boss", "/帮助")
    assert member_help == (
        "【📖 你可以用的命令（成员）】\n"
        "• /打卡 — 今日打卡：回答今天的问题\n"
        "例：/打卡 拜访3家客户; 目标 5万; 需要报价支持\n"
        "• /签退 — 晚间签退：今天管用的做法、卡点和明天第一个电话\n"
        "例：/签退\n"
        "• /请假 — 请假：请假期间不提醒、不算缺卡、连续打卡不中断\n"
        "例：/请假 2026-11-23..2026-11-25 年假\n"
        "• /目标 — 查看或设定目标（必须有数字和周期）\n"
        "例：/目标 团队 30万 本月\n"
        "• /成交 — 登记成交（喜报）；undo 撤销\n"
        "例：/成交 12800 华为年度采购\n"
        "• /点赞 — 点赞同事，发到团队群；单独 /点赞 查看本月点赞榜\n"
        "例：/点赞 @alice 电话跟进非常到位\n"
        "• /排行 — 排行榜：前10名和你的位置\n"
        "例：/排行 本周 小组\n"
        "• /复盘 — 复盘：今天/本周/本月的业绩总结\n"
        "例：/复盘 本周\n"
        "• /我的 — 我的战绩：本周、本月的成交、打卡和连续打卡\n"
        "例：/我的\n"
        "• /团队 — 团队设置（团队长）\n"
        "例：/团队 schedule morning 08:45\n"
        "• /帮助 — 查看你能用的命令\n"
        "例：/帮助\n"
        "💡 在群里发送「@机器人 命令」即可，开头的 / 可以省略，例如：@机器人 排行 本周"
    )
    assert "团队" in leader_help and len(leader_help) > len(member_help)


async def test_duplicate_event_runs_once(chat):
    from bot.messages import ChannelRef, IncomingMessage, UserRef

    message = IncomingMessage(
        event_id="same",
        user=UserRef("console", "W1", "alice"),
        channel=ChannelRef("console", "W1", "C-east", "group"),
        text="/deal 100",
        addressed_to_bot=True,
        received_at=datetime(2026, 11, 23, 10, tzinfo=SHANGHAI),
    )
    await chat.deliver(message)
    assert await chat.deliver(message) == ""
    assert await count(chat, Deal) == 1


def _says(who: str, text: str, event_id: str) -> IncomingMessage:
    """What `who` typing `text` in the team channel arrives as, with a platform event id of our choosing."""
    return IncomingMessage(
        event_id=event_id,
        user=UserRef("console", "W1", who),
        channel=ChannelRef("console", "W1", "C-east", "group"),
        text=text,
        addressed_to_bot=True,
        received_at=datetime(2026, 11, 23, 10, tzinfo=SHANGHAI),
    )


async def test_a_retry_running_alongside_its_original_changes_nothing_twice(chat):
    message = _says("alice", "/deal 100", "twice")
    replies = await asyncio.gather(chat.app.dispatcher.handle(message), chat.app.dispatcher.handle(message))
    await chat.settle()
    assert sorted(reply is None for reply in replies) == [False, True]  # one answer, one silence
    assert await count(chat, Deal) == 1
    assert len([post for post in chat.channel_posts() if "喜报" in post]) == 1


async def test_a_refused_command_is_answered_once_however_often_it_is_retried(chat):
    message = _says("alice", "/deal abc", "refused")
    assert "/成交" in await chat.deliver(message)
    assert await chat.deliver(message) == ""


async def test_a_slow_command_does_not_hold_up_the_others(chat, monkeypatch):
    """Alice's /rank is stuck in its reads; Bob's /deal is recorded and answered meanwhile (a command
    takes SQLite's one write lock only for its last writes and the commit, not for its reads)."""
    from bot.services import standings

    stuck, release = asyncio.Event(), asyncio.Event()
    board = standings.board

    async def slow_board(*args, **kwargs):
        if not stuck.is_set():  # Alice's board only: Bob's 喜报 builds boards too
            stuck.set()
            await release.wait()
        return await board(*args, **kwargs)

    monkeypatch.setattr(standings, "board", slow_board)
    rank = asyncio.create_task(chat.say("alice", "/rank"))
    await asyncio.wait_for(stuck.wait(), 5)
    reply = await asyncio.wait_for(chat.say("bob", "/deal 3000"), 5)
    assert "¥3,000" in reply
    release.set()
    assert "bob" in await rank


async def test_a_deal_being_announced_does_not_hold_up_commands(chat, monkeypatch):
    """Alice's 喜报 is being worked out (stuck on its week board, after the day's board and first post
    are ready); Bob's /deal is recorded meanwhile: the announcement writes its posts together at the end
    (on SQLite the first write holds the one write lock until the commit)."""
    from bot.services import standings

    await chat.say("alice", "/deal 100")  # the day's first deal and records: written once, before
    await chat.app.dispatcher.handle(_says("alice", "/deal 5000", "alice-deal"))
    stuck, release = asyncio.Event(), asyncio.Event()
    board = standings.board
    calls = 0

    async def slow_second_board(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            stuck.set()
            await release.wait()
        return await board(*args, **kwargs)

    monkeypatch.setattr(standings, "board", slow_second_board)
    announcing = asyncio.create_task(chat.app.jobs.drain())
    await asyncio.wait_for(stuck.wait(), 5)
    bobs = _says("bob", "/deal 3000", "bob-deal")
    reply = await asyncio.wait_for(chat.app.dispatcher.handle(bobs), 5)
    assert reply is not None and await count(chat, Deal) == 3
    release.set()
    await announcing
    await chat.settle()
    announced = [post for post in chat.channel_posts() if "喜报" in post]
    assert len(announced) == 3 and "¥5,000" in announced[1] and "bob" in announced[2]


async def test_same_user_id_in_another_workspace_is_another_person(chat):
    chat.workspace = "W2"
    reply = await chat.say("alice", "/deal 100")
    assert await count(chat, Deal) == 0
    assert reply == (  # told there is no team here
        "🏠 这里还没有绑定团队。请在团队的群里 @我 发送 /团队 setup 团队名称（例如 /团队 setup 华东一部），"
        "那个群就会成为团队主群，发送的人成为团队长。\n"
        "已经有团队了？在团队群里 @我 发任意命令（如 /帮助）即可加入。\n"
        "用法：/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]\n"
        "例如：/成交 12800 华为年度采购"
    )


async def test_overtaking_for_first_place_is_announced_once_per_window(chat):
    await chat.say("alice", "/deal 5000")
    await chat.say("bob", "/deal 8000")  # bob overtakes alice for #1
    changes = [post for post in chat.channel_posts() if "排名变动" in post]
    assert len(changes) == 2  # the people board and the group board (虎队 passed 狼队)
    assert changes[0] == (
        "【📈 排名变动 · 今日个人榜】\n"
        "• @bob 超越 @alice，登顶第 1 名！👑（领先 ¥3,000）\n"
        "当前排名\n"
        "• 🥇 bob ¥8,000\n"
        "• 🥈 alice ¥5,000\n"
        "你追我赶，谁是最后的赢家？冲！🚀"
    )
    await chat.say("alice", "/deal 9000")  # alice back on top within the same 10 minutes: coalesced away
    assert len([post for post in chat.channel_posts() if "排名变动" in post]) == 2
    chat.at(chat.clock.now() + timedelta(minutes=11))
    await chat.say("bob", "/deal 7000")
    assert len([post for post in chat.channel_posts() if "排名变动" in post]) >= 3


async def test_when_the_database_fails_the_member_still_gets_an_apology(chat):
    async with chat.app.engine.begin() as connection:  # the table every message is recorded in
        await connection.exec_driver_sql("DROP TABLE processed_events")
    reply = await chat.say("alice", "/deal 500")
    assert "e1" in reply  # the apology names the event, for the logs
    assert "Traceback" not in reply


async def test_a_leaderboard_with_no_deals_yet_invites_the_first_one(chat):
    shown = await chat.say("bob", "/排行 本月")
    assert "本月还没有成交，下一单就是第一名" in shown
    assert "还没有成员" not in shown and "你的位置" not in shown


async def test_a_check_in_sent_twice_at_once_is_answered_twice_and_stored_once(chat):
    """Both read that there is no check-in today; the second to write meets the first's row, is rolled
    back and runs again, answering as for a check-in already done (not with an internal error)."""
    bob_dm = ChannelRef("console", "W1", "bob", "dm")
    first, second = (
        replace(_says("bob", "/checkin 电话跟进; 1万; 无", f"checkin-{n}"), channel=bob_dm) for n in (1, 2)
    )
    replies = await asyncio.gather(chat.app.dispatcher.handle(first), chat.app.dispatcher.handle(second))
    texts = [render_console(reply) for reply in replies if reply is not None]
    assert len(texts) == 2 and all("出了点问题" not in text for text in texts), texts
    assert any("打卡完成" in text for text in texts), texts
    assert await count(chat, Checkin) == 1

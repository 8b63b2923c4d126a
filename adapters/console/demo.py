"""`teambeat demo`: the sample team lives through N workdays in fast-forward, every message printed."""

from __future__ import annotations

import random
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.console.adapter import ConsoleAdapter
from adapters.console.session import ConsoleSession
from bot.app import build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.domain.calendar import WorkCalendar
from bot.services import directory
from bot.services.posts import run_post

SHANGHAI = ZoneInfo("Asia/Shanghai")
CUSTOMERS = [
    "华为年度采购",
    "美的空调",
    "小米之家",
    "京东自营",
    "拼多多旗舰店",
    "携程企业版",
    "蔚来门店",
    "老客户复购",
]
WORK = ["拜访3家客户", "打了60个电话", "跟进2个大单", "直播3小时", "整理客户名单", "完成报价单"]
BLOCKERS = ["无", "需要价格支持", "需要技术演示", "物流延迟", ""]
KUDOS = ["帮我搞定了难缠的客户", "分享了很实用的话术", "加班支援直播", "主动带新人"]


def _first_workday(calendar: WorkCalendar, day: date) -> date:
    return day if calendar.is_workday(day) else calendar.next_workday(day)


async def run_demo(days: int, start: date | None = None, *, seed: int = 42) -> int:
    sample = Path(__file__).with_name("sample.toml")
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "demo.toml"
        db_url = f"sqlite:///{Path(folder) / 'demo.db'}"
        config_path.write_text(
            f'[database]\nurl = "{db_url}"\n' + sample.read_text("utf-8"), encoding="utf-8"
        )
        config = load_config(config_path, environ={})
        calendar = WorkCalendar("cn")
        day = _first_workday(calendar, start or datetime.now(SHANGHAI).date())
        clock = FixedClock(datetime.combine(day, time(8, 0), SHANGHAI))
        app = await build_app(config, clock)
        team_cfg = config.teams[0]
        adapter = ConsoleAdapter(team_cfg.workspace, team_cfg.channel, "lily", clock)
        session = ConsoleSession(app, adapter, team_cfg.id)
        await session.load_names()
        adapter.names = session.name_of
        rng = random.Random(seed)
        members = [m.id for m in team_cfg.members if m.id != "lily"]
        try:
            for index in range(days):
                await _one_day(session, clock, day, index, members, rng)
                day = calendar.next_workday(day)
        finally:
            await app.close()
    if adapter.pictures is not None:  # the charts outlive the demo's database
        adapter.print(f"\n📊 charts / 图表: {adapter.pictures}")
    return 0


async def _at(session: ConsoleSession, clock: FixedClock, day: date, hh: int, mm: int) -> None:
    clock.set(datetime.combine(day, time(hh, mm), SHANGHAI))


async def _as(session: ConsoleSession, who: str, line: str) -> None:
    session.adapter.speaker = who
    await session.line(line)


async def _post(session: ConsoleSession, kind: str) -> None:
    app = session.app
    async with app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, session.team_slug)
        await run_post(uow, app.renderer, team, kind, app.clock.now())
        await uow.commit()
    await session.worker.drain()


async def _one_day(session, clock, day: date, index: int, members: list[str], rng: random.Random) -> None:
    session.adapter.print(
        f"\n═════════════ {day.isoformat()} {'一二三四五六日'[day.weekday()]} ═════════════"
    )
    await _at(session, clock, day, 8, 50)
    if index == 0:
        await _as(session, "lily", "/目标 团队 100万 本月")
        await _as(session, "alice", "/目标 小组 狼队 10万 本周")
    await _at(session, clock, day, 9, 0)
    for who in members:
        if rng.random() < 0.15:
            continue  # a few forget: the morning post lists them
        amount = rng.choice(["1万", "2万", "3万", "5万", "8000"])
        blocker = rng.choice(BLOCKERS) or "无"
        await _as(session, who, f"/dm /打卡 {rng.choice(WORK)}; {amount}; {blocker}")
    await _at(session, clock, day, 9, 30)
    await _post(session, "morning")
    hour, minute = 10, 0
    for _ in range(rng.randint(6, 9)):
        minute += rng.randint(20, 60)
        hour, minute = hour + minute // 60, minute % 60
        await _at(session, clock, day, min(hour, 17), minute)
        who = rng.choice(members)
        amount = rng.choice([3800, 6800, 12800, 15000, 26000, 58000])
        await _as(session, who, f"/成交 {amount} {rng.choice(CUSTOMERS)}")
        if rng.random() < 0.3:
            giver, receiver = rng.sample(members, 2)
            await _as(session, giver, f"/点赞 @{receiver} {rng.choice(KUDOS)}")
    await _at(session, clock, day, 17, 50)
    await _as(session, rng.choice(members), "/排行 本周 小组 图表")
    await _at(session, clock, day, 18, 0)
    await _post(session, "recap")
    clock.advance(timedelta(hours=1))

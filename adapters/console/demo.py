"""`teambeat demo`: the sample team lives through N workdays in fast-forward, every message printed."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
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
# From the second day on this member goes quiet (no check-ins, no deals): by the fourth day the
# leader's private insight at 18:15 names them; Fridays end with the 周会 and its 标杆.
QUIET = "frank"


@dataclass(frozen=True)
class Script:
    """What the demo's people type, in one language (lists of equal length: the same seed, the same day)."""

    sample: str
    goals: tuple[str, str]
    checkin: str
    amounts: tuple[str, ...]
    deal: str
    deal_amounts: tuple[int, ...]
    kudos: str
    rank: str
    customers: list[str]
    work: list[str]
    blockers: list[str]
    reasons: list[str]
    none: str


SCRIPTS = {
    "zh-CN": Script(
        sample="sample.toml",
        goals=("/目标 团队 100万 本月", "/目标 小组 狼队 10万 本周"),
        checkin="/打卡",
        amounts=("1万", "2万", "3万", "5万", "8000"),
        deal="/成交",
        deal_amounts=(3800, 6800, 12800, 15000, 26000, 58000),
        kudos="/点赞",
        rank="/排行 本周 小组 图表",
        customers=CUSTOMERS,
        work=WORK,
        blockers=BLOCKERS,
        reasons=KUDOS,
        none="无",
    ),
    "en": Script(
        sample="sample.en.toml",
        goals=("/goal team 150000 month", "/goal group Wolves 15000 week"),
        checkin="/checkin",
        amounts=("1500", "3000", "4500", "7500", "1200"),
        deal="/deal",
        deal_amounts=(550, 990, 1850, 2200, 3800, 8500),
        kudos="/kudos",
        rank="/rank week groups chart",
        customers=[
            "Acme annual plan",
            "Globex renewal",
            "Initech upgrade",
            "Umbrella pilot",
            "Stark Industries",
            "Wayne Enterprises",
            "Hooli seats",
            "repeat customer",
        ],
        work=[
            "visited 3 clients",
            "made 60 calls",
            "followed up 2 big deals",
            "ran a webinar",
            "cleaned the lead list",
            "sent 4 quotes",
        ],
        blockers=["none", "need a pricing exception", "need a tech demo", "shipping delay", ""],
        reasons=[
            "saved a tough account",
            "shared a great pitch",
            "covered the late webinar",
            "coached the new hire",
        ],
        none="none",
    ),
}


def _first_workday(calendar: WorkCalendar, day: date) -> date:
    return day if calendar.is_workday(day) else calendar.next_workday(day)


async def run_demo(days: int, start: date | None = None, *, seed: int = 42, locale: str = "zh-CN") -> int:
    script = SCRIPTS[locale]
    sample = Path(__file__).with_name(script.sample)
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "demo.toml"
        db_url = f"sqlite:///{Path(folder) / 'demo.db'}"
        config_path.write_text(
            f'[database]\nurl = "{db_url}"\n' + sample.read_text("utf-8"), encoding="utf-8"
        )
        config = load_config(config_path, environ={})
        team_cfg = config.teams[0]
        calendar = WorkCalendar(team_cfg.calendar)
        day = _first_workday(calendar, start or datetime.now(SHANGHAI).date())
        clock = FixedClock(datetime.combine(day, time(8, 0), SHANGHAI))
        app = await build_app(config, clock)
        adapter = ConsoleAdapter(team_cfg.workspace, team_cfg.channel, "lily", clock)
        session = ConsoleSession(app, adapter, team_cfg.id)
        await session.load_names()
        adapter.names = session.name_of
        rng = random.Random(seed)
        members = [m.id for m in team_cfg.members if m.id != "lily"]
        try:
            for index in range(days):
                await _one_day(session, clock, day, index, members, rng, script)
                day = calendar.next_workday(day)
        finally:
            await app.close()
    if adapter.pictures is not None:  # the charts outlive the demo's database
        adapter.print(f"\n📊 {'charts' if team_cfg.locale == 'en' else '图表'}: {adapter.pictures}")
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


async def _one_day(
    session, clock, day: date, index: int, members: list[str], rng: random.Random, script: Script
) -> None:
    weekday = "一二三四五六日"[day.weekday()] if script.none == "无" else day.strftime("%a")
    session.adapter.print(f"\n═════════════ {day.isoformat()} {weekday} ═════════════")
    await _at(session, clock, day, 8, 50)
    if index == 0:
        await _as(session, "lily", script.goals[0])
        await _as(session, "alice", script.goals[1])
    await _at(session, clock, day, 9, 0)
    if index >= 1:
        members = [m for m in members if m != QUIET]
    for who in members:
        if rng.random() < 0.15:
            continue  # a few forget: the morning post lists them
        amount = rng.choice(script.amounts)
        blocker = rng.choice(script.blockers) or script.none
        await _as(session, who, f"/dm {script.checkin} {rng.choice(script.work)}; {amount}; {blocker}")
    await _at(session, clock, day, 9, 30)
    await _post(session, "morning")
    hour, minute = 10, 0
    for _ in range(rng.randint(6, 9)):
        minute += rng.randint(20, 60)
        hour, minute = hour + minute // 60, minute % 60
        await _at(session, clock, day, min(hour, 17), minute)
        who = rng.choice(members)
        amount = rng.choice(script.deal_amounts)
        await _as(session, who, f"{script.deal} {amount} {rng.choice(script.customers)}")
        if rng.random() < 0.3:
            giver, receiver = rng.sample(members, 2)
            await _as(session, giver, f"{script.kudos} @{receiver} {rng.choice(script.reasons)}")
    await _at(session, clock, day, 17, 50)
    await _as(session, rng.choice(members), script.rank)
    await _at(session, clock, day, 18, 0)
    await _post(session, "recap")
    await _at(session, clock, day, 18, 15)
    await _post(session, "insights")  # a DM to the leader, and only when there is something to say
    if day.weekday() == 4:
        await _at(session, clock, day, 18, 30)
        await _post(session, "weekly")
    clock.advance(timedelta(hours=1))

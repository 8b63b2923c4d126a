"""The job function against the calendar and the clock: holidays, make-up workdays, years without
holiday data, and a team in New York across its daylight-saving switches."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

from sqlalchemy import select

from bot.services import directory
from bot.services.schedule import Slot
from bot.storage.orm import ScheduledPost
from scheduling.jobs import run_slot
from tests.integration.conftest import SHANGHAI

MORNING = Slot("morning", time(9, 30))


async def set_team(chat, **fields) -> int:
    async with chat.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        for name, value in fields.items():
            setattr(team, name, value)
        await uow.commit()
        return team.id


async def morning_at(chat, team_id: int, when: datetime) -> str:
    chat.at(when)
    outcome = await run_slot(chat.app.uow_factory, chat.app.renderer, team_id, MORNING, chat.clock.now())
    await chat.settle()
    return outcome


async def posted_days(chat) -> list[str]:
    async with chat.app.sessionmaker() as session:
        rows = await session.scalars(
            select(ScheduledPost.period_key).where(ScheduledPost.kind == "morning").order_by(ScheduledPost.id)
        )
        return list(rows)


async def test_cn_calendar_skips_national_day_and_posts_on_the_make_up_saturday(chat):
    team_id = await set_team(chat)
    local = lambda d: datetime.combine(d, time(9, 30), SHANGHAI)  # noqa: E731
    assert await morning_at(chat, team_id, local(date(2026, 10, 1))) == "skipped: not a workday"
    assert await morning_at(chat, team_id, local(date(2026, 10, 10))) == "posted"  # Saturday 调休
    assert await morning_at(chat, team_id, local(date(2026, 10, 17))) == "skipped: not a workday"
    assert await morning_at(chat, team_id, local(date(2026, 10, 9))) == "posted"
    assert await posted_days(chat) == ["2026-10-10", "2026-10-09"]
    assert len(chat.channel_posts()) == 2


async def test_a_year_beyond_the_holiday_data_falls_back_to_weekdays_with_a_warning(chat, caplog):
    team_id = await set_team(chat)
    caplog.set_level(logging.WARNING)
    local = lambda d: datetime.combine(d, time(9, 30), SHANGHAI)  # noqa: E731
    # 2027-02-08 is a Monday; were the data there, Spring Festival would make the week a holiday.
    assert await morning_at(chat, team_id, local(date(2027, 2, 8))) == "posted"
    assert await morning_at(chat, team_id, local(date(2027, 2, 13))) == "skipped: not a workday"  # Saturday
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no Chinese holiday data for 2027" in w for w in warnings), warnings


async def test_new_york_fires_at_half_past_nine_local_across_daylight_saving(chat):
    team_id = await set_team(chat, timezone="America/New_York", calendar="weekdays")
    # Friday before spring-forward: 09:30 EST is 14:30Z.
    assert await morning_at(chat, team_id, datetime(2026, 3, 6, 14, 30, tzinfo=UTC)) == "posted"
    # Monday after: 13:29Z is 09:29 EDT — the last 09:30 was a day ago, nothing is due yet.
    assert await morning_at(chat, team_id, datetime(2026, 3, 9, 13, 29, tzinfo=UTC)) == "skipped: missed"
    assert await morning_at(chat, team_id, datetime(2026, 3, 9, 13, 30, tzinfo=UTC)) == "posted"
    # Autumn: on Monday 2026-11-02, 13:30Z is only 08:30 EST; 14:30Z is 09:30.
    assert await morning_at(chat, team_id, datetime(2026, 11, 2, 13, 30, tzinfo=UTC)) == "skipped: missed"
    assert await morning_at(chat, team_id, datetime(2026, 11, 2, 14, 30, tzinfo=UTC)) == "posted"
    assert await posted_days(chat) == ["2026-03-06", "2026-03-09", "2026-11-02"]

"""The console shows a message's buttons as numbered choices; `/1`, `/2` … clicks one, as the speaker,
where it was shown — so the check-in prompt's buttons can be tried without any chat account."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from adapters.console.adapter import ConsoleAdapter
from adapters.console.session import ConsoleSession
from bot.app import build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.services import directory
from bot.services.posts import run_post
from bot.storage.orm import Checkin, Member
from tests.support.chat import write_config

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    ("locale", "fill", "skip", "skipped"),
    [
        ("en", "[/1] 📝 Fill in the form", "[/2] ⏭ Skip today", "skipped"),
        ("zh-CN", "[/1] 📝 填写表单", "[/2] ⏭ 今天跳过", "跳过"),
    ],
)
async def test_prompt_buttons_are_numbered_choices(
    engine, database_url, tmp_path, locale, fill, skip, skipped
):
    url, pg_schema = database_url
    clock = FixedClock(MONDAY_9)
    app = await build_app(
        load_config(write_config(tmp_path, url, locale=locale), environ={}),
        clock,
        migrate=False,
        pg_schema=pg_schema,
    )
    out = io.StringIO()
    adapter = ConsoleAdapter("W1", "C-east", "alice", clock, out=out)
    session = ConsoleSession(app, adapter, "east", echo=False)
    try:
        async with app.uow_factory() as uow:
            team = await directory.team_by_slug(uow.session, "east")
            await run_post(uow, app.renderer, team, "checkin", clock.now())
            await uow.commit()
        await session.worker.drain()
        printed = out.getvalue()
        assert fill in printed and skip in printed  # the prompt's buttons, numbered

        # Each member clicks their own DM's buttons, as themselves.
        adapter.speaker = "bob"
        await session.line("/2")
        assert await status_of(app, "bob") == "skipped"
        assert await status_of(app, "alice") == "open"

        adapter.speaker = "alice"
        out.seek(0)
        out.truncate(0)
        await session.line("/2")  # Alice picks "skip today": her check-in, skipped
        assert skipped in out.getvalue()
        assert await status_of(app, "alice") == "skipped"

        await session.line("/9")  # no ninth choice: nothing clicked
        assert await status_of(app, "alice") == "skipped"
    finally:
        await app.close()


async def status_of(app, user_id: str) -> str | None:
    async with app.sessionmaker() as session:
        return await session.scalar(
            select(Checkin.status)
            .join(Member, Member.id == Checkin.member_id)
            .where(Member.user_id == user_id)
        )

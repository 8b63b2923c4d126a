"""Check-in streaks: the stored, team-wide streaks the recap and summaries read agree with the rule.

The rule, counted here independently from the check-ins and leave in the database: consecutive workdays
with a done check-in; holidays and leave neither count nor break; a missed workday resets; today still
open breaks nothing. Two paths are checked against it on random data: history loaded in bulk (streaks
counted from history on first read), and a month of members checking in through chat (streaks moved
forward as check-ins complete), with leave filed for past days and cancelled, and check-ins edited or
skipped after completing.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select

from bot.domain.calendar import WorkCalendar
from bot.services import checkins
from bot.storage.orm import Checkin, Leave, Member, Streak, Team
from tests.integration.conftest import SHANGHAI

START = date(2026, 8, 3)
TODAY = date(2026, 10, 20)  # spans National Day (10-01..10-08) and its make-up Saturday 10-10
CHAT_FROM = date(2026, 9, 21)  # from here on, check-ins arrive through chat
CALENDAR = WorkCalendar("cn")
# How reliably each member checks in: from never missing to often missing.
RELIABILITY = {"alice": 1.0, "bob": 0.99, "carol": 0.95, "dave": 0.85, "erin": 0.6, "boss": 0.3}


async def expected(session, team_id: int, today: date) -> dict[int, int]:
    """The rule itself, walked back day by day over what the database holds."""
    done: dict[int, set[date]] = {}
    for member_id, day in await session.execute(
        select(Checkin.member_id, Checkin.day).where(Checkin.team_id == team_id, Checkin.status == "done")
    ):
        done.setdefault(member_id, set()).add(day)
    away: dict[int, list[tuple[date, date]]] = {}
    for member_id, start, end in await session.execute(
        select(Leave.member_id, Leave.start_day, Leave.end_day).where(Leave.cancelled.is_(False))
    ):
        away.setdefault(member_id, []).append((start, end))
    out = {}
    for member_id in await session.scalars(select(Member.id).where(Member.team_id == team_id)):
        mine, leave = done.get(member_id, set()), away.get(member_id, [])
        day = today if today in mine else today - timedelta(days=1)
        count = 0
        while day > START - timedelta(days=30):
            if day in mine:
                count += 1
            elif CALENDAR.is_workday(day) and not any(s <= day <= e for s, e in leave):
                break
            day -= timedelta(days=1)
        out[member_id] = count
    return out


async def team_and_members(session) -> tuple[Team, list[Member]]:
    team = await session.scalar(select(Team).where(Team.slug == "east"))
    members = list(await session.scalars(select(Member).where(Member.team_id == team.id)))
    return team, members


def checks_in(rng: random.Random, who: str, day: date) -> bool:
    p = RELIABILITY[who] if CALENDAR.is_workday(day) else 0.1
    return rng.random() < p


async def test_streaks_counted_from_bulk_history_follow_the_rule(chat):
    rng = random.Random(7)
    stamp = datetime(2026, 8, 1, tzinfo=UTC)
    async with chat.app.uow_factory() as uow:
        session = uow.session
        team, members = await team_and_members(session)
        day = START
        while day <= TODAY:
            for member in members:
                if checks_in(rng, member.user_id, day):
                    # alice never misses: her streak outlasts several windows of history walked back
                    steady = RELIABILITY[member.user_id] == 1.0
                    status = "done" if steady or rng.random() < 0.97 else "skipped"
                    session.add(
                        Checkin(
                            team_id=team.id, member_id=member.id, day=day, status=status, started_at=stamp
                        )
                    )
            day += timedelta(days=1)
        for member in members[3:]:
            first = START + timedelta(days=rng.randrange(60))
            session.add(
                Leave(
                    member_id=member.id, start_day=first, end_day=first + timedelta(days=4), created_at=stamp
                )
            )
        await uow.commit()

    # The first read counts from history and stores; the next carries those rows forward over the
    # check-ins since; the rest read earlier days back from rows stored for later ones.
    days = [date(2026, 10, 4), TODAY, date(2026, 10, 10), date(2026, 9, 1), TODAY - timedelta(days=1)]
    async with chat.app.sessionmaker() as session:
        for today in days:
            want = await expected(session, team.id, today)
            assert await checkins.team_streaks(session, team.id, members, today, CALENDAR) == want, today
            assert {m.id: await checkins.streak(session, m, today, CALENDAR) for m in members} == want
        assert len(list(await session.scalars(select(Streak)))) == len(members)  # counted once, kept
        want = await expected(session, team.id, TODAY)
        assert max(want.values()) > 14  # longer than the first window of history walked back
        leaders = await checkins.streak_leaders(session, team.id, members, TODAY, CALENDAR, limit=2)
        assert [days for _, days in leaders] == sorted(want.values(), reverse=True)[:2]


@pytest.mark.slow
async def test_streaks_kept_through_chat_check_ins_follow_the_rule(chat):
    """A month of chat check-ins on top of bulk history; the recap's read is checked every day."""
    rng = random.Random(11)
    stamp = datetime(2026, 8, 1, tzinfo=UTC)
    async with chat.app.uow_factory() as uow:
        team, members = await team_and_members(uow.session)
        day = START
        while day < CHAT_FROM:
            for member in members:
                if checks_in(rng, member.user_id, day):
                    uow.session.add(
                        Checkin(
                            team_id=team.id, member_id=member.id, day=day, status="done", started_at=stamp
                        )
                    )
            day += timedelta(days=1)
        await uow.commit()

    def iso(day: date) -> str:
        return day.isoformat()

    day = CHAT_FROM
    while day <= TODAY:
        chat.at(datetime.combine(day, time(9, 0), SHANGHAI))
        for who in RELIABILITY:
            if day == date(2026, 9, 28) and who == "dave":
                continue  # dave misses Monday, checks in Tuesday, then files leave from Monday on
            if checks_in(rng, who, day):
                assert "打卡完成" in await chat.say(who, "/checkin 跟进; 1万; 无", dm=True)
        if day == date(2026, 9, 29):
            await chat.say("dave", f"/leave {iso(day - timedelta(days=1))}..{iso(day + timedelta(days=1))}")
        if day == date(2026, 10, 12):  # erin's leave starts on a day she missed, and is called off later
            await chat.say("erin", f"/leave {iso(day - timedelta(days=3))}..{iso(day + timedelta(days=5))}")
        if day == date(2026, 10, 14):
            await chat.say("erin", "/leave cancel")
        if day == date(2026, 10, 15):
            await chat.say("alice", "/checkin 跟进; 1万; 无", dm=True)
            await chat.say("alice", "/checkin edit", dm=True)  # done, then reopened: not done today
        if day == date(2026, 10, 16):
            await chat.say("bob", "/checkin 跟进; 1万; 无", dm=True)
            await chat.say("bob", "/checkin skip", dm=True)
        async with chat.app.uow_factory() as uow:  # as the evening recap reads and commits
            want = await expected(uow.session, team.id, day)
            got = await checkins.team_streaks(uow.session, team.id, members, day, CALENDAR)
            assert got == want, day
            await uow.commit()
        day += timedelta(days=1)

    async with chat.app.sessionmaker() as session:
        # Every check-in moved its member's stored streak onto its day.
        stored = {row.member_id: row for row in await session.scalars(select(Streak))}
        done_today = set(
            await session.scalars(
                select(Checkin.member_id).where(Checkin.day == TODAY, Checkin.status == "done")
            )
        )
        want = await expected(session, team.id, TODAY)
        for member_id in done_today:
            assert (stored[member_id].last_day, stored[member_id].length) == (TODAY, want[member_id])
        # Earlier days read back from the stored streaks (or counted again where they cannot say).
        for past in (TODAY - timedelta(days=1), date(2026, 10, 9), date(2026, 9, 30)):
            want = await expected(session, team.id, past)
            assert await checkins.team_streaks(session, team.id, members, past, CALENDAR) == want, past
        # Today's read is two queries (the stored streaks, then leave), however long the history.
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        engine = chat.app.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            got = await checkins.team_streaks(session, team.id, members, TODAY, CALENDAR)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert got == await expected(session, team.id, TODAY)
        assert len(statements) == 2, statements

"""The leader's private insights: the data `bot.domain.insights` judges, loaded for a team and a day,
and the DM to each leader (never the channel). A quiet day sends nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import enqueue
from bot.domain import insights as judge
from bot.domain.periods import day_bounds, local_day
from bot.rendering.engine import Renderer
from bot.services import checkins, competitions, directory
from bot.services.scope import TeamScope
from bot.storage.orm import Checkin, CheckinAnswer, Deal, Leave, Member, Team
from bot.storage.uow import UnitOfWork

WINDOW = judge.WEEK_DAYS + judge.LEVEL_DAYS


def calls_key(team: Team) -> str | None:
    """The check-in question whose numbers are planned calls: one keyed `calls`, else the first number."""
    numbers = [q for q in checkins.questions_for(team) if q.kind == "number"]
    chosen = [q for q in numbers if q.key == "calls"] or numbers
    return chosen[0].key if chosen else None


def window(scope: TeamScope, size: int = WINDOW) -> list[date]:
    """The latest `size` workdays up to today, ascending."""
    days: list[date] = []
    day = scope.today
    if not scope.calendar.is_workday(day):
        day = scope.calendar.previous_workday(day)
    while len(days) < size:
        days.append(day)
        day = scope.calendar.previous_workday(day)
    return days[::-1]


async def planned(
    session: AsyncSession, team: Team, start: date, end: date
) -> dict[tuple[int, date], tuple[str, int | None, int | None]]:
    """(member, day) -> (check-in status, planned calls, planned amount) for the days' check-ins."""
    rows = list(
        await session.execute(
            select(Checkin.id, Checkin.member_id, Checkin.day, Checkin.status).where(
                Checkin.team_id == team.id, Checkin.day >= start, Checkin.day <= end
            )
        )
    )
    by_id = {cid: (member_id, day) for cid, member_id, day, _ in rows}
    status = {(member_id, day): s for _, member_id, day, s in rows}
    calls: dict[int, int] = {}
    amounts: dict[int, int] = {}
    key = calls_key(team)
    if by_id:
        answers = await session.execute(
            select(
                CheckinAnswer.checkin_id,
                CheckinAnswer.question_key,
                CheckinAnswer.number,
                CheckinAnswer.amount_minor,
            ).where(CheckinAnswer.checkin_id.in_(sorted(by_id)))
        )
        for cid, qkey, number, amount in answers:
            if amount is not None:
                amounts[cid] = amounts.get(cid, 0) + int(amount)
            if key is not None and qkey == key and number is not None:
                calls[cid] = int(Decimal(number))
    return {by_id[cid]: (status[by_id[cid]], calls.get(cid), amounts.get(cid)) for cid in by_id}


async def deals_by_day(
    session: AsyncSession, team: Team, start: date, end: date
) -> dict[tuple[int, date], tuple[int, int]]:
    """(member, local day) -> (deals, amount) of the live deals closed in the days."""
    first, after = day_bounds(start, end, team.timezone)
    rows = await session.execute(
        select(Deal.member_id, Deal.closed_at, Deal.amount_minor).where(
            Deal.team_id == team.id,
            Deal.closed_at >= first,
            Deal.closed_at < after,
            Deal.voided_at.is_(None),
        )
    )
    out: dict[tuple[int, date], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for member_id, closed_at, amount in rows:
        key = (member_id, local_day(closed_at, team.timezone))
        count, total = out[key]
        out[key] = (count + 1, total + int(amount))
    return dict(out)


async def member_data(
    session: AsyncSession, scope: TeamScope, members: list[Member], days: list[date]
) -> list[judge.MemberData]:
    team = scope.team
    start, end = days[0], days[-1]
    ids = [m.id for m in members]
    leaves = await session.execute(
        select(Leave.member_id, Leave.start_day, Leave.end_day).where(
            Leave.member_id.in_(ids),
            Leave.cancelled.is_(False),
            Leave.start_day <= end,
            Leave.end_day >= start,
        )
    )
    away: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for member_id, first, last in leaves:
        away[member_id].append((first, last))
    plans = await planned(session, team, start, end)
    sold = await deals_by_day(session, team, start, end)
    streaks = await checkins.team_streaks(session, team.id, members, scope.today, scope.calendar)
    first_done: dict[int, date] = {}
    for (member_id, day), (status, _, _) in plans.items():
        if status == "done" and day < first_done.get(member_id, day + timedelta(days=1)):
            first_done[member_id] = day
    out = []
    for m in members:
        joined = local_day(m.joined_at, team.timezone)
        since = min(joined, first_done.get(m.id, joined))  # history imported before they joined counts
        rows = []
        for day in days:
            status, calls, amount = plans.get((m.id, day), ("", None, None))
            deals, deal_minor = sold.get((m.id, day), (0, 0))
            on_leave = any(a <= day <= b for a, b in away.get(m.id, ()))
            rows.append(
                judge.Day(
                    day=day,
                    expected=day >= since and not on_leave,
                    checked_in=status == "done",
                    calls=calls if status == "done" else None,
                    amount_minor=amount if status == "done" else None,
                    deals=deals,
                    deal_minor=deal_minor,
                )
            )
        out.append(judge.MemberData(m.id, m.user_id, m.name, m.group_id, tuple(rows), streaks.get(m.id, 0)))
    return out


async def pk_groups(session: AsyncSession, scope: TeamScope) -> list[judge.PkGroup]:
    """Each group of each running 小组PK with its score and the leading group's, as /rank pk shows them."""
    out = []
    for competition in await competitions.active_of(session, scope.team):
        if not competition.start_day < scope.today <= competition.end_day:
            continue  # on its first day no one is behind yet
        board = await competitions.board_of(session, scope.team, competition)
        rows = board.rows()
        if not rows:
            continue
        top = rows[0]
        for row in rows[1:]:
            out.append(
                judge.PkGroup(
                    competition=competition.name,
                    group_id=int(row.standing.key.split(":")[1]),
                    name=row.standing.name,
                    score=int(row.value),
                    leader_name=top.standing.name,
                    leader_score=int(top.value),
                )
            )
    return out


async def find(session: AsyncSession, scope: TeamScope, group_id: int | None = None) -> list[judge.Insight]:
    """Today's insights about the team (or one group); leaders are the readers, not the subjects."""
    members = [
        m
        for m in await directory.active_members(session, scope.team)
        if m.role != "leader" and (group_id is None or m.group_id == group_id)
    ]
    data = await member_data(session, scope, members, window(scope)) if members else []
    pk = [g for g in await pk_groups(session, scope) if group_id is None or g.group_id == group_id]
    return judge.insights(data, pk)


def views(scope: TeamScope, found: list[judge.Insight], metrics: dict[str, str]) -> list[dict[str, Any]]:
    """What the template shows of each insight, amounts formatted in the team's currency."""
    out = []
    for item in found:
        numbers = dict(item.numbers)
        if item.kind == "amount_down":
            numbers["week_avg"] = scope.money(int(numbers["week_avg"]))
            numbers["level_avg"] = scope.money(int(numbers["level_avg"]))
        if item.kind == "pk_behind" and metrics.get(str(numbers["competition"]), "amount") != "deals":
            numbers["score"] = scope.money(int(numbers["score"]))
            numbers["leader_score"] = scope.money(int(numbers["leader_score"]))
        out.append(
            {
                "kind": item.kind,
                "member": {"user_id": item.user_id, "name": item.name},
                "numbers": numbers,
                "suggestion": item.suggestion,
                "partner": item.partner or None,
            }
        )
    return out


async def insights_context(
    session: AsyncSession, scope: TeamScope, group_id: int | None = None, group_name: str | None = None
) -> dict[str, Any]:
    found = await find(session, scope, group_id)
    metrics = {c.name: c.metric for c in await competitions.active_of(session, scope.team)}
    return {
        "date": scope.today.isoformat(),
        "group": group_name,
        "items": views(scope, found, metrics),
    }


async def send_insights(
    uow: UnitOfWork, renderer: Renderer, scope: TeamScope, stamp: datetime, *, suffix: str = ""
) -> int:
    """A DM to each leader when there is something to say; on a quiet day, nothing at all."""
    session = uow.session
    context = await insights_context(session, scope)
    if not context["items"]:
        return 0
    leaders = [m for m in await directory.active_members(session, scope.team) if m.role == "leader"]
    message = renderer.render("insights", scope.locale, **context)
    sent = 0
    for leader in leaders:
        sent += int(
            await enqueue(
                session,
                channel=directory.dm_channel(scope.team, leader),
                message=message,
                dedupe_key=f"insights:{scope.team.slug}:{scope.today.isoformat()}:{leader.id}{suffix}",
                now=stamp,
                team_id=scope.team.id,
            )
        )
    return sent

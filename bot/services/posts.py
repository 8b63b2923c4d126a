"""Scheduled posts — check-in prompts and reminders, 早会, 夕会, 周会/月会 summaries: built, recorded once
per team, kind and period, enqueued in the outbox in the same transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import enqueue
from bot.rendering.engine import Renderer
from bot.services import charts, insights, prompts, standings, summaries
from bot.services.directory import team_channel
from bot.services.recap import participation, recap_context
from bot.services.schedule import OPTIONAL_DEFAULT, local_fire, parse_clock, reminder_count, slot_for
from bot.services.scope import TeamScope, person
from bot.services.views import goal_view, group_views
from bot.storage.orm import Checkin, CheckinAnswer, ScheduledPost, Team
from bot.storage.uow import UnitOfWork, UnitOfWorkFactory

Outcome = Literal["posted", "skipped: not a workday", "skipped: already posted"]


async def morning_context(uow: UnitOfWork, renderer: Renderer, scope: TeamScope) -> dict[str, Any]:
    session = uow.session
    today = scope.today
    roster = await standings.roster(session, scope.team)
    month_board = await standings.board(session, scope, scope.so_far(scope.period("month")), roster)
    goals = []
    for goal in await standings.goals_covering(session, scope):
        if goal.subject != "team" and not goal.subject.startswith("group:"):
            continue
        board = month_board
        if (goal.period, goal.period_start) != ("month", month_board.period.start):
            board = await standings.board(
                session, scope, scope.so_far(scope.period(goal.period, goal.period_start)), roster
            )
        goals.append(goal_view(renderer, scope, goal, board))
    yesterday = scope.calendar.previous_workday(today)
    prev = await standings.board(session, scope, scope.period("today", yesterday), roster)
    champion_person = champion_group = None
    if prev.team_amount:
        top_person = prev.people("amount")[0]
        member = prev.member_by_key(top_person.standing.key)
        champion_person = {"member": person(member), "amount": scope.money(top_person.standing.amount_minor)}
        groups = prev.group_rows("amount")
        if groups and groups[0].standing.amount_minor:
            champion_group = {
                "name": groups[0].standing.name,
                "amount": scope.money(groups[0].standing.amount_minor),
            }
    # Today's check-ins first, then their answers by id: joined in one query, PostgreSQL hashes the
    # answers of every check-in ever made.
    whose = dict(
        (
            await session.execute(
                select(Checkin.id, Checkin.member_id).where(
                    Checkin.team_id == scope.team.id, Checkin.day == today
                )
            )
        ).all()
    )
    rows = []
    if whose:
        answers = await session.execute(
            select(CheckinAnswer.checkin_id, CheckinAnswer.amount_minor)
            .where(CheckinAnswer.checkin_id.in_(sorted(whose)), CheckinAnswer.amount_minor.is_not(None))
            .order_by(CheckinAnswer.amount_minor.desc())
        )
        rows = [(whose[checkin_id], amount) for checkin_id, amount in answers]
    by_id = {m.id: m for m in month_board.members}
    commitments, committed = [], 0
    for member_id, amount in rows:
        if member_id in by_id:
            commitments.append({"member": person(by_id[member_id]), "text": scope.money(int(amount))})
            committed += int(amount)
    part = await participation(session, scope, month_board.members, today)
    week = await standings.board(session, scope, scope.so_far(scope.period("week")), roster)
    group_rows = group_views(scope, week)
    date_label = renderer.render(
        "period_label", scope.locale, period="today", start=today.isoformat(), end=today.isoformat()
    ).fallback_text
    return {
        "date_label": date_label,
        "goals": goals,
        "champion_person": champion_person,
        "champion_group": champion_group,
        "yesterday_total": scope.money(prev.team_amount) if prev.team_amount else None,
        "commitments": commitments,
        "commitments_total": scope.money(committed) if commitments else None,
        "not_checked_in": [person(m) for m in part["missing"]],
        "on_leave": [person(m) for m in part["on_leave"]],
        "groups": group_rows,
    }


def period_key(kind: str, day: date, number: int = 1) -> str:
    """The period a post of `kind` on `day` stands for: its once-only key."""
    if kind in ("weekly", "monthly"):
        return summaries.period_key(kind, day)
    if kind == "reminder":
        return f"{day.isoformat()}#{number}"
    if kind in ("checkin", "morning", "recap", "insights"):
        return day.isoformat()
    raise ValueError(f"unknown post kind {kind!r}")


async def already_posted(session: AsyncSession, team: Team, kind: str, key: str) -> bool:
    found = await session.scalar(
        select(ScheduledPost.id).where(
            ScheduledPost.team_id == team.id, ScheduledPost.kind == kind, ScheduledPost.period_key == key
        )
    )
    return found is not None


async def run_post(
    uow: UnitOfWork,
    renderer: Renderer,
    team: Team,
    kind: str,
    now: datetime,
    *,
    force: bool = False,
    number: int = 1,
    stamp: datetime | None = None,
) -> Outcome:
    """Build and enqueue one scheduled post, at most once per team, kind and period unless forced.

    `now` is the instant the post is for (its scheduled time, or the actual time): it decides the day,
    hence the workday check and the period. `stamp` (default `now`) is the wall-clock time the rows are
    written at, so a post run late or for another date is still due for delivery at once. `number` is
    the reminder's position among the day's reminders.

    The ScheduledPost row, unique on (team, kind, period), is what makes a second run — after a
    restart, on another replica — a no-op; the caller's commit is the point of no return.
    """
    scope = TeamScope.of(team, now)
    day = scope.today
    stamp = stamp or now
    if not scope.calendar.is_workday(day) and not force:
        return "skipped: not a workday"
    key = period_key(kind, day, number)
    existing = await already_posted(uow.session, team, kind, key)
    if existing and not force:
        return "skipped: already posted"
    # A chart takes a few hundred ms to draw: drawn before the first write, which on SQLite holds the
    # write lock until the commit.
    chart = None
    if charts.images_on(team) and kind == "recap":
        chart = await charts.recap_picture(uow.session, scope)
    elif charts.images_on(team) and kind in summaries.SUMMARY_PERIODS:
        chart = await charts.summary_picture(uow.session, scope, kind)
    if not existing:
        uow.session.add(ScheduledPost(team_id=team.id, kind=kind, period_key=key, created_at=stamp))
        try:
            await uow.session.flush()
        except IntegrityError:
            await uow.rollback()
            return "skipped: already posted"
    suffix = f":{stamp.isoformat()}" if force else ""
    if kind == "checkin":
        await prompts.send_prompts(uow, renderer, scope, stamp, suffix=suffix)
        return "posted"
    if kind == "reminder":
        allowed = reminder_count(team.schedule)
        await prompts.send_reminders(
            uow, renderer, scope, stamp, number=number, allowed=allowed, suffix=suffix
        )
        return "posted"
    if kind == "insights":  # a DM to each leader, and on a quiet day nothing at all
        await insights.send_insights(uow, renderer, scope, stamp, suffix=suffix)
        return "posted"
    if kind == "morning":
        message = renderer.render("morning", team.locale, **await morning_context(uow, renderer, scope))
    elif kind == "recap":
        context = await recap_context(uow.session, renderer, scope, scope.period("today"))
        message = renderer.render("recap", team.locale, **context)
    else:
        context = await summaries.summary_context(uow.session, renderer, scope, kind)
        message = renderer.render("summary", team.locale, **context)
    if chart is not None:
        message = charts.with_picture(message, chart)
    await enqueue(
        uow.session,
        channel=team_channel(team),
        message=message,
        dedupe_key=f"{kind}:{team.slug}:{key}{suffix}",
        now=stamp,
        team_id=team.id,
    )
    return "posted"


async def post_once(
    uow_factory: UnitOfWorkFactory,
    renderer: Renderer,
    team_id: int,
    kind: str,
    at: datetime,
    *,
    force: bool = False,
    number: int = 1,
    now: datetime | None = None,
) -> Outcome:
    """One scheduled post in its own transaction: what `teambeat post` and the scheduler's jobs run.

    `at` is the instant the post is for (its scheduled time); `now` the wall clock (default `at`).

    Losing a race to another replica surfaces at commit as a unique violation, and is reported as
    what it is: the post was already made.
    """
    async with uow_factory() as uow:
        team = await uow.session.get(Team, team_id)
        if team is None:
            raise LookupError(f"no team with id {team_id}")
        outcome = await run_post(uow, renderer, team, kind, at, force=force, number=number, stamp=now)
        if outcome != "posted":
            return outcome
        try:
            await uow.commit()
        except IntegrityError:
            return "skipped: already posted"
    return outcome


def fire_time(team: Team, kind: str, day: date) -> datetime:
    """When `kind` is scheduled on `day` in the team's timezone (for `teambeat post --date`)."""
    try:
        at = slot_for(team.schedule, kind).at
    except KeyError:
        if kind not in OPTIONAL_DEFAULT:
            raise
        at = parse_clock(OPTIONAL_DEFAULT[kind])  # off in the schedule, yet asked for by hand
    return local_fire(day, at, team.timezone)

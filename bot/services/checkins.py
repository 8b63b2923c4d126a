"""Check-ins: the day's questions, typed answers, completion and streaks."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.domain.calendar import WorkCalendar
from bot.domain.events import CheckinCompleted
from bot.domain.money import InvalidAmount, parse_amount
from bot.services import streaks
from bot.storage.orm import Checkin, CheckinAnswer, Member, Team
from bot.storage.uow import UnitOfWork

MAX_ANSWER = 1000


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    kind: str  # text | number | amount
    required: bool
    prompt: str
    example: str | None = None


class InvalidAnswer(ValueError):
    def __init__(self, question: Question, value: str, reason: str) -> None:
        super().__init__(reason)
        self.question = question
        self.value = value
        self.reason = reason


def default_questions(locale: str) -> list[Question]:
    folder = locale if locale in ("zh-CN", "en") else "zh-CN"
    return list(_shipped_questions(folder))


@cache
def _shipped_questions(folder: str) -> tuple[Question, ...]:
    """Read and parsed once: a check-in asked for them twice, and the TOML cost more than its SQL."""
    text = resources.files("bot").joinpath("templates", folder, "_questions.toml").read_text("utf-8")
    return tuple(Question(**q) for q in tomllib.loads(text)["questions"])


def questions_for(team: Team) -> list[Question]:
    """The team's own questions (config or chat) in its locale, or the defaults."""
    if not team.checkin_questions:
        return default_questions(team.locale)
    out = []
    for raw in team.checkin_questions:
        prompts = raw.get("prompt") or {}
        prompt = prompts.get(team.locale) or next(iter(prompts.values()), raw["key"])
        out.append(Question(raw["key"], raw.get("kind", "text"), bool(raw.get("required", True)), prompt))
    return out


@cache
def _today_checkin() -> Select[tuple[Checkin]]:
    """Built once: every check-in command reads it, and building it cost more than a fifth of running it.
    The answers joined in: one round trip, not a second SELECT for them."""
    return (
        select(Checkin)
        .options(joinedload(Checkin.answers))
        .where(Checkin.member_id == bindparam("member_id"), Checkin.day == bindparam("day"))
    )


async def today_checkin(session: AsyncSession, member: Member, day: date) -> Checkin | None:
    found = await session.scalars(_today_checkin(), {"member_id": member.id, "day": day})
    return found.unique().one_or_none()


async def start(
    session: AsyncSession, team: Team, member: Member, day: date, now: datetime, *, flush: bool = True
) -> Checkin:
    """Today's check-in, opened if there is none. Not `flush`: a new one is written by the caller's next
    flush (answered in one go: with its answers and status, one INSERT rather than an INSERT and an UPDATE).
    """
    checkin = await today_checkin(session, member, day)
    if checkin is None:
        checkin = Checkin(
            team_id=team.id, member_id=member.id, day=day, status="open", started_at=now, answers=[]
        )
        session.add(checkin)
        if flush:
            await session.flush()
    return checkin


def next_question(checkin: Checkin, questions: list[Question]) -> tuple[int, Question] | None:
    """The first question without a current answer (during an edit: not yet answered again)."""
    answered = {a.question_key for a in checkin.answers if a.position >= 0}
    for index, question in enumerate(questions):
        if question.key not in answered:
            return index, question
    return None


def parse_answer(question: Question, text: str, currency: str) -> CheckinAnswer:
    """A typed answer, or InvalidAnswer when a number question gets words."""
    clean = text.strip()
    if len(clean) > MAX_ANSWER:
        raise InvalidAnswer(question, clean[:20], "text.too_long")
    answer = CheckinAnswer(question_key=question.key, kind=question.kind, text=clean)
    if question.kind == "number":
        try:
            number = Decimal(clean.replace(",", ""))
        except InvalidOperation:
            raise InvalidAnswer(question, clean, "number") from None
        if not number.is_finite() or number < 0:
            raise InvalidAnswer(question, clean, "number")
        answer.number = str(number)
    elif question.kind == "amount":
        try:
            answer.amount_minor = parse_amount(clean, currency).minor
        except InvalidAmount:
            raise InvalidAnswer(question, clean, "amount") from None
    return answer


def record_answer(checkin: Checkin, position: int, answer: CheckinAnswer) -> None:
    """Add the answer, or overwrite the kept one for the same question in place (one row per question)."""
    old = answer_for(checkin, answer.question_key)
    if old is None:
        answer.position = position
        checkin.answers.append(answer)
        return
    old.kind, old.text = answer.kind, answer.text
    old.number, old.amount_minor = answer.number, answer.amount_minor
    old.position = position


# An edit re-asks every question but keeps the old answers, counted in recaps, until new ones replace them:
# a kept answer's position is stored as -1 - position (negative) until it is answered again or kept.


def begin_edit(checkin: Checkin) -> None:
    """Start re-asking every question; the status and the answers stay as they are meanwhile."""
    for answer in checkin.answers:
        if answer.position >= 0:
            answer.position = -1 - answer.position


def editing(checkin: Checkin) -> bool:
    return any(a.position < 0 for a in checkin.answers)


def answer_for(checkin: Checkin, key: str) -> CheckinAnswer | None:
    return next((a for a in checkin.answers if a.question_key == key), None)


def keep_answer(checkin: Checkin, position: int, key: str) -> bool:
    """Keep the answer given before the edit for this question; False when there was none."""
    old = answer_for(checkin, key)
    if old is None:
        return False
    old.position = position
    return True


async def complete_if_done(
    uow: UnitOfWork, checkin: Checkin, questions: list[Question], now: datetime
) -> bool:
    """Flush the check-in and its answers, marked done in the same flush once every question has an
    answer; True when this call completed it.

    The member's stored streak moves onto this day when the unit of work commits (its hook).
    """
    completes = checkin.status != "done" and next_question(checkin, questions) is None
    if completes:
        checkin.status = "done"
        checkin.completed_at = now
    await uow.session.flush()  # after the marking: one write of the row, and its id for the event
    if not completes:
        return False
    uow.add_event(CheckinCompleted(team_id=checkin.team_id, checkin_id=checkin.id))
    if streaks.keep_on_commit not in uow.before_commit:
        uow.before_commit.append(streaks.keep_on_commit)
    return True


def answer_views(team: Team, checkin: Checkin) -> list[dict[str, str]]:
    """Each answer beside its question's prompt in the team's locale, in the order given."""
    prompts = {q.key: q.prompt for q in questions_for(team)}
    ordered = sorted(checkin.answers, key=lambda a: a.position if a.position >= 0 else -1 - a.position)
    return [{"question": prompts.get(a.question_key, a.question_key), "answer": a.text} for a in ordered]


async def streak(session: AsyncSession, member: Member, today: date, calendar: WorkCalendar) -> int:
    """Consecutive workdays with a done check-in up to today; holidays and leave neither count nor break.

    Today still open does not break yesterday's streak. Read from the member's stored streak.
    """
    found = await streaks.current(session, member.team_id, [member.id], today, calendar)
    return found[member.id]


async def completed_streak(uow: UnitOfWork, member: Member, today: date) -> int:
    """`streak` of a member whose check-in of `today` this unit of work completed: moved now, in the
    same reads, rather than read for the reply and moved again at the commit."""
    return (await streaks.keep_now(uow))[(member.id, today)]


async def team_streaks(
    session: AsyncSession, team_id: int, members: list[Member], today: date, calendar: WorkCalendar
) -> dict[int, int]:
    """`streak` for every member at once, from the stored streaks (O(members), whatever the history)."""
    return await streaks.current(session, team_id, [m.id for m in members], today, calendar)


async def streak_leaders(
    session: AsyncSession,
    team_id: int,
    members: list[Member],
    today: date,
    calendar: WorkCalendar,
    limit: int = 3,
    minimum: int = 2,
) -> list[tuple[Member, int]]:
    """The longest current check-in streaks (at least `minimum` days), longest first, then by name."""
    lengths = await team_streaks(session, team_id, members, today, calendar)
    ranked = sorted(
        ((m, lengths.get(m.id, 0)) for m in members if lengths.get(m.id, 0) >= minimum),
        key=lambda pair: (-pair[1], pair[0].name, pair[0].id),
    )
    return ranked[:limit]

"""The evening check-out: a short DM conversation at the end of the day, and the 夕会's 经验分享.

The scheduled `checkout` post opens each expected member's check-out (active, not on leave) and DMs the
first question; a plain DM reply while it is open answers the current question, like the check-in. The
"what worked" answers feed the day's recap: the best few (of those who closed deals first, then the most
substantive), with one a leader pinned shown first.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import enqueue
from bot.rendering.engine import Renderer
from bot.services import recap as recap_service  # the module: recap imports this one
from bot.services.checkins import MAX_ANSWER, Question
from bot.services.directory import active_members, dm_channel
from bot.services.scope import TeamScope, person
from bot.storage.orm import Checkout, Member, Team
from bot.storage.uow import UnitOfWork

WORKED = "worked"
SKIP_WORDS = {"skip", "跳过", "不签退", "/skip"}
# Answers that say nothing: never held up as an example to the team.
EMPTY_ANSWERS = {"无", "没有", "暂无", "没", "no", "none", "nothing", "n/a", "na", "-", "—", "/", "。", "."}
SHARED = 3


def questions_for(team: Team) -> list[Question]:
    folder = team.locale if team.locale in ("zh-CN", "en") else "zh-CN"
    text = resources.files("bot").joinpath("templates", folder, "_checkout.toml").read_text("utf-8")
    return [Question(**q) for q in tomllib.loads(text)["questions"]]


async def of_day(session: AsyncSession, member: Member, day: date) -> Checkout | None:
    return await session.scalar(select(Checkout).where(Checkout.member_id == member.id, Checkout.day == day))


async def open_today(session: AsyncSession, team: Team, member: Member, day: date, now: datetime) -> Checkout:
    """Today's check-out, opened now when the evening prompt has not opened it (`/checkout` early)."""
    checkout = await of_day(session, member, day)
    if checkout is None:
        checkout = Checkout(
            team_id=team.id, member_id=member.id, day=day, status="open", answers=[], started_at=now
        )
        session.add(checkout)
        await session.flush()
    return checkout


def next_question(checkout: Checkout, questions: list[Question]) -> tuple[int, Question] | None:
    answered = {a["key"] for a in checkout.answers or []}
    for index, question in enumerate(questions):
        if question.key not in answered:
            return index, question
    return None


def record(
    checkout: Checkout, question: Question, text: str, questions: list[Question], now: datetime
) -> bool:
    """Keep the answer (a new list: the JSON column sees only assignments); True when that was the last."""
    checkout.answers = [*(checkout.answers or []), {"key": question.key, "text": text.strip()[:MAX_ANSWER]}]
    if next_question(checkout, questions) is None:
        checkout.status = "done"
        checkout.completed_at = now
        return True
    return False


def skip(checkout: Checkout, now: datetime) -> None:
    checkout.status = "skipped"
    checkout.completed_at = now


def answer_views(team: Team, checkout: Checkout) -> list[dict[str, str]]:
    prompts = {q.key: q.prompt for q in questions_for(team)}
    return [
        {"question": prompts.get(a["key"], a["key"]), "answer": a["text"]} for a in checkout.answers or []
    ]


def answer_of(checkout: Checkout, key: str) -> str:
    return next((a["text"] for a in checkout.answers or [] if a["key"] == key), "")


def prompt_context(member: Member, index: int, question: Question, total: int) -> dict[str, Any]:
    return {"member": person(member), "question": question.prompt, "index": index + 1, "total": total}


async def send_prompts(
    uow: UnitOfWork, renderer: Renderer, scope: TeamScope, now: datetime, *, suffix: str = ""
) -> int:
    """Open today's check-out for every member expected (active, not on leave) and DM its first question.

    A member who already answered (or skipped) is not asked again; the DM is keyed per member and day.
    """
    session, team, day = uow.session, scope.team, scope.today
    questions = questions_for(team)
    away = await recap_service.on_leave_ids(session, team.id, day)
    existing = {
        c.member_id: c
        for c in await session.scalars(
            select(Checkout).where(Checkout.team_id == team.id, Checkout.day == day)
        )
    }
    queued = 0
    for member in await active_members(session, team):
        if member.id in away:
            continue
        checkout = existing.get(member.id)
        if checkout is None:
            checkout = Checkout(
                team_id=team.id, member_id=member.id, day=day, status="open", answers=[], started_at=now
            )
            session.add(checkout)
        if checkout.status != "open":
            continue
        step = next_question(checkout, questions)
        if step is None:
            continue
        message = renderer.render(
            "checkout_prompt", team.locale, **prompt_context(member, *step, len(questions))
        )
        queued += int(
            await enqueue(
                session,
                channel=dm_channel(team, member),
                message=message,
                dedupe_key=f"checkout-prompt:{team.id}:{day.isoformat()}:{member.id}{suffix}",
                now=now,
                team_id=team.id,
            )
        )
    return queued


@dataclass(frozen=True, slots=True)
class Shared:
    """One "what worked" answer as the 经验分享 shows it."""

    checkout: Checkout
    member: Member
    text: str
    amount_minor: int

    @property
    def pinned(self) -> bool:
        return self.checkout.pinned_at is not None


def substantive(text: str) -> bool:
    clean = text.strip().lower()
    return len(clean) >= 2 and clean not in EMPTY_ANSWERS


async def best_answers(
    session: AsyncSession, team: Team, day: date, members: dict[int, Member], amounts: dict[int, int]
) -> list[Shared]:
    """The day's "what worked" answers worth sharing, best first: the pinned one, then those of people
    who closed deals (most sold first), then the longest; empty answers ("无", "none") never."""
    rows = await session.scalars(
        select(Checkout).where(Checkout.team_id == team.id, Checkout.day == day, Checkout.status == "done")
    )
    found = []
    for checkout in rows:
        member = members.get(checkout.member_id)
        text = answer_of(checkout, WORKED)
        if member is None or not (substantive(text) or checkout.pinned_at is not None):
            continue
        found.append(Shared(checkout, member, text, amounts.get(member.id, 0)))
    found.sort(key=lambda s: (not s.pinned, -s.amount_minor, -len(s.text), s.member.name, s.member.id))
    return found


def shared_views(shared: list[Shared], limit: int = SHARED) -> list[dict[str, Any]]:
    return [
        {"number": n, "member": person(s.member), "text": s.text, "pinned": s.pinned}
        for n, s in enumerate(shared[:limit], start=1)
    ]


def pin(shared: list[Shared], chosen: Shared, now: datetime) -> None:
    """Pin one answer for the day; any other pinned that day is unpinned (one pin a day)."""
    for s in shared:
        s.checkout.pinned_at = None
    chosen.checkout.pinned_at = now

"""The check-in as a form: its fields (pre-filled when editing), what it carries back, and the checks a
submission must pass before it is accepted — the same parsing as typed answers, errors per field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from bot.domain.money import Money
from bot.messages import Paragraph, Text
from bot.rendering.engine import Renderer
from bot.rendering.parse import plain_text
from bot.services import checkins
from bot.services.checkins import Question
from bot.storage.orm import Checkin, Team

FORM_VERSION = 1


@dataclass(frozen=True, slots=True)
class FormContext:
    """What a check-in form carries from opening to submission (the platform hands it back as given)."""

    team_id: int
    day: str
    locale: str
    currency: str
    fields: tuple[tuple[str, str, bool], ...]  # (question key, kind, required)

    def to_text(self) -> str:
        return json.dumps(
            {
                "v": FORM_VERSION,
                "team": self.team_id,
                "day": self.day,
                "locale": self.locale,
                "currency": self.currency,
                "fields": [list(f) for f in self.fields],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


def context_for(team: Team, day: date, questions: list[Question]) -> FormContext:
    return FormContext(
        team_id=team.id,
        day=day.isoformat(),
        locale=team.locale,
        currency=team.currency,
        fields=tuple((q.key, q.kind, q.required) for q in questions),
    )


def read_context(text: str) -> FormContext | None:
    """The context a submission carried, or None when it is not one of ours (or an older form's)."""
    try:
        raw = json.loads(text)
        if raw.get("v") != FORM_VERSION:
            return None
        fields = tuple((str(k), str(kind), bool(req)) for k, kind, req in raw["fields"])
        return FormContext(
            int(raw["team"]), str(raw["day"]), str(raw["locale"]), str(raw["currency"]), fields
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def fields_for(team: Team, checkin: Checkin, questions: list[Question]) -> list[dict[str, object]]:
    """One field per question, with the answer given today (if any) filled in — numbers and amounts as
    plain numbers ("12800", not "1.28万"), which a number input can show."""
    out: list[dict[str, object]] = []
    for question in questions:
        out.append(
            {
                "key": question.key,
                "kind": question.kind,
                "label": question.prompt,
                "required": question.required,
                "initial": _initial(team, checkin, question),
                "example": question.example,
            }
        )
    return out


def _initial(team: Team, checkin: Checkin, question: Question) -> str:
    given = checkins.answer_for(checkin, question.key)
    if given is None:
        return ""
    if question.kind == "number" and given.number is not None:
        return given.number
    if question.kind == "amount" and given.amount_minor is not None:
        major = Money(given.amount_minor, team.currency).major.normalize()
        return f"{major:f}"
    return given.text


def problems(renderer: Renderer, context_text: str, values: dict[str, str]) -> dict[str, str]:
    """Field key → what is wrong with its value, in the team's language; empty when all is well.
    Pure (no database): it runs while the platform waits for the submission's acknowledgement."""
    context = read_context(context_text)
    if context is None:
        return {}  # not ours to judge here: the command answers it ("this form is out of date")
    out: dict[str, str] = {}
    for key, kind, required in context.fields:
        value = (values.get(key) or "").strip()
        question = Question(key, kind, required, prompt="")
        if not value:
            if required:
                out[key] = _first_line(renderer.render("checkin_form_required", context.locale))
            continue
        try:
            checkins.parse_answer(question, value, context.currency)
        except checkins.InvalidAnswer as error:
            shown = renderer.render(
                "checkin_retry", context.locale, question="", kind=kind, value=error.value, example=None
            )
            out[key] = _first_line(shown)
    return out


def _first_line(message) -> str:
    first = next((b for b in message.blocks if isinstance(b, Paragraph)), Paragraph((Text(""),)))
    return plain_text(first) or message.fallback_text

"""/checkin — today's check-in: question by question in the DM, or all answers in one line."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.commands import checkout
from bot.commands.arguments import WORDS, Arg, Text
from bot.commands.context import CommandContext
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.delivery.outbox import enqueue
from bot.messages import FormSubmission, OutgoingMessage
from bot.services import checkin_form, checkins
from bot.services.directory import dm_channel
from bot.services.scope import person
from bot.storage.orm import Checkin

EDIT_WORDS = ("edit", "修改", "重填", "改")
SKIP_WORDS = ("skip", "跳过", "不打卡")
KEEP_WORDS = {"same", "keep", "不变", "同上", "保持"}  # during an edit: keep the answer given before
_SEPARATORS = re.compile(r"[;；\n]")


async def _open(ctx: CommandContext) -> Checkin:
    return await checkins.start(ctx.session, ctx.team, ctx.member, ctx.scope.today, ctx.now)


async def skip(ctx: CommandContext, reason: str) -> OutgoingMessage:
    checkin = await _open(ctx)
    checkin.status = "skipped"
    checkin.skip_reason = reason
    return ctx.reply("checkin_skipped", reason=checkin.skip_reason)


async def edit(ctx: CommandContext, answers: list[str] | None) -> OutgoingMessage:
    """The old answers stay (and count) until new ones replace them, one by one."""
    checkin = await _open(ctx)
    questions = checkins.questions_for(ctx.team)
    if checkin.status == "skipped":
        checkin.status, checkin.skip_reason = "open", ""
    if ctx.message.can_open_form and not answers:  # the form, pre-filled, in place of the questions
        return _form(ctx, checkin, questions)
    checkins.begin_edit(checkin)
    await ctx.session.flush()
    after_word = ctx.rest.split(None, 1)[1] if answers else ""  # as typed: `;` and quotes kept
    if after_word:
        return await _answer_line(ctx, checkin, questions, after_word)
    return await _ask_next(ctx, checkin, questions)


async def checkin_command(ctx: CommandContext, answers: list[str] | None) -> OutgoingMessage:
    questions = checkins.questions_for(ctx.team)
    if ctx.message.submitted is None and ctx.rest:
        # Answered in one go: a new check-in is written with its answers (_answer_line flushes).
        checkin = await checkins.start(
            ctx.session, ctx.team, ctx.member, ctx.scope.today, ctx.now, flush=False
        )
        return await _answer_line(ctx, checkin, questions, ctx.rest)
    checkin = await _open(ctx)
    if ctx.message.submitted is not None:
        return await _submit_form(ctx, checkin, questions, ctx.message.submitted)
    if ctx.message.can_open_form:  # a click or a command that can open a form: the form (pre-filled)
        return _form(ctx, checkin, questions)
    if checkin.status == "done" and not checkins.editing(checkin):
        return await _done_reply(ctx, checkin)
    return await _ask_next(ctx, checkin, questions)


async def _answer_line(ctx: CommandContext, checkin: Checkin, questions, line: str) -> OutgoingMessage:
    """All answers in one line, separated by `;`, taken in the order of the questions still to answer."""
    edited = _editing_done(checkin)
    for part in [p.strip() for p in _SEPARATORS.split(line) if p.strip()]:
        step = checkins.next_question(checkin, questions)
        if step is None:
            break
        retry = _try_answer(ctx, checkin, step, part)
        if retry is not None:
            await ctx.session.flush()  # a new check-in is written here, as it was when opened
            return retry
    return await _after_answer(ctx, checkin, questions, edited=edited)


async def answer_in_conversation(ctx: CommandContext) -> OutgoingMessage | None:
    """A plain DM line while today's check-in is open is the answer to the current question (while the
    evening check-out is open, to its question instead)."""
    reply = await checkout.answer_in_conversation(ctx)
    if reply is not None:
        return reply
    checkin = await checkins.today_checkin(ctx.session, ctx.member, ctx.scope.today)
    if checkin is None or (checkin.status != "open" and not checkins.editing(checkin)):
        return None
    questions = checkins.questions_for(ctx.team)
    step = checkins.next_question(checkin, questions)
    if step is None:
        return None
    edited = _editing_done(checkin)
    retry = _try_answer(ctx, checkin, step, ctx.message.text)
    if retry is not None:
        return retry
    return await _after_answer(ctx, checkin, questions, edited=edited)


def _form(ctx: CommandContext, checkin: Checkin, questions) -> OutgoingMessage:
    """Today's check-in as a form: every question, today's answers filled in (an edit once done)."""
    reply = ctx.reply(
        "checkin_form",
        fields=checkin_form.fields_for(ctx.team, checkin, questions),
        editing=checkin.status == "done",
    )
    assert reply.form is not None, "the checkin_form template holds a form"
    context = checkin_form.context_for(ctx.team, ctx.scope.today, questions).to_text()
    return replace(reply, form=replace(reply.form, context=context))


async def _submit_form(
    ctx: CommandContext, checkin: Checkin, questions, submitted: FormSubmission
) -> OutgoingMessage:
    """The answers of a form, through the same parsing and recording as typed answers. A form from
    another day or another team than the submitter's changes nothing."""
    context = checkin_form.read_context(submitted.context)
    if context is None or context.team_id != ctx.team.id or context.day != ctx.scope.today.isoformat():
        return ctx.reply("checkin_form_stale")
    values = dict(submitted.values)
    was_done = checkin.status == "done"
    if checkin.status == "skipped":
        checkin.status, checkin.skip_reason = "open", ""
    if was_done:
        checkins.begin_edit(checkin)  # the old answers count until the new ones replace them
    for index, question in enumerate(questions):
        text = (values.get(question.key) or "").strip()
        if not text:
            # Left empty: an answer given before stays; an optional question is answered "nothing";
            # a required one (the platform let it through) is asked in the DM afterwards.
            if not checkins.keep_answer(checkin, index, question.key) and not question.required:
                checkins.record_answer(checkin, index, checkins.parse_answer(question, "", ctx.team.currency))
            continue
        retry = _try_answer(ctx, checkin, (index, question), text)
        if retry is not None:
            return retry
    return await _after_answer(ctx, checkin, questions, edited=was_done)


def _editing_done(checkin: Checkin) -> bool:
    """An edit of a finished check-in: its end says "updated", not "done"."""
    return checkin.status == "done" and checkins.editing(checkin)


def _try_answer(ctx: CommandContext, checkin: Checkin, step, text: str) -> OutgoingMessage | None:
    index, question = step
    if text.strip().lower() in KEEP_WORDS and checkins.keep_answer(checkin, index, question.key):
        return None
    try:
        answer = checkins.parse_answer(question, text, ctx.team.currency)
    except checkins.InvalidAnswer as error:
        return ctx.reply(
            "checkin_retry",
            question=question.prompt,
            kind=question.kind,
            value=error.value,
            example=question.example,
        )
    checkins.record_answer(checkin, index, answer)
    return None


async def _after_answer(
    ctx: CommandContext, checkin: Checkin, questions, *, edited: bool = False
) -> OutgoingMessage:
    if await checkins.complete_if_done(ctx.uow, checkin, questions, ctx.now):
        return await _done_reply(ctx, checkin, completed=True)
    if edited and checkins.next_question(checkin, questions) is None:
        return await _done_reply(ctx, checkin, edited=True)
    return await _ask_next(ctx, checkin, questions)


async def _ask_next(ctx: CommandContext, checkin: Checkin, questions) -> OutgoingMessage:
    step = checkins.next_question(checkin, questions)
    if step is None:
        return await _done_reply(ctx, checkin)
    index, question = step
    kept = checkins.answer_for(checkin, question.key)
    prompt = ctx.reply(
        "checkin_prompt",
        member=person(ctx.member),
        question=question.prompt,
        index=index + 1,
        total=len(questions),
        kind=question.kind,
        example=question.example,
        current=kept.text if kept is not None else None,
        editing=checkins.editing(checkin),
        day=checkin.day.isoformat(),
    )
    if ctx.message.channel.kind == "dm":
        return prompt
    await send_dm(ctx, prompt, f"checkin-ask:{checkin.id}:{question.key}:{ctx.now.isoformat()}")
    return ctx.reply("checkin_check_dm", member=person(ctx.member))


async def send_dm(ctx: CommandContext, message: OutgoingMessage, key: str) -> None:
    await enqueue(
        ctx.session,
        channel=dm_channel(ctx.team, ctx.member),
        message=message,
        dedupe_key=key,
        now=ctx.now,
        team_id=ctx.team.id,
    )


async def _done_reply(
    ctx: CommandContext, checkin: Checkin, *, edited: bool = False, completed: bool = False
) -> OutgoingMessage:
    """`completed`: this command completed it, so the streak shown is the one it moves."""
    answers = checkins.answer_views(ctx.team, checkin)
    if completed:
        streak = await checkins.completed_streak(ctx.uow, ctx.member, ctx.scope.today)
    else:
        streak = await checkins.streak(ctx.session, ctx.member, ctx.scope.today, ctx.scope.calendar)
    return ctx.reply("checkin_done", answers=answers, streak=streak, edited=edited)


SPEC = command(
    "checkin",
    ("打卡", "日报", "签到", "check-in", "standup"),
    Form(SKIP_WORDS, (Arg("reason", Text(max_len=500, cut=True), optional=True, default=""),), skip),
    Form(EDIT_WORDS, (Arg("answers", WORDS, optional=True, label="answers"),), edit),
    Form((), (Arg("answers", WORDS, optional=True, label="answers"),), checkin_command),
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

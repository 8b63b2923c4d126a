"""/checkin — today's check-in: question by question in the DM, or all answers in one line."""

from __future__ import annotations

import re

from bot.commands.context import CommandContext
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.delivery.outbox import enqueue
from bot.messages import OutgoingMessage
from bot.services import checkins
from bot.services.directory import dm_channel
from bot.services.scope import person
from bot.storage.orm import Checkin

EDIT_WORDS = {"edit", "修改", "重填", "改"}
SKIP_WORDS = {"skip", "跳过", "不打卡"}
_SEPARATORS = re.compile(r"[;；\n]")


async def checkin_command(ctx: CommandContext) -> OutgoingMessage:
    day = ctx.scope.today
    checkin = await checkins.start(ctx.session, ctx.team, ctx.member, day, ctx.now)
    questions = checkins.questions_for(ctx.team)
    head = ctx.args[0].lower() if ctx.args else ""
    if head in SKIP_WORDS:
        checkin.status = "skipped"
        checkin.skip_reason = " ".join(ctx.args[1:])[:500]
        return ctx.reply("checkin_skipped", reason=checkin.skip_reason)
    if head in EDIT_WORDS:
        checkin.answers.clear()
        checkin.status = "open"
        checkin.completed_at = None
        await ctx.session.flush()
        return await _ask_next(ctx, checkin, questions)
    if ctx.rest:
        for part in [p.strip() for p in _SEPARATORS.split(ctx.rest) if p.strip()]:
            step = checkins.next_question(checkin, questions)
            if step is None:
                break
            retry = _try_answer(ctx, checkin, step, part)
            if retry is not None:
                return retry
        return await _after_answer(ctx, checkin, questions)
    if checkin.status == "done":
        return await _done_reply(ctx, checkin)
    return await _ask_next(ctx, checkin, questions)


async def answer_in_conversation(ctx: CommandContext) -> OutgoingMessage | None:
    """A plain DM line while today's check-in is open is the answer to the current question."""
    checkin = await checkins.today_checkin(ctx.session, ctx.member, ctx.scope.today)
    if checkin is None or checkin.status != "open":
        return None
    questions = checkins.questions_for(ctx.team)
    step = checkins.next_question(checkin, questions)
    if step is None:
        return None
    retry = _try_answer(ctx, checkin, step, ctx.message.text)
    if retry is not None:
        return retry
    return await _after_answer(ctx, checkin, questions)


def _try_answer(ctx: CommandContext, checkin: Checkin, step, text: str) -> OutgoingMessage | None:
    index, question = step
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


async def _after_answer(ctx: CommandContext, checkin: Checkin, questions) -> OutgoingMessage:
    await ctx.session.flush()
    if checkins.complete_if_done(ctx.uow, checkin, questions, ctx.now) or checkin.status == "done":
        return await _done_reply(ctx, checkin)
    return await _ask_next(ctx, checkin, questions)


async def _ask_next(ctx: CommandContext, checkin: Checkin, questions) -> OutgoingMessage:
    step = checkins.next_question(checkin, questions)
    if step is None:
        return await _done_reply(ctx, checkin)
    index, question = step
    prompt = ctx.reply(
        "checkin_prompt",
        member=person(ctx.member),
        question=question.prompt,
        index=index + 1,
        total=len(questions),
        kind=question.kind,
        example=question.example,
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


async def _done_reply(ctx: CommandContext, checkin: Checkin) -> OutgoingMessage:
    answers = checkins.answer_views(ctx.team, checkin)
    streak = await checkins.streak(ctx.session, ctx.member, ctx.scope.today, ctx.scope.calendar)
    return ctx.reply("checkin_done", answers=answers, streak=streak)


def register(registry: CommandRegistry) -> None:
    registry.register(
        CommandSpec("checkin", ("打卡", "日报", "签到", "check-in", "standup"), checkin_command)
    )

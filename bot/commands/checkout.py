"""The evening check-out in the DM: each plain reply answers the current question, "skip" skips it; a
click on the prompt's button (or `/checkout` where a form can open) shows all its questions as a form."""

from __future__ import annotations

from dataclasses import replace

from bot.commands.context import CommandContext
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.delivery.outbox import enqueue
from bot.messages import FormSubmission, OutgoingMessage
from bot.services import checkin_form, checkouts
from bot.services.checkins import Question
from bot.services.directory import dm_channel
from bot.services.scope import person
from bot.storage.orm import Checkout


async def answer_in_conversation(ctx: CommandContext) -> OutgoingMessage | None:
    """The answer to today's open check-out, or None when there is none open (the line is for others).

    The check-out is asked in the evening, after the check-in: while it is open it takes the DM's lines.
    """
    checkout = await checkouts.of_day(ctx.session, ctx.member, ctx.scope.today)
    if checkout is None or checkout.status != "open":
        return None
    questions = checkouts.questions_for(ctx.team)
    step = checkouts.next_question(checkout, questions)
    if step is None:
        return None
    text = ctx.message.text.strip()
    if text.lower() in checkouts.SKIP_WORDS:
        checkouts.skip(checkout, ctx.now)
        return ctx.reply("checkout_done", answers=[], skipped=True)
    if checkouts.record(checkout, step[1], text, questions, ctx.now):
        return _done(ctx, checkout)
    return _ask(ctx, checkout, questions)


async def checkout_command(ctx: CommandContext) -> OutgoingMessage:
    """A submitted form records its answers; a click or a command that can open a form opens it; else
    the next question of today's check-out is asked in the conversation."""
    checkout = await checkouts.open_today(ctx.session, ctx.team, ctx.member, ctx.scope.today, ctx.now)
    questions = checkouts.questions_for(ctx.team)
    if ctx.message.submitted is not None:
        return await _submit_form(ctx, checkout, questions, ctx.message.submitted)
    if checkout.status != "open":
        return _done(ctx, checkout)
    if ctx.message.can_open_form:
        return _form(ctx, questions)
    if ctx.message.channel.kind != "dm":  # the answers are the member's own: asked in the DM
        question = _ask(ctx, checkout, questions)
        await enqueue(
            ctx.session,
            channel=dm_channel(ctx.team, ctx.member),
            message=question,
            dedupe_key=f"checkout-ask:{checkout.id}:{ctx.now.isoformat()}",
            now=ctx.now,
            team_id=ctx.team.id,
        )
        return ctx.reply("checkout_check_dm", member=person(ctx.member))
    return _ask(ctx, checkout, questions)


def _form(ctx: CommandContext, questions: list[Question]) -> OutgoingMessage:
    reply = ctx.reply("checkout_form", fields=[_field(q) for q in questions])
    assert reply.form is not None, "the checkout_form template holds a form"
    # The check-in form's context (team, day, fields): the same checks before and after submission.
    context = checkin_form.context_for(ctx.team, ctx.scope.today, questions).to_text()
    return replace(reply, form=replace(reply.form, context=context))


def _field(question: Question) -> dict[str, object]:
    return {"key": question.key, "label": question.prompt, "required": question.required}


async def _submit_form(
    ctx: CommandContext, checkout: Checkout, questions: list[Question], submitted: FormSubmission
) -> OutgoingMessage:
    """The form's answers, recorded as typed answers would be, in the questions' order. A form of
    another day or team, or a check-out already finished, changes nothing."""
    context = checkin_form.read_context(submitted.context)
    if context is None or context.team_id != ctx.team.id or context.day != ctx.scope.today.isoformat():
        return ctx.reply("checkout_form_stale")
    if checkout.status != "open":
        return _done(ctx, checkout)
    values = dict(submitted.values)
    while (step := checkouts.next_question(checkout, questions)) is not None:
        text = (values.get(step[1].key) or "").strip()
        if not text:  # a required field the platform let through: asked in the DM from here
            await ctx.session.flush()
            return _ask(ctx, checkout, questions)
        checkouts.record(checkout, step[1], text, questions, ctx.now)
    await ctx.session.flush()
    return _done(ctx, checkout)


def _ask(ctx: CommandContext, checkout: Checkout, questions: list[Question]) -> OutgoingMessage:
    step = checkouts.next_question(checkout, questions)
    if step is None:
        return _done(ctx, checkout)
    index, question = step
    return ctx.reply(
        "checkout_prompt", **checkouts.prompt_context(ctx.member, index, question, len(questions))
    )


def _done(ctx: CommandContext, checkout: Checkout) -> OutgoingMessage:
    if checkout.status == "skipped":
        return ctx.reply("checkout_done", answers=[], skipped=True)
    return ctx.reply("checkout_done", answers=checkouts.answer_views(ctx.team, checkout), skipped=False)


SPEC = command("checkout", ("签退", "check-out"), Form((), (), checkout_command))


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)

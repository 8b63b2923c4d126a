"""The evening check-out in the DM: each plain reply answers the current question, "skip" skips it."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.messages import OutgoingMessage
from bot.services import checkouts


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
        return ctx.reply("checkout_done", answers=checkouts.answer_views(ctx.team, checkout), skipped=False)
    index, question = checkouts.next_question(checkout, questions) or step
    return ctx.reply(
        "checkout_prompt", **checkouts.prompt_context(ctx.member, index, question, len(questions))
    )

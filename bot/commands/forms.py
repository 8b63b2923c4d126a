"""Declared command grammar: a command is one or more forms (`/deal AMOUNT …`, `/deal undo [ID]`), each a
list of arguments and a handler that receives them typed. Binding converts the words typed; a missing or
wrong argument raises the same kind of error everywhere, answered with the usage line built from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.commands.arguments import ABSENT, Arg
from bot.commands.errors import (
    CommandError,
    InvalidArgument,
    MissingArgument,
    PermissionDenied,
    Refused,
    WrongPlace,
)
from bot.commands.registry import CommandSpec, Role, Where, role_at_least

if TYPE_CHECKING:
    from bot.commands.context import CommandContext
    from bot.messages import OutgoingMessage

FormHandler = Callable[..., Awaitable["OutgoingMessage"]]


@dataclass(frozen=True, slots=True)
class Form:
    """`words` select the form (none: the default form); `args` in order, or in any order (`any_order`:
    `/rank 本周 小组` = `/rank 小组 本周`); a form either handles (`handler`) or has sub-forms (`forms`).
    `min_role` is checked before any argument is read, refused as `denied_as` (default: the command)."""

    words: tuple[str, ...] = ()
    args: tuple[Arg, ...] = ()
    handler: FormHandler | None = None
    forms: tuple[Form, ...] = ()
    any_order: bool = False
    min_role: Role = "member"
    denied_as: str | None = None
    needs_team: bool = True
    where: Where = "any"


def command(
    name: str,
    aliases: tuple[str, ...],
    *forms: Form,
    min_role: Role = "member",
    where: Where = "any",
    needs_team: bool = True,
) -> CommandSpec:
    """A command spec whose handler binds the declared forms."""

    async def handler(ctx: CommandContext) -> OutgoingMessage:
        return await run(ctx, forms, list(ctx.args))

    return CommandSpec(name, aliases, handler, min_role, where, needs_team, forms=forms)


def choose(forms: tuple[Form, ...], tokens: list[str]) -> Form | None:
    """The form the first token names (taken off), else the default form, else None."""
    if tokens:
        head = tokens[0].lower()
        for form in forms:
            if head in form.words:
                tokens.pop(0)
                return form
    return next((form for form in forms if not form.words), None)


async def run(
    ctx: CommandContext, forms: tuple[Form, ...], tokens: list[str], path: tuple[Form, ...] = ()
) -> OutgoingMessage:
    form = choose(forms, tokens)
    if form is None:
        if not tokens:
            raise MissingArgument("action")
        raise InvalidArgument("action", tokens[0], "subject.unknown")
    if form.where != "any" and form.where != ctx.message.channel.kind:
        raise WrongPlace(where=form.where)
    if form.needs_team and (ctx.team_or_none is None or ctx.member_or_none is None):
        raise Refused("no_team")
    if not role_at_least(ctx.role, form.min_role):
        raise PermissionDenied(command=form.denied_as or ctx.spec.name, required=form.min_role)
    if form.forms:
        return await run(ctx, form.forms, tokens, (*path, form))
    assert form.handler is not None, "a form without sub-forms has a handler"
    try:
        values = await bind(ctx, form, tokens)
        return await form.handler(ctx, **values)
    except CommandError as error:
        if form.words and len(ctx.spec.forms) > 1:  # the usage of the form typed, not of every form
            chosen = (*path, form)
            error.detail.setdefault("usage", ctx.core.help.form_usage(ctx.spec, chosen, ctx.locale))
            example = ctx.core.help.form_example(ctx.spec, chosen, ctx.locale)
            if example is not None:
                error.detail.setdefault("form_example", example)
        raise


async def bind(ctx: CommandContext, form: Form, tokens: list[str]) -> dict[str, Any]:
    """The typed value of each declared argument (its default when left out). Words no argument takes
    are left unread, as before arguments were declared."""
    if form.any_order:
        values = await _bind_any_order(ctx, form.args, tokens)
    else:
        values = {}
        for index, arg in enumerate(form.args):
            # A word the arguments after this one need is not read as this one's (`role lead` names no
            # member: the member is missing, not called "lead").
            needed_after = sum(1 for later in form.args[index + 1 :] if not later.optional)
            strict = arg.is_strict and len(tokens) > needed_after
            values[arg.name] = await arg.converter.take(ctx, tokens, arg.name, strict)
    for arg in form.args:
        if values.get(arg.name, ABSENT) is ABSENT:
            if not arg.optional:
                raise MissingArgument(arg.name, example=ctx.core.help.example_of(arg, ctx.locale))
            values[arg.name] = arg.default
    return values


async def _bind_any_order(ctx: CommandContext, args: tuple[Arg, ...], tokens: list[str]) -> dict[str, Any]:
    """Each word goes to the first argument still open that reads it (a later word of the same kind
    replaces an earlier one); a word none reads is refused by the first open argument, read strictly."""
    values: dict[str, Any] = {}
    while tokens:
        word = tokens[0]
        opened = [a for a in args if a.name not in values]
        for arg in [*opened, *(a for a in args if a.name in values)]:
            before = len(tokens)
            value = await arg.converter.take(ctx, tokens, arg.name, False)
            if value is not ABSENT and len(tokens) < before:  # only what the word itself says
                values[arg.name] = value
                break
        else:
            first = (opened or list(args))[0]
            await first.converter.take(ctx, tokens, first.name, True)
            raise InvalidArgument(first.name, word, "subject.unknown")  # a converter that took it anyway
    return values

"""The dispatcher: one path from anything a person said to the bot's answer, on every platform."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Insert, delete, insert
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.commands.checkin import answer_in_conversation
from bot.commands.context import CommandContext, Core
from bot.commands.errors import CommandError, PermissionDenied, Refused, UnknownCommand, WrongPlace
from bot.commands.parser import split_command
from bot.commands.registry import CommandSpec, role_at_least
from bot.messages import ChannelRef, FormSubmission, IncomingMessage, OutgoingMessage, UserRef
from bot.metrics import Metrics
from bot.services import directory, sent_cards
from bot.storage.orm import Member, ProcessedEvent, Team
from bot.storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
DEDUPE_KEEP = timedelta(hours=48)
_PRUNE_EVERY = 500
# What no database stores: NUL (PostgreSQL refuses it) and lone surrogates (JSON's "\ud800" escapes; not
# UTF-8, so neither SQLite nor PostgreSQL can take them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
LONGEST_ID = 128  # the narrowest column an id goes into (members.user_id, workspaces.external_id)
LONGEST_NAME = 200  # members.name


@cache
def _record_event_id() -> Insert:
    # inline: nothing reads the new row's id, so PostgreSQL is not asked to return it (RETURNING id)
    return insert(ProcessedEvent.__table__).inline()


class Dispatcher:
    def __init__(
        self, core: Core, uow_factory: UnitOfWorkFactory, clock: Clock, metrics: Metrics | None = None
    ) -> None:
        self._core = core
        self._metrics = metrics
        self._uow_factory = uow_factory
        self._clock = clock
        self._seen = 0

    async def handle(self, message: IncomingMessage) -> OutgoingMessage | None:
        """The reply meant for the person who spoke (None when there is nothing to say)."""
        message = storable(message)
        try:
            try:
                return await self._handle(message)
            except IntegrityError:
                # A command of the same person committed the same row first (a check-in sent twice at
                # once): all of this one was rolled back; run again, it reads what the other wrote.
                log.info("command in event %s met a concurrent write; running it again", message.event_id)
                return await self._handle(message)
        except Exception:
            log.exception("command failed (event %s)", message.event_id)
            self._count("unknown", "internal_error")
            return self._core.renderer.render(
                "error",
                self._core.settings.default_locale,
                code="internal",
                detail={"event_id": message.event_id},
            )

    def _count(self, command: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.command(command, outcome)

    async def _first_delivery(self, uow: UnitOfWork, message: IncomingMessage, now: datetime) -> bool:
        """Record the event id in the command's own transaction: a platform's retry of the same event
        finds it and is dropped, and a crash before the commit leaves neither the id nor the effects
        (so the redelivered or re-read event is carried out, not taken for a duplicate).

        The last statement before the commit, not the first: on SQLite the first write takes the
        database's one write lock until the commit, and taken first it made every command's reads and
        rendering hold it, so commands ran one at a time (at 200 WeCom callbacks a second the lock was
        held all the time with the CPU a third idle). A retry running alongside its original does the
        command's work, then fails here and rolls all of it back."""
        seen = {"platform": message.user.platform, "event_id": message.event_id, "received_at": now}
        try:
            # A Core INSERT on the table (not session.add + flush, nor the entity's bulk-insert path),
            # built once: nothing reads the row back, and the ORM's paths cost more.
            await uow.session.execute(_record_event_id(), seen)
        except IntegrityError:
            await uow.rollback()
            return False
        return True

    async def _commit_first(
        self, uow: UnitOfWork, message: IncomingMessage, now: datetime, *, acted: bool = True
    ) -> bool:
        """Commit the command's work unless the event was handled before (then it is all rolled back).
        A card click that acted is its card's one choice, in the same transaction: a click that lost the
        race to another is rolled back too, and a refused one (`acted` False) leaves the card open."""
        if acted and not await self._choose(uow, message, now):
            log.info("card clicked in event %s was answered by another click", message.event_id)
            await uow.rollback()
            return False
        if not await self._first_delivery(uow, message, now):
            log.info("duplicate event %s ignored", message.event_id)
            return False
        await uow.commit()
        return True

    async def _choose(self, uow: UnitOfWork, message: IncomingMessage, now: datetime) -> bool:
        """False when the message is a card click and another click answered that card first."""
        if message.clicked is None:
            return True
        user = message.user
        return await sent_cards.choose(uow.session, user.platform, user.id, message.clicked, now)

    async def _record_refused(self, message: IncomingMessage, now: datetime) -> bool:
        """A command answered with an error changed nothing, but its retries get no second answer
        (False: this was such a retry)."""
        async with self._uow_factory() as uow:
            return await self._commit_first(uow, message, now, acted=False)

    async def _prune(self, now: datetime) -> None:
        self._seen += 1
        if self._seen % _PRUNE_EVERY == 0:
            async with self._uow_factory() as uow:
                await uow.session.execute(
                    delete(ProcessedEvent).where(ProcessedEvent.received_at < now - DEDUPE_KEEP)
                )
                await uow.commit()

    async def _handle(self, message: IncomingMessage) -> OutgoingMessage | None:
        parsed = split_command(message.text)
        if parsed is None:
            if message.unreadable and message.channel.kind == "dm":
                return await self._unreadable_hint(message)
            return None  # nothing to read: in a group, nobody needs telling
        is_group = message.channel.kind == "group"
        if is_group and not (message.addressed_to_bot or parsed.had_prefix):
            return None
        now = self._clock.now()
        async with self._uow_factory() as uow:
            team, member = await self._who(uow, message)
            locale = team.locale if team else await self._speaker_locale(uow, message)
            spec = self._core.registry.resolve(parsed.word)
            try:
                if spec is None:
                    if not is_group and not parsed.had_prefix and team and member:
                        checkin_spec = self._core.registry.resolve("checkin")
                        ctx = self._context(message, checkin_spec, parsed, uow, now, team, member)
                        reply = await answer_in_conversation(ctx)
                        if reply is not None:
                            return await self._done(uow, message, now, "checkin_answer", reply)
                    raise UnknownCommand(parsed.word, self._core.registry.suggest(parsed.word))
                self._check(spec, message, team, member)
                ctx = self._context(message, spec, parsed, uow, now, team, member, locale)
                reply = await spec.handler(ctx)
                return await self._done(uow, message, now, spec.name, reply)
            except CommandError as error:
                await uow.rollback()
                if not await self._record_refused(message, now):
                    return None
                self._count(spec.name if spec else "unknown", error.code)
                return self._error_reply(error, spec, locale)

    async def _done(
        self,
        uow: UnitOfWork,
        message: IncomingMessage,
        now: datetime,
        name: str,
        reply: OutgoingMessage | None,
    ) -> OutgoingMessage | None:
        """Commit a command's work and count it; None when the event was handled before."""
        if not await self._commit_first(uow, message, now):
            return None
        self._count(name, "ok")
        await self._prune(now)
        return reply

    async def _unreadable_hint(self, message: IncomingMessage) -> OutgoingMessage | None:
        """A DM holding only what the bot cannot read (a picture) gets one line on what it does read,
        once however often the platform redelivers it."""
        now = self._clock.now()
        async with self._uow_factory() as uow:
            team, _ = await self._who(uow, message)
            locale = team.locale if team else self._core.settings.default_locale
            if not await self._commit_first(uow, message, now):
                return None
        return self._core.renderer.render("unreadable", locale, kind=message.unreadable)

    async def _who(self, uow: UnitOfWork, message: IncomingMessage) -> tuple[Team | None, Member | None]:
        """The team of this channel (or, in a DM, the person's team) and the person as its member."""
        session = uow.session
        if message.channel.kind == "group":
            team, member = await directory.team_and_member_for_channel(
                session, message.channel, message.user.id
            )
        else:
            team, member = await directory.first_team_of_user(session, message.user)
        if team is None:
            return None, None
        if (member is None or not member.active) and message.channel.kind == "group":
            name = message.display_name or message.user.id
            member = await directory.join_team(session, team, message.user.id, name, self._clock.now())
        return team, member

    async def _speaker_locale(self, uow: UnitOfWork, message: IncomingMessage) -> str:
        """In a channel no team owns: the language of the speaker's own team on this workspace, if any."""
        if message.channel.kind == "group":
            team, _ = await directory.first_team_of_user(uow.session, message.user)
            if team is not None:
                return team.locale
        return self._core.settings.default_locale

    def _check(
        self, spec: CommandSpec, message: IncomingMessage, team: Team | None, member: Member | None
    ) -> None:
        if spec.needs_team and team is None:
            raise Refused("no_team")
        if spec.needs_team and member is None:
            raise Refused("not_a_member")
        if spec.where != "any" and spec.where != message.channel.kind:
            raise WrongPlace(where=spec.where)
        role = member.role if member else "member"
        if not role_at_least(role, spec.min_role):
            raise PermissionDenied(command=spec.name, required=spec.min_role)

    def _context(self, message, spec, parsed, uow, now, team, member, locale=None) -> CommandContext:
        return CommandContext(
            message=message,
            spec=spec,
            args=parsed.args,
            rest=parsed.rest,
            uow=uow,
            now=now,
            core=self._core,
            team_or_none=team,
            member_or_none=member,
            speaker_locale=locale,
        )

    def _error_reply(self, error: CommandError, spec: CommandSpec | None, locale: str) -> OutgoingMessage:
        usage = example = None
        if spec is None and error.detail.get("suggestion"):
            spec = self._core.registry.resolve(error.detail["suggestion"])
        info = self._core.help.get(spec.name, locale) if spec else None
        if info:
            usage, example = info.usage, info.example
        return self._core.renderer.render(
            "error", locale, code=error.code, detail=error.detail, usage=usage, example=example
        )


def storable(message: IncomingMessage) -> IncomingMessage:
    """The message as the database can store it: every character it cannot (NUL, lone surrogates)
    replaced by U+FFFD, as undecodable bytes are by the platforms' own decoding; an id longer than any
    platform's (so longer than its column) replaced by its digest, still the same for the same id; an
    over-long display name cut. What the person typed stays readable, and is answered."""

    def clean(text: str) -> str:
        return _UNSTORABLE.sub("\ufffd", text)

    def an_id(text: str) -> str:
        text = clean(text)
        return text if len(text) <= LONGEST_ID else "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def person(ref: UserRef) -> UserRef:
        return UserRef(ref.platform, an_id(ref.workspace), an_id(ref.id))

    where = message.channel
    submitted = message.submitted
    if submitted is not None:  # what was typed into a form is stored like typed text
        submitted = FormSubmission(
            submitted.context, tuple((key, clean(value)) for key, value in submitted.values)
        )
    return replace(
        message,
        submitted=submitted,
        event_id=an_id(message.event_id),
        user=person(message.user),
        channel=ChannelRef(where.platform, an_id(where.workspace), an_id(where.id), where.kind),
        text=clean(message.text),
        display_name=None if message.display_name is None else clean(message.display_name)[:LONGEST_NAME],
        mentions=tuple(person(ref) for ref in message.mentions),
    )

"""Slack payloads → `IncomingMessage`: slash commands, `@teambeat …` in channels, messages in the bot's DM.

Pure translation, no I/O: the adapter looks up names and DM channels and passes them in. Slack sends
text with `&`, `<`, `>` escaped and entities such as `<@U123|bob>`; the core gets what the person typed
(unescaped) with mentions kept in the `<@U123>` form its parser understands, and the bot's own mention
removed. What Slack auto-linked (`<mailto:a@b.com|a@b.com>`, `<https://x.com>`, `<#C123|general>`) is
what the person saw: its display text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.slack import forms
from bot.messages import ChannelRef, FormSubmission, IncomingMessage, UserRef

PLATFORM = "slack"
# Slack keeps /leave and /me for its own built-in commands: the manifest registers these names instead.
SLASH_RENAMED = {"/timeoff": "/leave", "/mystats": "/me"}
_ENTITY = re.compile(r"<([^<>]*)>")  # what the person typed has its own `<` and `>` escaped
_USER = re.compile(r"@([UW][A-Z0-9]+)(?:\|.*)?", re.DOTALL)
_LABELLED = re.compile(r"!(?:subteam|date)\^")  # a user group or a date, shown as its label
_CHANNEL = re.compile(r"#[CGD][A-Z0-9]+")
_LINK = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S")  # `https://…`, `mailto:…`, `tel:…`, any scheme
_BARE_SCHEMES = ("mailto:", "tel:")  # shown without the scheme when the link has no label
# A message with one of these subtypes is still a person talking: a file shared with words, or a thread
# reply also sent to the channel. Every other subtype is an edit, a deletion, a join or a bot.
_SPOKEN_SUBTYPES = frozenset({"file_share", "thread_broadcast"})


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """Where the answer to one request goes."""

    workspace: str
    channel: str  # the Slack conversation the person spoke in
    user: str
    private: bool  # the bot's own DM: a plain message; anywhere else: only the speaker sees it
    response_url: str | None = None
    thread_ts: str | None = None
    trigger_id: str | None = None  # a form may be opened in answer (views.open, within 3 s)


@dataclass(frozen=True, slots=True)
class Inbound:
    message: IncomingMessage
    reply_to: ReplyTo


def clean_text(text: str, bot_user_id: str | None) -> tuple[str, tuple[str, ...]]:
    """What the person typed, without the bot's mention, and the people they mentioned, in order."""
    mentioned: list[str] = []

    def entity(match: re.Match[str]) -> str:
        inner = match.group(1)
        user = _USER.fullmatch(inner)
        if user is not None:
            user_id = user.group(1)
            if user_id == bot_user_id:
                return ""
            if user_id not in mentioned:
                mentioned.append(user_id)
            return f"<@{user_id}>"
        return display_text(inner) or match.group(0)

    plain = _ENTITY.sub(entity, text or "")
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return plain.strip(), tuple(mentioned)


def display_text(inner: str) -> str | None:
    """What Slack shows for an entity other than a user mention (given without its `<` `>`), or None to
    keep it as it came: `<!channel>` and `<!here>` stay, and are escaped wherever they are shown."""
    target, bar, label = inner.partition("|")
    if _CHANNEL.fullmatch(target):  # `<#C123|general>`, or `<#C123>` / `<#C123|>` by its id alone
        return "#" + (label or target[1:])
    if inner.startswith("!"):
        return label if bar and label and _LABELLED.match(target) else None
    if _LINK.match(target) is None:  # not an entity Slack makes: text as it came
        return None
    if bar and label:
        return label
    for scheme in _BARE_SCHEMES:
        if target.startswith(scheme):
            return target[len(scheme) :]
    return target


def from_command(
    body: dict[str, Any],
    *,
    bot_user_id: str | None,
    now: datetime,
    display_name: str | None,
    private_dm: bool,
) -> Inbound | None:
    """A slash command (`/kudos <@U2|bob> great call`) as the line `/kudos <@U2> great call`."""
    workspace, user, channel = _str(body, "team_id"), _str(body, "user_id"), _str(body, "channel_id")
    command = _str(body, "command")
    if not (workspace and user and channel and command.startswith("/")):
        return None
    args, mentions = clean_text(_str(body, "text"), bot_user_id)
    event_id = _str(body, "trigger_id") or f"{channel}:{user}:{now.timestamp()}"
    return Inbound(
        IncomingMessage(
            event_id=f"cmd:{event_id}",
            user=UserRef(PLATFORM, workspace, user),
            channel=_where(workspace, channel, user),
            text=f"{SLASH_RENAMED.get(command, command)} {args}".strip(),
            addressed_to_bot=True,
            received_at=now,
            display_name=display_name,
            mentions=tuple(UserRef(PLATFORM, workspace, m) for m in mentions),
            raw=body,
            can_open_form=bool(_str(body, "trigger_id")),
        ),
        ReplyTo(
            workspace,
            channel,
            user,
            private_dm,
            response_url=_str(body, "response_url") or None,
            trigger_id=_str(body, "trigger_id") or None,
        ),
    )


def from_event(
    body: dict[str, Any],
    *,
    bot_user_id: str | None,
    now: datetime,
    display_name: str | None,
) -> Inbound | None:
    """`app_mention` in a channel or a `message` in the bot's DM; None for anything else."""
    event = body.get("event")
    if not isinstance(event, dict):
        return None
    workspace = _str(body, "team_id") or _str(event, "team")
    user, channel = _str(event, "user"), _str(event, "channel")
    kind = _str(event, "type")
    if not (workspace and user and channel) or user == bot_user_id:
        return None
    in_dm = kind == "message" and _str(event, "channel_type") == "im"
    if not (in_dm or (kind == "app_mention" and not channel.startswith("D"))):
        return None
    subtype = event.get("subtype")
    if (subtype and not (isinstance(subtype, str) and subtype in _SPOKEN_SUBTYPES)) or event.get("bot_id"):
        return None
    text, mentions = clean_text(_str(event, "text"), bot_user_id)
    event_id = _str(body, "event_id") or f"{channel}:{_str(event, 'ts')}"
    thread = _str(event, "thread_ts") or None
    return Inbound(
        IncomingMessage(
            event_id=event_id,
            user=UserRef(PLATFORM, workspace, user),
            channel=ChannelRef(PLATFORM, workspace, user, "dm")
            if in_dm
            else ChannelRef(PLATFORM, workspace, channel, "group"),
            text=text,
            addressed_to_bot=True,
            received_at=now,
            display_name=display_name,
            mentions=tuple(UserRef(PLATFORM, workspace, m) for m in mentions),
            raw=body,
        ),
        ReplyTo(workspace, channel, user, in_dm, thread_ts=thread),
    )


def from_click(
    body: dict[str, Any], *, now: datetime, display_name: str | None, private_dm: bool
) -> Inbound | None:
    """A click on one of our buttons (`block_actions`) as the command the button stands for, typed by
    the person who clicked — in the conversation the button was in."""
    who = speaker(body)
    actions = body.get("actions")
    channel = _str(_dict(body, "channel"), "id") or _str(_dict(body, "container"), "channel_id")
    if who is None or not channel or not isinstance(actions, list) or not actions:
        return None
    action = actions[0] if isinstance(actions[0], dict) else {}
    command = _str(action, "value")
    if not _str(action, "action_id").startswith(forms.BUTTON_ACTION_PREFIX) or not command.startswith("/"):
        return None
    workspace, user = who
    trigger = _str(body, "trigger_id")
    event_id = trigger or f"{channel}:{user}:{_str(action, 'action_ts')}"
    return Inbound(
        IncomingMessage(
            event_id=f"act:{event_id}",
            user=UserRef(PLATFORM, workspace, user),
            channel=_where(workspace, channel, user),
            text=command,
            addressed_to_bot=True,
            received_at=now,
            display_name=display_name,
            raw=body,
            can_open_form=bool(trigger),
        ),
        ReplyTo(
            workspace,
            channel,
            user,
            private_dm,
            response_url=_str(body, "response_url") or None,
            trigger_id=trigger or None,
        ),
    )


def from_submission(
    body: dict[str, Any], *, now: datetime, display_name: str | None, dm_channel: str
) -> Inbound | None:
    """A submitted form (`view_submission`) as its command with what was entered, from the person who
    submitted it; answered in the bot's DM. One submission of one view counts once (its event id)."""
    who = speaker(body)
    view = _dict(body, "view")
    found = forms.submitted(view)
    if who is None or found is None or not _str(view, "id"):
        return None
    workspace, user = who
    command, context, values = found
    return Inbound(
        IncomingMessage(
            event_id=f"form:{_str(view, 'id')}",
            user=UserRef(PLATFORM, workspace, user),
            channel=ChannelRef(PLATFORM, workspace, user, "dm"),
            text=command,
            addressed_to_bot=True,
            received_at=now,
            display_name=display_name,
            raw=body,
            submitted=FormSubmission(context, tuple(values.items())),
        ),
        ReplyTo(workspace, dm_channel, user, True),
    )


def speaker(body: dict[str, Any]) -> tuple[str, str] | None:
    """(workspace, user) of a command, event or interaction payload, to look the name up before
    translating. An interaction's person is `user.id`, in their own workspace (`user.team_id`)."""
    event = body.get("event")
    if isinstance(event, dict):
        workspace, user = _str(body, "team_id") or _str(event, "team"), _str(event, "user")
    elif isinstance(body.get("user"), dict):
        person = _dict(body, "user")
        workspace = _str(person, "team_id") or _str(_dict(body, "team"), "id")
        user = _str(person, "id")
    else:
        workspace, user = _str(body, "team_id"), _str(body, "user_id")
    return (workspace, user) if workspace and user else None


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _where(workspace: str, channel: str, user: str) -> ChannelRef:
    """Commands typed in any DM are private to the speaker; anywhere else the conversation is a channel."""
    if channel.startswith("D"):
        return ChannelRef(PLATFORM, workspace, user, "dm")
    return ChannelRef(PLATFORM, workspace, channel, "group")


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""

"""Typed command errors. Each becomes a reply rendered from the `error` template, never a stack trace."""

from __future__ import annotations

from typing import Any


class CommandError(Exception):
    """A reason a command cannot run, with a code the `error` template explains in the team's language."""

    code = "internal"

    def __init__(self, **detail: Any) -> None:
        super().__init__(f"{self.code}: {detail}")
        self.detail = detail


class UnknownCommand(CommandError):
    code = "unknown_command"

    def __init__(self, text: str, suggestion: str | None = None) -> None:
        super().__init__(text=text, suggestion=suggestion)


class MissingArgument(CommandError):
    code = "missing_argument"

    def __init__(self, argument: str, **extra: Any) -> None:
        super().__init__(argument=argument, **extra)


class InvalidArgument(CommandError):
    code = "invalid_argument"

    def __init__(self, argument: str, value: str, reason: str, **extra: Any) -> None:
        super().__init__(argument=argument, value=value, reason=reason, **extra)
        self.reason = reason


class PermissionDenied(CommandError):
    code = "permission_denied"

    def __init__(self, command: str, required: str) -> None:
        super().__init__(command=command, required=required)


class WrongPlace(CommandError):
    code = "wrong_place"

    def __init__(self, where: str) -> None:
        super().__init__(where=where)


class Refused(CommandError):
    """A rule of the product said no (self-kudos, daily cap, undo too late …): `code` names which."""

    def __init__(self, code: str, **detail: Any) -> None:
        self.code = code
        super().__init__(**detail)

"""Turning what a person typed into a command word and typed arguments, on every platform alike."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "「": '"', "」": '"', "『": '"', "』": '"'}
)
_PREFIXES = ("/", "／", "\\")
_SLACK_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def normalize(text: str) -> str:
    """Full-width letters, digits and punctuation become ASCII; smart quotes straight; outer space gone."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return folded.replace("\u3000", " ").strip()


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    word: str
    args: tuple[str, ...]
    rest: str  # everything after the command word, as typed (normalised)
    had_prefix: bool


def split_command(text: str) -> ParsedCommand | None:
    """Split `/goal team 30万 本月` into its word and arguments; None for an empty message."""
    clean = normalize(text)
    had_prefix = clean.startswith(_PREFIXES)
    if had_prefix:
        clean = clean[1:].lstrip()
    if not clean:
        return None
    word, _, rest = clean.partition(" ")
    if "\n" in word:
        word, _, more = word.partition("\n")
        rest = f"{more} {rest}".strip()
    rest = rest.strip()
    return ParsedCommand(word=word.lower(), args=tokenize(rest), rest=rest, had_prefix=had_prefix)


def tokenize(text: str) -> tuple[str, ...]:
    """Whitespace-separated tokens; a double-quoted run stays one token."""
    return tuple(m.group(1) if m.group(1) is not None else m.group(2) for m in _TOKEN.finditer(text))


def mention_token(token: str) -> str | None:
    """The name or id a token mentions: `@alice` -> `alice`, `<@U123|bob>` -> `U123`, else None."""
    match = _SLACK_MENTION.fullmatch(token)
    if match:
        return match.group(1)
    if token.startswith("@") and len(token) > 1:
        return token[1:]
    return None

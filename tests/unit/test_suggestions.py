"""'Did you mean …' for a word no command has: the closest command word of two characters or more, `help`
for a greeting or a short word like nothing — never a one-letter alias (`h`, `?`)."""

from __future__ import annotations

import pytest

from bot.commands import build_registry


@pytest.mark.parametrize("word", ["hi", "Hi", "hi!", "hello", "hey", "yo", "你好", "嗨", "ok", "xyz"])
def test_greetings_and_short_unknown_words_suggest_help(word):
    assert build_registry().suggest(word) == "help"


@pytest.mark.parametrize(("word", "closest"), [("dael", "deal"), ("chekin", "checkin"), ("leav", "leave")])
def test_a_misspelt_command_suggests_the_command(word, closest):
    assert build_registry().suggest(word) == closest


def test_no_one_letter_alias_is_ever_suggested():
    registry = build_registry()
    one_letter = {word for spec in registry.specs() for word in (spec.name, *spec.aliases) if len(word) < 2}
    assert one_letter  # `h` and `?` exist, and resolve when typed …
    tried = ["hi", "h1", "hh", "ha", "?!", "??", "i", "a", "x"]
    assert {registry.suggest(word) for word in tried} & one_letter == set()  # … but are never suggested
    assert registry.suggest("qwertyuiop") is None

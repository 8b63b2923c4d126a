"""The shared walk of the block tree: every element of bot/messages.py reaches a method of every
platform's encoder, and an element nobody maps is an error rather than a silently missing line."""

from __future__ import annotations

import typing
from dataclasses import dataclass

import pytest

from adapters.console.render import ConsoleEncoder, render_console
from adapters.dingtalk.render import DingTalkEncoder
from adapters.slack.render import SlackEncoder
from adapters.wecom.render import WeComMarkdownEncoder, WeComTextEncoder
from bot.messages import (
    Block,
    Bold,
    BulletList,
    Divider,
    Fields,
    Heading,
    Image,
    Inline,
    Link,
    Mention,
    OutgoingMessage,
    Paragraph,
    Progress,
    Text,
)
from bot.rendering.encoder import MessageEncoder, PlainTextEncoder

ENCODERS = [
    ConsoleEncoder(),
    SlackEncoder(),
    DingTalkEncoder(notify=True),
    WeComMarkdownEncoder(robot=True),
    WeComTextEncoder(),
]
INLINES: tuple[Inline, ...] = (Text("a"), Bold("b"), Mention("U123", "Ann"), Link("https://e.com", "e"))
BLOCKS: tuple[Block, ...] = (
    Heading(INLINES),
    Paragraph(INLINES),
    BulletList((INLINES,)),
    Fields((("k", "v"),)),
    Progress(0.5, "half"),
    Divider(),
    Image("https://e.com/a.png", "pic"),
)


def test_the_samples_hold_every_block_and_inline_type() -> None:
    assert {type(b) for b in BLOCKS} == set(typing.get_args(Block))
    assert {type(i) for i in INLINES} == set(typing.get_args(Inline))


@pytest.mark.parametrize("encoder", ENCODERS, ids=lambda e: type(e).__name__)
def test_every_encoder_maps_every_element(encoder: MessageEncoder) -> None:
    assert len(encoder.blocks(BLOCKS)) == len(BLOCKS)
    assert len(encoder.inlines(INLINES)) == len(INLINES)


@dataclass(frozen=True)
class Unknown:
    text: str = "?"


@pytest.mark.parametrize("encoder", ENCODERS, ids=lambda e: type(e).__name__)
def test_an_unknown_element_is_an_error(encoder: MessageEncoder) -> None:
    with pytest.raises(TypeError, match="unknown block Unknown"):
        encoder.block(Unknown())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown inline Unknown"):
        encoder.inline(Unknown())  # type: ignore[arg-type]


def test_an_encoder_without_an_element_says_which() -> None:
    with pytest.raises(TypeError, match="unknown block Image"):
        PlainTextEncoder().block(Image("https://e.com/a.png"))


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_console_shows_a_progress_bar_of_no_finite_value(value: float) -> None:
    # The console's own bar used to raise here while WeCom's drew an empty one; now both share one.
    shown = render_console(OutgoingMessage((Progress(value, "goal"),), ""))
    assert shown == "░░░░░░░░░░ — goal"

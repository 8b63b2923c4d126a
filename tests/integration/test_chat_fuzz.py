"""Whatever a member types, the bot answers with a reply (or stays quiet) and never raises."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FixedClock
from bot.messages import ChannelRef, IncomingMessage, UserRef
from tests.integration.conftest import SHANGHAI
from tests.support.chat import open_chat, write_config

WORDS = st.sampled_from(
    [
        "/deal",
        "/成交",
        "/goal",
        "/目标",
        "/kudos",
        "/点赞",
        "/rank",
        "/排行",
        "/recap",
        "/team",
        "/团队",
        "/leave",
        "/请假",
        "/checkin",
        "/打卡",
        "/help",
        "team",
        "group",
        "me",
        "@alice",
        "@nobody",
        "undo",
        "30万",
        "1.2w",
        "-5",
        "0",
        "abc",
        "month",
        "本周",
        "deals",
        "setup",
        "role",
        "schedule",
        "25:99",
        "2026-02-30",
        "..",
        "{{ 7*7 }}",
        "<!channel>",
        "@所有人",
        "；",
        "／",
        "１２８００",
        "'; DROP TABLE deals; --",
    ]
)
TEXT = st.one_of(st.text(max_size=80), st.lists(WORDS, min_size=1, max_size=6).map(" ".join))


@pytest.mark.slow
def test_any_text_gets_an_answer_and_never_a_crash(tmp_path):
    """Hypothesis drives a real app on SQLite, on a loop of this test's own."""
    loop = asyncio.new_event_loop()
    clock = FixedClock(datetime(2026, 11, 23, 10, tzinfo=SHANGHAI))
    chat = loop.run_until_complete(
        open_chat(write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}"), clock, None, migrate=True)
    )
    ids = itertools.count()

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=TEXT, who=st.sampled_from(["boss", "alice", "bob", "stranger"]), dm=st.booleans())
    def one(text: str, who: str, dm: bool) -> None:
        message = IncomingMessage(
            event_id=f"fuzz-{next(ids)}",
            user=UserRef("console", "W1", who),
            channel=ChannelRef("console", "W1", who if dm else "C-east", "dm" if dm else "group"),
            text=text,
            addressed_to_bot=True,
            received_at=clock.now(),
        )
        reply = loop.run_until_complete(chat.app.dispatcher.handle(message))
        if reply is not None:
            assert reply.fallback_text.strip()
            assert "出了点问题" not in reply.fallback_text, text  # the internal-error apology means a bug

    try:
        one()
        assert next(ids) >= 100  # hypothesis really ran the examples
    finally:
        loop.run_until_complete(chat.app.close())
        loop.close()

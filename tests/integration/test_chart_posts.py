"""Charts ride in the posts they illustrate: on when `[images] enabled`, dropped for destinations that
cannot show pictures (their text is the whole post) and when turned off."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from bot.delivery.worker import DeliveryWorker
from bot.messages import Image, OutgoingMessage, png_bytes
from bot.ports import Capability
from bot.services import directory
from bot.services.posts import run_post
from bot.services.seed import seed_teams
from bot.storage.orm import OutboxRow
from tests.integration.conftest import SHANGHAI


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


async def post(chat, kind: str) -> None:
    async with chat.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        assert await run_post(uow, chat.app.renderer, team, kind, chat.clock.now()) == "posted"
        await uow.commit()


async def outbox(chat) -> list[OutgoingMessage]:
    """The channel's posts (a leader's DM naming who has not checked in is no chart's place)."""
    async with chat.app.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxRow).where(OutboxRow.channel_kind == "group").order_by(OutboxRow.id)
        )
        return [OutgoingMessage.from_json(r.payload) for r in rows]


def pictures(message: OutgoingMessage) -> list[bytes]:
    return [png for b in message.blocks if isinstance(b, Image) and (png := png_bytes(b)) is not None]


@pytest.mark.slow
async def test_recap_and_summary_carry_their_charts_and_a_text_only_adapter_gets_the_text(chat) -> None:
    chat.at(at(26, 11))
    await chat.say("alice", "/deal 12800")
    chat.at(at(26, 18))
    await post(chat, "recap")
    await post(chat, "weekly")
    await chat.settle()
    recap, weekly = [m for m in await outbox(chat) if pictures(m)]
    assert "12,800" in recap.fallback_text or "1.28万" in recap.fallback_text
    for message, height in ((recap, 190 + 30), (weekly, 640)):
        (png,) = pictures(message)
        image = PILImage.open(io.BytesIO(png))
        assert image.size == (800, height)
    # The test adapter declares no IMAGES: it got both posts, complete, without the pictures.
    sent = [m for _, m in chat.adapter.sent if m.fallback_text in (recap.fallback_text, weekly.fallback_text)]
    assert len(sent) == 2 and all(pictures(m) == [] for m in sent)
    assert [b for m in sent for b in m.blocks] == [
        b for m in (recap, weekly) for b in m.blocks if not isinstance(b, Image)
    ]


async def test_a_lead_change_in_a_pk_carries_the_race(chat) -> None:
    chat.at(at(23, 9))
    await chat.say("boss", "/team pk start 周冲刺 2026-11-23..2026-11-27 狼队 虎队")
    await chat.say("alice", "/deal 5000")
    await chat.say("bob", "/deal 8000")  # 虎队 passes 狼队
    (race,) = [m for m in await outbox(chat) if pictures(m)]
    assert "反超" in race.fallback_text or any("反超" in str(b) for b in race.blocks)
    image = PILImage.open(io.BytesIO(pictures(race)[0]))
    assert image.size == (800, 130 + 26 * 2)


async def test_images_off_draws_nothing(chat) -> None:
    async with chat.app.uow_factory() as uow:
        await seed_teams(uow, list(chat.app.config.teams), chat.clock.now(), images=False)
        await uow.commit()
    chat.at(at(26, 18))
    await post(chat, "recap")
    (recap,) = await outbox(chat)
    assert pictures(recap) == [] and "复盘" in recap.fallback_text


async def test_the_worker_takes_charts_out_when_images_are_off_even_for_an_adapter_that_shows_them(
    chat,
) -> None:
    chat.at(at(26, 18))
    await post(chat, "recap")
    showing = replace(chat.adapter, capabilities=chat.adapter.capabilities | Capability.IMAGES, sent=[])
    off = DeliveryWorker(chat.app.uow_factory, {"console": showing}, chat.clock, images=False)
    await off.drain()
    ((_, sent),) = [(to, m) for to, m in showing.sent if to.kind == "group"]  # not the leader's DM
    assert pictures(sent) == [] and sent.fallback_text == (await outbox(chat))[0].fallback_text


async def test_an_adapter_that_shows_images_gets_the_chart(chat) -> None:
    chat.at(at(26, 18))
    await post(chat, "recap")
    showing = replace(chat.adapter, capabilities=chat.adapter.capabilities | Capability.IMAGES, sent=[])
    await DeliveryWorker(chat.app.uow_factory, {"console": showing}, chat.clock).drain()
    ((_, sent),) = [(to, m) for to, m in showing.sent if to.kind == "group"]  # not the leader's DM
    assert pictures(sent) == pictures((await outbox(chat))[0]) != []


async def test_rank_chart_on_request_only(chat) -> None:
    chat.at(at(24, 11))
    await chat.say("alice", "/deal 12800")
    await chat.say("bob", "/deal 6000")
    plain = await chat.say("bob", "/rank week")
    assert chat.last_reply is not None and pictures(chat.last_reply) == []
    charted = await chat.say("bob", "/rank week chart")
    assert charted.startswith(plain) and charted.endswith("[image: 本周个人排行 · 业绩]")  # text complete
    (png,) = pictures(chat.last_reply)
    assert PILImage.open(io.BytesIO(png)).size == (800, 110 + 30 * 2)
    await chat.say("bob", "/排行 本周 小组 图表")
    (png,) = pictures(chat.last_reply)
    assert PILImage.open(io.BytesIO(png)).size == (800, 110 + 30 * 2)  # 狼队 and 虎队 sold

"""Charts into WeCom, each route its own way, checked on the wire by the fake: a group robot gets the
picture inline (base64 + md5 of the bytes, ≤ 2 MB); an appchat or a DM gets it by media upload, then an
image message naming the very media id the upload returned."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio

from bot.delivery.outbox import enqueue
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text, png_image
from tests.fakes.wecom import CORP_ID, EAST_CHANNEL, ROBOT_KEY, WEST_CHAT, WeComBot, wecom_bot
from tests.golden.chart_samples import samples

EAST = ChannelRef("wecom", CORP_ID, EAST_CHANNEL, "group")
WEST = ChannelRef("wecom", CORP_ID, WEST_CHAT, "group")
PNG = samples()["race.zh-CN"][0]()


@pytest_asyncio.fixture
async def bot(engine, database_url, tmp_path) -> AsyncIterator[WeComBot]:
    async with wecom_bot(tmp_path, database_url) as running:
        yield running


def charted(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)), png_image(PNG, "小组PK")), text)


async def put(bot: WeComBot, channel: ChannelRef, message: OutgoingMessage) -> None:
    async with bot.app.uow_factory() as uow:
        key = f"test:{channel.id}:{message.fallback_text}"
        await enqueue(uow.session, channel=channel, message=message, dedupe_key=key, now=bot.clock.now())
        await uow.commit()


async def test_the_group_robot_gets_the_chart_inline_with_the_md5_of_its_bytes(bot):
    await put(bot, EAST, charted("小组PK 战况"))
    await bot.deliver()
    markdown, image = bot.fake.robot_posts(ROBOT_KEY)
    assert markdown.msgtype == "markdown" and "小组PK 战况" in markdown.content
    assert image.msgtype == "image" and image.content == hashlib.md5(PNG).hexdigest()
    assert bot.fake.refused == []


async def test_an_appchat_gets_the_chart_by_media_upload_then_an_image_message(bot):
    await put(bot, WEST, charted("复盘"))
    await bot.deliver()
    markdown, image = bot.fake.appchat_posts(WEST_CHAT)
    assert markdown.msgtype == "markdown" and "复盘" in markdown.content
    assert image.msgtype == "image" and image.payload["chatid"] == WEST_CHAT
    (media_id,) = bot.fake.media
    assert image.content == media_id and bot.fake.media[media_id] == PNG
    assert bot.fake.refused == []


async def test_a_dm_gets_the_chart_the_same_way_and_a_failed_image_is_retried_alone(bot):
    user = next(iter(bot.fake.users))
    bot.fake.script["media/upload"] = [-1]  # WeCom busy: the upload fails once
    await put(bot, ChannelRef("wecom", CORP_ID, user, "dm"), charted("你的排名"))
    await bot.deliver()
    assert bot.fake.refused == [("media/upload", -1)] and len(bot.fake.dms(user)) == 1
    bot.clock.advance(timedelta(minutes=5))
    await bot.deliver()
    markdown, image = bot.fake.dms(user)  # the text once, then the picture
    assert markdown.msgtype == "markdown" and image.msgtype == "image"
    assert bot.fake.media[image.content] == PNG and image.payload["agentid"] == bot.fake.agent_id

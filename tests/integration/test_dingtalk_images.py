"""Charts into DingTalk, checked on the wire by the fake: the app robot uploads the picture to
`{oapi}/media/upload` and posts `sampleImageMsg` whose photoURL is the media id the upload returned;
a custom robot (no public URL for the picture) and a DM get the text, complete, and no error."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from bot.clock import FixedClock
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text, png_image
from bot.ports import DeliveryError
from tests.fakes.dingtalk import CORP, EAST, WEST, DingTalkChat, open_dingtalk
from tests.golden.chart_samples import samples
from tests.support.progress import Progress

PNG = samples()["summary.zh-CN"][0]()


@pytest_asyncio.fixture
async def dt(engine, database_url, tmp_path) -> AsyncIterator[DingTalkChat]:
    clock = FixedClock(datetime(2026, 11, 23, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    async with open_dingtalk(tmp_path, database_url, clock) as chat:
        yield chat


def charted(text: str) -> OutgoingMessage:
    return OutgoingMessage((Paragraph((Text(text),)), png_image(PNG, "本周走势")), text)


def group(channel: str) -> ChannelRef:
    return ChannelRef("dingtalk", CORP, channel, "group")


async def test_the_app_robot_uploads_the_chart_and_posts_it_by_its_media_id(dt):
    await dt.adapter.send(group(EAST), charted("周会复盘"))
    (upload,) = dt.fake.ok("/media/upload")
    assert upload.query["type"] == "image" and upload.query["access_token"] in dt.fake.valid_tokens
    assert upload.body["size"] == len(PNG) and upload.body["filename"].endswith(".png")
    (text,) = [p for p in dt.fake.group_posts(EAST) if "text" in p]
    assert "周会复盘" in text["text"] and "base64" not in text["text"]
    assert dt.fake.group_images(EAST) == [PNG]  # photoURL named the media id that holds these bytes
    (image,) = [
        c for c in dt.fake.ok("/v1.0/robot/groupMessages/send") if c.body["msgKey"] == "sampleImageMsg"
    ]
    assert json.loads(image.body["msgParam"]) == {"photoURL": upload.answer["media_id"]}


async def test_a_failed_upload_is_retried_without_the_text_again(dt):
    dt.fake.fail("/media/upload", 200, {"errcode": -1, "errmsg": "系统繁忙"})
    progress = Progress()  # the outbox row's record of the parts sent
    with pytest.raises(DeliveryError) as failed:
        await dt.adapter.send(group(EAST), charted("小组PK"), progress)
    assert failed.value.transient and dt.fake.group_images(EAST) == []
    assert progress.recorded == [1]
    await dt.adapter.send(group(EAST), charted("小组PK"), progress)  # the outbox's retry
    assert len([p for p in dt.fake.group_posts(EAST) if "小组PK" in p.get("text", "")]) == 1
    assert dt.fake.group_images(EAST) == [PNG]


async def test_a_custom_robot_and_a_dm_get_the_text_only(dt):
    await dt.adapter.send(group(WEST), charted("西区复盘"))
    (post,) = dt.fake.robot_posts()
    assert "西区复盘" in post["markdown"]["text"] and "base64" not in str(post)
    assert dt.fake.ok("/media/upload") == []
    await dt.adapter.send(ChannelRef("dingtalk", CORP, "alice01", "dm"), charted("你的本周"))
    (text,) = dt.fake.dms("alice01")
    assert text.endswith("你的本周") or "你的本周" in text
    assert dt.fake.ok("/media/upload") == []


async def test_a_custom_robot_links_the_chart_under_public_url_which_serves_it_for_a_week(dt):
    server = dt.app.config.server.model_copy(update={"public_url": str(dt.http.base_url).rstrip("/")})
    dt.app.config = dt.app.config.model_copy(update={"server": server})  # the bot's server is the public one
    await dt.adapter.send(group(WEST), charted("西区复盘"))
    (post,) = dt.fake.robot_posts()
    text = post["markdown"]["text"]
    (url,) = re.findall(r"!\[本周走势\]\((\S+?)\)", text)
    assert url.startswith(f"{dt.app.config.server.public_url}/media/") and url.endswith(".png")
    assert "西区复盘" in text and dt.fake.ok("/media/upload") == []
    served = await dt.http.get(url)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    token = url.rsplit("/", 1)[1].removesuffix(".png")
    assert len(token) >= 40  # 32 random bytes
    wrong = await dt.http.get(url.replace(token, token[:-4] + "AAAA"))
    assert wrong.status_code == 404 and (await dt.http.get("/media/x.png")).status_code == 404
    dt.app.clock.advance(timedelta(days=7, seconds=1))
    assert (await dt.http.get(url)).status_code == 404  # kept 7 days

"""Charts into Slack: the text as a message, then the picture by Slack's external upload — the three
steps checked on the wire by the fake (same file id throughout, the exact bytes, into the channel)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text, png_image
from bot.ports import DeliveryError
from bot.services import directory
from bot.services.posts import run_post
from tests.fakes.slack import message_text
from tests.fakes.slack_bot import CHANNEL, TEAM, SlackBot, slack_bot
from tests.golden.chart_samples import samples
from tests.support.progress import Progress

PNG = samples()["rank.en"][0]()


@pytest_asyncio.fixture
async def slack(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url) as bot:
        yield bot


def steps(bot: SlackBot) -> list[str]:
    wanted = ("chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal")
    return [c.method for c in bot.fake.calls if c.method in wanted and c.ok]


async def test_a_chart_is_uploaded_into_the_channel_after_the_text(slack):
    to = ChannelRef("slack", TEAM, CHANNEL, "group")
    message = OutgoingMessage(
        (Paragraph((Text("Today: ¥12,800"),)), png_image(PNG, "Today's people")), "recap"
    )
    await slack.adapter.send(to, message)
    assert steps(slack) == ["chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal"]
    (post,) = slack.channel_posts()
    assert "data:image" not in str(post) and "Today: ¥12,800" in message_text(post)
    (announced,) = [c for c in slack.fake.calls if c.method == "files.getUploadURLExternal"]
    (completed,) = [c for c in slack.fake.calls if c.method == "files.completeUploadExternal"]
    (shared,) = slack.fake.shared_files(CHANNEL)
    assert int(announced.args["length"]) == len(PNG) and shared.data == PNG
    assert f'"id": "{shared.file_id}"' in completed.args["files"] and completed.args["channel_id"] == CHANNEL
    assert shared.title == "Today's people" and shared.filename.endswith(".png")


async def test_a_failed_upload_is_retried_without_posting_the_text_again(slack):
    to = ChannelRef("slack", TEAM, CHANNEL, "group")
    message = OutgoingMessage((Paragraph((Text("PK standings"),)), png_image(PNG, "race")), "pk")
    slack.fake.fail_next("files.completeUploadExternal", status=500, error="internal_error", retry_after=None)
    progress = Progress()  # the outbox row's record of the parts sent
    with pytest.raises(DeliveryError) as failed:
        await slack.adapter.send(to, message, progress)
    assert failed.value.transient and slack.fake.shared_files() == []
    assert progress.recorded == [1]
    await slack.adapter.send(to, message, progress)  # the outbox's retry
    assert len(slack.channel_posts()) == 1
    (shared,) = slack.fake.shared_files(CHANNEL)
    assert shared.data == PNG


async def test_the_evening_recap_goes_out_with_its_chart_through_the_outbox(slack):
    await slack.command("U0002", "/deal 12800 Acme")
    async with slack.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        assert await run_post(uow, slack.app.renderer, team, "recap", slack.app.clock.now()) == "posted"
        await uow.commit()
    await slack.settle()
    (shared,) = slack.fake.shared_files(CHANNEL)
    assert shared.data is not None and shared.data.startswith(b"\x89PNG")
    recap = [p for p in slack.channel_posts() if "12,800" in message_text(p) and "data:image" not in str(p)]
    assert recap  # the text went out too, complete and without the picture's bytes

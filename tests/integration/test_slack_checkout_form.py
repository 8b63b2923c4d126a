"""The evening check-out as a Slack form, end to end: the check-out prompt's button → a click → the
modal (all text inputs) → a missing answer refused on its field → submitted → recorded as typed answers
are, so the 夕会 recap's 经验分享 and the check-ins export show it; a form of another day or team is
refused. Signed requests, the real bolt and slack_sdk, a fake Slack on loopback."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import select

from bot.services import csv_io, directory
from bot.storage.orm import Checkout, Member
from tests.fakes.slack import message_text
from tests.fakes.slack_bot import MONDAY_10, SlackBot, slack_bot
from tests.integration.test_slack_forms import buttons, last_view, prompt_to, send_prompts


@pytest_asyncio.fixture
async def slack_zh(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url, locale="zh-CN") as bot:
        yield bot


async def checkout_of(bot: SlackBot, user: str) -> tuple[str, list[dict[str, str]]] | None:
    async with bot.app.sessionmaker() as session:
        row = (
            await session.execute(
                select(Checkout.status, Checkout.answers)
                .join(Member, Member.id == Checkout.member_id)
                .where(Member.user_id == user)
            )
        ).first()
        return None if row is None else (row[0], row[1])


async def test_checkout_prompt_click_form_submit_recorded_shared_and_exported(slack_zh):
    slack = slack_zh
    await send_prompts(slack, "checkout")
    prompt = prompt_to(slack, "U0002")
    assert "签退 1/3" in message_text(prompt)
    assert buttons(prompt) == [("📝 填写", "/checkout")]

    await slack.click("U0002", prompt)
    view_id, view = last_view(slack)
    assert slack.fake.views[view_id]["user"] == "U0002"
    assert view["title"]["text"] == "今日签退" and view["submit"]["text"] == "提交"
    inputs = {b["block_id"]: b for b in view["blocks"]}
    assert list(inputs) == ["worked", "blocked", "first_call"]
    assert all(b["element"]["type"] == "plain_text_input" for b in inputs.values())
    assert inputs["worked"]["label"]["text"].startswith("今天什么做法最管用")

    # A required answer left empty: the modal stays open with the error on that field, nothing recorded.
    missing = await slack.submit("U0002", view_id, {"worked": "先问预算再报价", "blocked": "无"})
    assert missing.json()["response_action"] == "errors"
    assert missing.json()["errors"] == {"first_call": "这一题需要回答。"}
    assert await checkout_of(slack, "U0002") == ("open", [])

    good = await slack.submit(
        "U0002", view_id, {"worked": "先问预算再报价", "blocked": "无", "first_call": "王总"}
    )
    assert good.status_code == 200 and good.content in (b"", b"{}")
    assert await checkout_of(slack, "U0002") == (
        "done",
        [
            {"key": "worked", "text": "先问预算再报价"},
            {"key": "blocked", "text": "无"},
            {"key": "first_call", "text": "王总"},
        ],
    )
    assert "签退完成" in message_text(prompt_to(slack, "U0002"))

    recap = await slack.command("U0001", "/recap")
    assert "经验分享" in recap[0] and "Alice：先问预算再报价" in recap[0]

    async with slack.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        text = await csv_io.export_checkins(uow, team, MONDAY_10.date(), MONDAY_10.date())
    alice = next(r for r in csv.DictReader(io.StringIO(text)) if "U0002" in r.values())
    assert alice["checkout_status"] == "done" and alice["checkout_worked"] == "先问预算再报价"
    assert alice["checkout_first_call"] == "王总"


async def test_checkout_command_opens_the_form_and_a_stale_or_foreign_form_is_refused(slack_zh):
    slack = slack_zh
    # /checkout with the command's trigger_id and no answers: the form, even before the evening prompt
    assert await slack.command("U0003", "/checkout") == []
    view_id, view = last_view(slack)
    assert view["title"]["text"] == "今日签退"

    meta = json.loads(view["private_metadata"])
    context = json.loads(meta["x"])
    foreign = {**view, "private_metadata": json.dumps({**meta, "x": json.dumps({**context, "team": 999})})}
    slack.fake.views["VFOREIGN"] = {**slack.fake.views[view_id], "view": {**foreign, "id": "VFOREIGN"}}
    answers = {"worked": "x", "blocked": "y", "first_call": "z"}
    await slack.submit("U0003", "VFOREIGN", answers)
    assert "签退表单已过期" in message_text(prompt_to(slack, "U0003"))
    assert await checkout_of(slack, "U0003") == ("open", [])

    clock = slack.app.clock
    clock.set(clock.now().replace(day=clock.now().day + 1))  # the form submitted the next day
    await slack.submit("U0003", view_id, answers)
    assert "签退表单已过期" in message_text(prompt_to(slack, "U0003"))
    assert await checkout_of(slack, "U0003") == ("open", [])

"""The check-in as a Slack form, end to end: the scheduled prompt's button → a click (block_actions) →
views.open with the click's trigger_id → the modal submitted (view_submission) with a bad number first
(a field error in the acknowledgement) and then good answers → recorded, counted by /recap, exported.
Signed requests into the bot's HTTP server; the real bolt and slack_sdk; a fake Slack on loopback that
takes a trigger_id once and within 3 s."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from adapters.slack.socket_mode import WatchdogSettings
from bot.services import csv_io, directory
from bot.services.posts import run_post
from bot.storage.orm import Checkin, CheckinAnswer, Member, ProcessedEvent
from tests.fakes.slack import (
    FakeSlack,
    block_actions,
    interactive_body,
    message_text,
    signed_headers,
    socket_envelope,
    view_submission,
)
from tests.fakes.slack_bot import APP_TOKEN, MONDAY_10, TEAM, SlackBot, slack_bot, workspace

ACK_LIMIT = 3.0
FAST = WatchdogSettings(check_every=0.05, hello_timeout=0.5, keepalive_every=0.2, ping_interval=10)


async def until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def slack(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url) as bot:
        yield bot
    assert max(bot.ack_seconds, default=0.0) < ACK_LIMIT


@pytest_asyncio.fixture
async def slack_zh(engine, database_url, tmp_path) -> AsyncIterator[SlackBot]:
    async with slack_bot(tmp_path, database_url, locale="zh-CN") as bot:
        yield bot


async def send_prompts(bot: SlackBot, kind: str = "checkin") -> None:
    """The scheduled prompts of `kind` to team east, delivered."""
    async with bot.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        await run_post(uow, bot.app.renderer, team, kind, bot.app.clock.now())
        await uow.commit()
    await bot.settle()


def prompt_to(bot: SlackBot, user: str) -> dict[str, Any]:
    posts = bot.fake.posts(bot.dm_channel(user))
    assert posts, f"no DM to {user}"
    return posts[-1]


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    blocks = message.get("blocks") or []
    return [(e["text"]["text"], e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]]


def last_view(bot: SlackBot) -> tuple[str, dict[str, Any]]:
    view_id = list(bot.fake.views)[-1]
    return view_id, bot.fake.views[view_id]["view"]


async def answers(bot: SlackBot, user: str) -> dict[str, str]:
    async with bot.app.sessionmaker() as session:
        rows = await session.execute(
            select(CheckinAnswer.question_key, CheckinAnswer.text)
            .join(Checkin, Checkin.id == CheckinAnswer.checkin_id)
            .join(Member, Member.id == Checkin.member_id)
            .where(Member.user_id == user)
        )
        return dict(rows.all())


async def test_prompt_click_form_field_error_then_recorded_counted_and_exported(slack):
    await send_prompts(slack)
    prompt = prompt_to(slack, "U0002")
    assert "Check-in 1/3" in message_text(prompt)
    assert buttons(prompt) == [
        ("📝 Fill in the form", "/checkin"),
        ("⏭ Skip today", "/checkin skip"),
        ("🏖 On leave today", f"/leave {MONDAY_10.date().isoformat()}"),
    ]

    clicked = await slack.click("U0002", prompt)
    assert clicked.status_code == 200
    opened = slack.fake.succeeded("views.open")
    assert len(opened) == 1  # within 3 s of the click, with its trigger_id
    view_id, view = last_view(slack)
    assert slack.fake.views[view_id]["user"] == "U0002"
    print(f"click → views.open: {slack.fake.views[view_id]['seconds_after_trigger'] * 1000:.0f} ms")
    assert view["title"]["text"] == "Today's check-in" and view["submit"]["text"] == "Send"
    inputs = {b["block_id"]: b for b in view["blocks"]}
    assert list(inputs) == ["done", "target", "blockers"]
    assert inputs["target"]["element"]["type"] == "number_input"  # an amount: a number input
    assert inputs["done"]["element"]["type"] == "plain_text_input"
    assert inputs["blockers"]["optional"] is True and inputs["done"]["optional"] is False
    assert inputs["done"]["label"]["text"] == "What did you get done yesterday?"

    # A bad amount: the modal stays open with the error on that field; nothing is recorded.
    bad = await slack.submit("U0002", view_id, {"done": "visited 3 clients", "target": "lots"})
    assert bad.status_code == 200
    assert bad.json()["response_action"] == "errors"
    assert list(bad.json()["errors"]) == ["target"]
    assert "“lots” is not an amount" in bad.json()["errors"]["target"]
    assert await answers(slack, "U0002") == {}

    good = await slack.submit(
        "U0002", view_id, {"done": "visited 3 clients & sent a quote", "target": "12800", "blockers": ""}
    )
    assert good.status_code == 200 and good.content in (b"", b"{}")  # the modal closes
    assert await answers(slack, "U0002") == {
        "done": "visited 3 clients & sent a quote",
        "target": "12800",
        "blockers": "",
    }
    done = message_text(prompt_to(slack, "U0002"))
    assert "Check-in done!" in done and "visited 3 clients &amp; sent a quote" in done

    # The same view submitted again (a double click, Slack's retry) changes nothing and says nothing —
    # also in another process, which has not seen it (the event id is kept in the database).
    dms = len(slack.fake.posts(slack.dm_channel("U0002")))
    slack.adapter._taken.pop(f"view:{view_id}")
    again = await slack.submit("U0002", view_id, {"done": "something else", "target": "99"})
    assert again.status_code == 200
    assert await answers(slack, "U0002") == {
        "done": "visited 3 clients & sent a quote",
        "target": "12800",
        "blockers": "",
    }
    assert len(slack.fake.posts(slack.dm_channel("U0002"))) == dms

    recap = await slack.command("U0001", "/recap")
    assert "Alice" in recap[0]
    async with slack.app.sessionmaker() as session:
        done_count = await session.scalar(
            select(func.count()).select_from(Checkin).where(Checkin.status == "done")
        )
    assert done_count == 1
    assert "📝 Check-ins: 1/5 (20%)" in recap[0]  # the form's check-in counts
    assert "planned ¥12,800" in recap[0]  # and its amount is the morning's commitment

    async with slack.app.uow_factory() as uow:
        team = await directory.team_by_slug(uow.session, "east")
        text = await csv_io.export_checkins(uow, team, MONDAY_10.date(), MONDAY_10.date())
    rows = list(csv.DictReader(io.StringIO(text)))
    print(f"acknowledgements: max {max(slack.ack_seconds) * 1000:.0f} ms over {len(slack.ack_seconds)}")
    alice = next(r for r in rows if "U0002" in r.values())
    assert alice["status"] == "done" and alice["done"] == "visited 3 clients & sent a quote"
    assert alice["target"] == "12800.00"  # amounts in major units


async def test_editing_the_same_day_opens_the_form_pre_filled(slack):
    await slack.command("U0002", "/checkin did the demo; 2.5万; none", channel=slack.dm_channel("U0002"))
    assert (await answers(slack, "U0002"))["target"] == "2.5万"
    # /checkin from a channel, with the command's trigger_id: the form, filled with today's answers
    shown = await slack.command("U0002", "/checkin")
    assert shown == []  # no text answer: the modal is the answer
    view_id, view = last_view(slack)
    initial = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
    assert initial == {"done": "did the demo", "target": "25000", "blockers": "none"}
    assert view["title"]["text"] == "Edit today's check-in"
    await slack.submit("U0002", view_id, {"done": "did the demo", "target": "30000", "blockers": "none"})
    assert (await answers(slack, "U0002"))["target"] == "30000"
    assert "Check-in updated!" in message_text(prompt_to(slack, "U0002"))
    # /checkin edit opens it too, with the answers as they are now
    assert await slack.command("U0002", "/checkin edit") == []
    _, view = last_view(slack)
    assert [b["element"].get("initial_value") for b in view["blocks"]] == ["did the demo", "30000", "none"]
    # the skip button acts as the person who clicked: Bob's check-in, not Alice's
    await send_prompts(slack)
    await slack.click("U0003", prompt_to(slack, "U0003"), 1)
    async with slack.app.sessionmaker() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Member.user_id, Checkin.status).join(Member, Member.id == Checkin.member_id)
                )
            ).all()
        )
    assert statuses["U0003"] == "skipped" and statuses["U0002"] == "done"
    assert (await answers(slack, "U0002"))["target"] == "30000"


async def test_a_late_view_open_is_refused_and_the_person_told_what_to_do(slack):
    await send_prompts(slack)
    prompt = prompt_to(slack, "U0002")
    real = slack.fake.clock
    issued_at = real()
    calls = iter([issued_at, issued_at + 4.0])  # issued, then views.open 4 s later
    slack.fake.clock = lambda: next(calls, issued_at + 4.0)
    await slack.click("U0002", prompt)
    slack.fake.clock = real
    [attempt] = slack.fake.attempts("views.open")
    assert attempt.error == "expired_trigger_id"
    told = message_text(prompt_to(slack, "U0002"))
    assert "did not open in time" in told and "/checkin" in told
    # A trigger_id already exchanged is refused by the fake too (as Slack does).
    slack.fake.triggers["1.2.x"] = (TEAM, "U0002", real())
    slack.fake.exchanged.add("1.2.x")
    assert slack.fake._views_open(slack.fake.workspaces[TEAM], {"trigger_id": "1.2.x", "view": {}}) == {
        "ok": False,
        "error": "exchanged_trigger_id",
    }


async def test_forged_clicks_and_submissions_get_401_and_change_nothing(slack):
    await send_prompts(slack)
    prompt = prompt_to(slack, "U0002")
    click = interactive_body(
        block_actions(TEAM, "U0002", prompt["channel"], prompt, 0, slack.fake.issue_trigger(TEAM, "U0002"))
    )
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for headers in (
        signed_headers("not-the-secret", click),
        signed_headers(SECRET_FOR_TESTS, click, int(time.time()) - 400),
        {},
    ):
        response = await slack.http.post("/slack/events", content=click, headers={**form, **headers})
        assert response.status_code == 401
    await slack.settle()
    assert slack.fake.attempts("views.open") == []
    # a real click opens a view; a forged submission of it records nothing
    await slack.click("U0002", prompt)
    _, view = last_view(slack)
    trigger = slack.fake.issue_trigger(TEAM, "U0002")
    body = interactive_body(view_submission(TEAM, "U0002", view, {"done": "x", "target": "1"}, trigger))
    response = await slack.http.post(
        "/slack/events", content=body, headers={**form, **signed_headers("not-the-secret", body)}
    )
    assert response.status_code == 401
    tampered = body.replace(b"U0002", b"U0003")
    response = await slack.http.post(
        "/slack/events", content=tampered, headers={**form, **signed_headers(SECRET_FOR_TESTS, body)}
    )
    assert response.status_code == 401
    await slack.settle()
    assert await answers(slack, "U0002") == {} and await answers(slack, "U0003") == {}
    async with slack.app.sessionmaker() as session:
        seen = await session.scalar(
            select(func.count()).select_from(ProcessedEvent).where(ProcessedEvent.event_id.like("form:%"))
        )
    assert seen == 0


async def test_a_form_from_another_team_or_day_is_refused_with_a_clear_line(slack):
    await send_prompts(slack)
    await slack.click("U0002", prompt_to(slack, "U0002"))
    view_id, view = last_view(slack)
    # a form made for another team (its context names team 999) changes nothing for the submitter
    meta = json.loads(view["private_metadata"])
    context = json.loads(meta["x"])
    foreign = {**view, "private_metadata": json.dumps({**meta, "x": json.dumps({**context, "team": 999})})}
    slack.fake.views["VFOREIGN"] = {**slack.fake.views[view_id], "view": {**foreign, "id": "VFOREIGN"}}
    await slack.submit("U0002", "VFOREIGN", {"done": "x", "target": "100"})
    assert "out of date" in message_text(prompt_to(slack, "U0002"))
    assert await answers(slack, "U0002") == {}
    clock = slack.app.clock
    clock.set(clock.now().replace(day=clock.now().day + 1))  # submitted the next day
    await slack.submit("U0002", view_id, {"done": "x", "target": "100"})
    assert "out of date" in message_text(prompt_to(slack, "U0002"))
    assert await answers(slack, "U0002") == {}


async def test_the_form_in_chinese(slack_zh):
    slack = slack_zh
    await send_prompts(slack)
    prompt = prompt_to(slack, "U0002")
    assert buttons(prompt) == [
        ("📝 填写表单", "/checkin"),
        ("⏭ 今天跳过", "/checkin skip"),
        ("🏖 今天请假", f"/leave {MONDAY_10.date().isoformat()}"),
    ]
    await slack.click("U0002", prompt)
    view_id, view = last_view(slack)
    assert view["title"]["text"] == "今日打卡" and view["submit"]["text"] == "提交"
    bad = await slack.submit("U0002", view_id, {"done": "拜访客户", "target": "很多"})
    assert bad.json()["response_action"] == "errors"
    assert "「很多」不是有效的金额" in bad.json()["errors"]["target"]
    missing = await slack.submit("U0002", view_id, {"target": "5万"})
    assert missing.json()["errors"] == {"done": "这一题需要回答。"}
    await slack.submit("U0002", view_id, {"done": "拜访客户", "target": "5万"})
    assert await answers(slack, "U0002") == {"done": "拜访客户", "target": "5万", "blockers": ""}
    assert "打卡完成" in message_text(prompt_to(slack, "U0002")) or "✅" in message_text(
        prompt_to(slack, "U0002")
    )


SECRET_FOR_TESTS = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_over_socket_mode_the_click_and_the_field_errors_travel_in_frames(
    engine, database_url, tmp_path
):
    fake = FakeSlack([workspace()], app_token=APP_TOKEN)
    async with slack_bot(tmp_path, database_url, fake=fake, mode="socket", watchdog=FAST) as bot:
        await until(lambda: bot.adapter._socket is not None and bot.adapter._socket.health()["ok"])
        await send_prompts(bot)
        prompt = prompt_to(bot, "U0002")
        trigger = fake.issue_trigger(TEAM, "U0002")
        frame = socket_envelope(
            "interactive", block_actions(TEAM, "U0002", prompt["channel"], prompt, 0, trigger)
        )
        await fake.socket_send(frame)
        assert await fake.socket_ack(frame["envelope_id"]) == {"envelope_id": frame["envelope_id"]}
        await bot.settle()
        await until(lambda: bool(fake.views))
        _, view = last_view(bot)

        submission = view_submission(TEAM, "U0002", view, {"done": "demo", "target": "abc"}, trigger)
        frame = socket_envelope("interactive", submission)
        await fake.socket_send(frame)
        ack = await fake.socket_ack(frame["envelope_id"])
        assert ack["payload"]["response_action"] == "errors" and list(ack["payload"]["errors"]) == ["target"]

        good = view_submission(TEAM, "U0002", view, {"done": "demo", "target": "8000"}, trigger)
        frame = socket_envelope("interactive", good)
        await fake.socket_send(frame)
        ack = await fake.socket_ack(frame["envelope_id"])
        assert ack == {"envelope_id": frame["envelope_id"]}  # accepted: the modal closes
        await bot.settle()
        assert await answers(bot, "U0002") == {"done": "demo", "target": "8000", "blockers": ""}


def test_the_manifest_switches_interactivity_on_at_the_one_request_url():
    import yaml

    from tests.integration.test_slack_render import MANIFEST

    settings = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"] == settings["event_subscriptions"]["request_url"]
    assert settings["interactivity"]["request_url"].endswith("/slack/events")

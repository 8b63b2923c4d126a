"""Buttons and forms in messages: how templates declare them, how they survive the outbox, how Slack
gets them, and how a submission's values are checked before they are taken."""

from __future__ import annotations

import json

import pytest

from adapters.console.render import render_console
from adapters.slack.forms import FORM_CALLBACK_ID, actions_block, modal_view, submitted
from adapters.slack.render import render_slack
from bot.messages import Button, Form, FormField, OutgoingMessage, Paragraph, Text
from bot.rendering.engine import Renderer
from bot.rendering.parse import parse_message
from bot.services.checkin_form import FormContext, problems, read_context

FORM = Form(
    title="Today's check-in",
    submit="Send",
    command="/checkin",
    fields=(
        FormField("done", "What did you do?", "text"),
        FormField("target", "Target?", "amount", initial="12800"),
        FormField("calls", "Calls?", "number", required=False),
    ),
    context="ctx",
)


def test_templates_declare_buttons_and_a_form():
    msg = parse_message(
        '<msg fallback="f"><p>hi</p><buttons><button command="/checkin">Go</button>'
        '<button command="/checkin skip">Skip</button></buttons>'
        '<form title="T" submit="S" command="/checkin"><field key="a" kind="number" required="false" '
        'initial="3" hint="h">A?</field></form></msg>'
    )
    assert msg.buttons == (Button("Go", "/checkin"), Button("Skip", "/checkin skip"))
    assert msg.form == Form("T", "S", "/checkin", (FormField("a", "A?", "number", False, "3", "h"),))
    assert [type(b) for b in msg.blocks] == [Paragraph]  # the text is complete without them


@pytest.mark.parametrize(
    "bad",
    [
        '<msg><buttons><button command="checkin">Go</button></buttons></msg>',  # not a command
        "<msg><buttons><p>x</p></buttons></msg>",
        '<msg><form title="T" submit="S" command="/c"><field key="a" kind="date">A</field></form></msg>',
        '<msg><form title="T" submit="S" command="/c"></form></msg>',  # no field
        '<msg><buttons><button command="/c" style="x">Go</button></buttons></msg>',
    ],
)
def test_a_wrong_button_or_form_is_a_template_bug(bad):
    with pytest.raises(ValueError):
        parse_message(bad)


def test_buttons_and_the_form_survive_the_outbox():
    msg = OutgoingMessage((Paragraph((Text("hi"),)),), "hi", (Button("Go", "/checkin"),), FORM)
    assert OutgoingMessage.from_json(msg.to_json()) == msg
    plain = OutgoingMessage((Paragraph((Text("hi"),)),), "hi")
    assert "buttons" not in plain.to_json() and OutgoingMessage.from_json(plain.to_json()) == plain


def test_slack_gets_an_actions_block_and_the_console_numbered_choices():
    msg = OutgoingMessage((Paragraph((Text("hi"),)),), "hi", (Button("Go", "/checkin"), Button("No", "/x")))
    [slack] = render_slack(msg)
    actions = slack.blocks[-1]
    assert actions["type"] == "actions"
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("teambeat.cmd.0", "/checkin"),
        ("teambeat.cmd.1", "/x"),
    ]
    assert render_console(msg).splitlines()[-2:] == ["[/1] Go", "[/2] No"]
    assert actions_block(()) is None


def test_the_modal_and_what_its_submission_carries():
    view = modal_view(FORM)
    assert view["callback_id"] == FORM_CALLBACK_ID
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"]}
    assert kinds == {"done": "plain_text_input", "target": "number_input", "calls": "number_input"}
    assert view["blocks"][1]["element"]["initial_value"] == "12800"
    assert [b["optional"] for b in view["blocks"]] == [False, False, True]
    state = {"done": {"value": {"value": "x"}}, "target": {"value": {"value": "5"}}, "calls": {"value": {}}}
    found = submitted({**view, "state": {"values": state}})
    assert found == ("/checkin", "ctx", {"done": "x", "target": "5", "calls": ""})
    assert submitted({**view, "callback_id": "other"}) is None
    assert submitted({**view, "private_metadata": "not json"}) is None
    too_big = Form("T", "S", "/c", FORM.fields, context="x" * 3000)
    with pytest.raises(ValueError):
        modal_view(too_big)


def test_hostile_text_in_a_form_lands_only_in_plain_text_where_slack_parses_nothing():
    evil = "<!channel> *x* <@U1>"
    form = Form(evil, "Send", "/checkin", (FormField("done", evil, "text", initial=evil),), context="c")
    view = modal_view(form)
    (block,) = view["blocks"]
    assert view["title"] == {"type": "plain_text", "text": evil, "emoji": True}
    assert block["label"] == {"type": "plain_text", "text": evil, "emoji": True}
    assert block["element"]["initial_value"] == evil  # what the person typed, given back as typed
    assert "mrkdwn" not in json.dumps(view)


@pytest.mark.parametrize(
    ("locale", "wrong_amount", "missing"),
    [("en", "“lots” is not an amount", "Please answer"), ("zh-CN", "「很多」不是有效的金额", "需要回答")],
)
def test_field_errors_in_the_teams_language(locale, wrong_amount, missing):
    renderer = Renderer()
    context = FormContext(
        1,
        "2026-11-23",
        locale,
        "CNY",
        (("done", "text", True), ("target", "amount", True), ("n", "number", False)),
    ).to_text()
    assert read_context(context) is not None
    value = "lots" if locale == "en" else "很多"
    errors = problems(renderer, context, {"done": "", "target": value, "n": "-3"})
    assert set(errors) == {"done", "target", "n"}
    assert wrong_amount in errors["target"] and missing in errors["done"]
    assert problems(renderer, context, {"done": "ok", "target": "1.2万", "n": ""}) == {}
    assert problems(renderer, json.dumps({"v": 99}), {"done": ""}) == {}  # not ours: judged later

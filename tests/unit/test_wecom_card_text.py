"""WeCom button cards, the pure parts: what a message becomes as a card, and what a click names."""

from __future__ import annotations

import re

from adapters.wecom import cards
from adapters.wecom.payload import parse_xml
from bot.messages import Bold, Button, CardClick, Heading, OutgoingMessage, Paragraph, Text
from tests.fakes.wecom import card_event

SKIP = Button("⏭ 今天跳过", "/checkin skip")


def test_the_heading_is_the_title_and_the_rest_the_text():
    msg = OutgoingMessage(
        (
            Heading((Text("📝 打卡 1/3"),)),
            Paragraph((Bold("昨天完成了什么？"),)),
            Paragraph((Text("@所有人 <b>"),)),
        ),
        "📝 打卡 1/3",
        buttons=(SKIP,),
    )
    text = cards.card_text(msg)
    # Plain text, nothing in it can address everyone.
    assert text == cards.CardText("📝 打卡 1/3", "昨天完成了什么？\n＠所有人 <b>", False)


def test_without_a_heading_the_first_line_is_the_title_and_long_text_goes_apart():
    short = OutgoingMessage((Paragraph((Text("标题行\n第二行"),)),), "fallback", buttons=(SKIP,))
    assert cards.card_text(short) == cards.CardText("标题行", "第二行", False)
    long = OutgoingMessage((Paragraph((Text("长" * 200),)),), "兜底", buttons=(SKIP,))
    text = cards.card_text(long)
    assert text.text_apart and text.subtitle == "" and len(text.title) == cards.TITLE_MAX
    assert text.title.endswith("…")
    # A heading too long for the title sends the text ahead too: nothing is lost to the cut.
    wordy = OutgoingMessage((Heading((Text("题" * 40),)), Paragraph((Text("短"),))), "兜底", buttons=(SKIP,))
    assert cards.card_text(wordy).text_apart


def test_the_card_payload_keys_buttons_by_position_and_keeps_six():
    buttons = tuple(Button(f"b{i}", f"/rank {i}") for i in range(8))
    task = cards.new_task_id()
    assert re.fullmatch(r"[A-Za-z0-9_\-@]{1,128}", task)
    payload = cards.template_card(1000002, "dave", task, cards.CardText("T", "", True), buttons)
    card = payload["template_card"]
    assert payload["msgtype"] == "template_card" and payload["touser"] == "dave"
    assert card["card_type"] == "button_interaction" and card["task_id"] == task
    assert "sub_title_text" not in card
    assert [b["key"] for b in card["button_list"]] == [f"b{i}" for i in range(6)]


def test_a_click_is_read_from_wecoms_event_and_nothing_else():
    fields = parse_xml(card_event("dave", "tb1", "b1", "rc-1", 1764000000).encode())
    assert cards.to_click(fields) == cards.Click("dave", "tb1", "b1", "rc-1", "1764000000")
    assert cards.to_click({**fields, "Event": "enter_agent"}) is None
    assert cards.to_click({**fields, "EventKey": ""}) is None
    assert cards.to_click({"MsgType": "text", "Content": "hi"}) is None


def test_a_key_names_a_button_by_position_and_nothing_else_does():
    assert cards.button_index("b1") == 1 and cards.button_index("b0") == 0
    assert [cards.button_index(k) for k in ("b12", "x1", "b", "b-1", "b²", "")] == [None] * 6
    click = cards.Click("dave", "tb1", "b1", "rc-1", "1764000000")
    assert cards.card_click(click) == CardClick("tb1", 1, "rc-1")
    assert cards.card_click(cards.Click("dave", "tb1", "x", "rc-2", "1")) == CardClick("tb1", -1, "rc-2")

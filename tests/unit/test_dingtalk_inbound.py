"""DingTalk robot messages → IncomingMessage: who was mentioned (atUsers, robot left out), and what is read
from text, rich text and voice; pictures alone are passed on as unreadable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.dingtalk.inbound import NotAMessage, to_incoming
from bot.messages import UserRef

ROBOT = "$:LWCP_v1:$robot"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PICTURE = {"pictureDownloadCode": "pdc", "downloadCode": "dc", "type": "picture"}


def message(**fields: Any) -> dict[str, Any]:
    base = {
        "msgId": "msg1",
        "msgtype": "text",
        "text": {"content": " 成交 12800  华为"},
        "conversationType": "2",
        "conversationId": "cidEast==",
        "senderStaffId": "boss01",
        "chatbotCorpId": "corp",
        "chatbotUserId": ROBOT,
        "isInAtList": True,
        "atUsers": [{"dingtalkId": ROBOT}],
    }
    return base | fields


def people(*ids: str) -> tuple[UserRef, ...]:
    return tuple(UserRef("dingtalk", "corp", i) for i in ids)


def test_mentions_come_from_at_users_in_order_without_the_robot() -> None:
    listed = [
        {"dingtalkId": "$:LWCP_v1:$shixin"},  # from outside the organisation: no staffId
        {"dingtalkId": ROBOT},
        {"dingtalkId": "$:LWCP_v1:$b", "staffId": "bob01"},
        {"dingtalkId": "$:LWCP_v1:$b", "staffId": "bob01"},
    ]
    incoming = to_incoming(message(atUsers=listed), NOW)
    assert incoming.mentions == people("$:LWCP_v1:$shixin", "bob01")
    assert incoming.text == "成交 12800  华为"  # as DingTalk sent it: nothing rewritten
    assert to_incoming(message(), NOW).mentions == ()


def test_an_at_name_left_in_the_text_is_no_longer_rewritten() -> None:
    listed = [{"dingtalkId": ROBOT}, {"dingtalkId": "$:LWCP_v1:$b", "staffId": "bob01"}]
    incoming = to_incoming(message(text={"content": " 成交 1 mail a@b.com"}, atUsers=listed), NOW)
    assert incoming.text == "成交 1 mail a@b.com"
    assert incoming.mentions == people("bob01")


def test_rich_text_is_its_text_items_joined_by_spaces_without_at_items() -> None:
    items = [
        {"text": "@teambeat"},
        {"text": "成交 12800"},
        PICTURE,
        {"text": "华为年度采购\n"},
        {"text": "@bob"},
    ]
    incoming = to_incoming(message(msgtype="richText", text=None, content={"richText": items}), NOW)
    assert incoming.text == "成交 12800 华为年度采购"
    assert incoming.unreadable == ""
    inline = [{"text": "@teambeat 成交 3000"}, PICTURE]
    assert to_incoming(message(msgtype="richText", content={"richText": inline}), NOW).text == "成交 3000"


def test_a_rich_text_of_pictures_only_is_unreadable() -> None:
    incoming = to_incoming(message(msgtype="richText", content={"richText": [PICTURE]}), NOW)
    assert (incoming.text, incoming.unreadable) == ("", "picture")


def test_voice_is_read_from_its_recognition() -> None:
    content = {"duration": 3000, "downloadCode": "dc", "recognition": "成交 6000 小米"}
    incoming = to_incoming(message(msgtype="audio", content=content, conversationType="1"), NOW)
    assert incoming.text == "成交 6000 小米"
    assert incoming.channel.kind == "dm"
    with pytest.raises(NotAMessage):
        to_incoming(message(msgtype="audio", content={"duration": 3000}), NOW)


def test_a_picture_alone_is_passed_on_as_unreadable() -> None:
    content = {"pictureDownloadCode": "pdc", "downloadCode": "dc"}
    incoming = to_incoming(message(msgtype="picture", content=content), NOW)
    assert (incoming.text, incoming.unreadable) == ("", "picture")

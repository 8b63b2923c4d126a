"""Block Kit rendering: escaping, real mentions, Slack's limits met by splitting — and the app manifest."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import yaml

from adapters.slack.inbound import SLASH_RENAMED, clean_text, from_command, from_event
from adapters.slack.oauth import SCOPES
from adapters.slack.render import SECTION_TEXT_MAX, escape, render_slack, split_mrkdwn
from bot.commands import build_registry
from bot.messages import (
    Bold,
    BulletList,
    Divider,
    Fields,
    Heading,
    Image,
    Link,
    Mention,
    OutgoingMessage,
    Paragraph,
    Progress,
    Text,
)
from tests.fakes.slack import block_kit_problem, message_text

MANIFEST = Path(__file__).parents[2] / "adapters" / "slack" / "manifest.yaml"
NOW = datetime(2026, 11, 23, 2, 0).astimezone()


def one(msg: OutgoingMessage) -> dict:
    [only] = render_slack(msg)
    assert block_kit_problem(only.payload()) is None
    return only.payload()


def test_member_text_is_escaped_and_only_named_people_are_mentioned():
    msg = OutgoingMessage(
        (
            Heading((Text("Kudos <!channel> & co"),)),
            Paragraph(
                (
                    Mention("U0002", "Alice"),
                    Text(" thanks <!here> <@U999> <#C1|general> <https://x.example|y> & more"),
                    Bold(" so *good* "),
                    Bold("Bob"),
                )
            ),
            Paragraph((Mention("alice", "alice <!channel>"), Mention("U1>|<!channel", "Mallory"))),
        ),
        "Kudos for <!everyone>",
    )
    payload = one(msg)
    raw = json.dumps(payload)
    assert not re.search(r"<[!#]|<@U999|<https://x", raw)
    assert payload["text"] == "Kudos for &lt;!everyone&gt;"
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Kudos &lt;!channel&gt; &amp; co", "emoji": True},
    }
    section = payload["blocks"][1]["text"]["text"]
    assert section.startswith("<@U0002> thanks &lt;!here&gt; &lt;@U999&gt; &lt;#C1|general&gt;")
    assert section.endswith(" so *good* *Bob*")  # `*` inside member text: no bold around it
    third = payload["blocks"][2]["text"]["text"]
    assert third == "@alice &lt;!channel&gt;@Mallory"  # not Slack ids: plain names, no entity


def test_fields_progress_divider_image_and_links():
    msg = OutgoingMessage(
        (
            Fields(tuple((f"L{i}", f"v{i} <b>") for i in range(23))),
            Progress(1.37, "Team <goal>"),
            Divider(),
            Image("https://img.example/a.png", "chart"),
            Image("javascript:alert(1)", "not an image"),
            Paragraph((Link("https://ex.example/a?b=1&c=2|3", "docs & more"), Link("ftp://x", "ftp"))),
            BulletList(((Text("one"),), (Bold("two"),))),
        ),
        "fields",
    )
    blocks = one(msg)["blocks"]
    assert [len(b["fields"]) for b in blocks[:3]] == [10, 10, 3]
    assert blocks[0]["fields"][0] == {"type": "mrkdwn", "text": "*L0*\nv0 &lt;b&gt;"}
    assert blocks[3] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "`▓▓▓▓▓▓▓▓▓▓` *137%*  Team &lt;goal&gt;"}],
    }
    assert blocks[4] == {"type": "divider"}
    assert blocks[5] == {"type": "image", "image_url": "https://img.example/a.png", "alt_text": "chart"}
    assert blocks[6]["text"]["text"] == "not an image javascript:alert(1)"
    assert blocks[7]["text"]["text"] == "<https://ex.example/a?b=1&amp;c=2%7C3|docs &amp; more>ftp (ftp://x)"
    assert blocks[8]["text"]["text"] == "• one\n• *two*"


def test_long_texts_are_split_never_cut():
    heading = "H" * 200
    body = " ".join(f"w{i} &<@x>" for i in range(1000)) + " " + "y" * 4000
    msg = OutgoingMessage((Heading((Text(heading),)), Paragraph((Text(body), Mention("U0777", "u")))), "f")
    [slack] = render_slack(msg)
    assert block_kit_problem(slack.payload()) is None
    texts = [b["text"]["text"] for b in slack.blocks]
    assert texts[0] == f"*{heading}*"  # over 150 characters: a bold section instead of a header
    assert all(len(t) <= SECTION_TEXT_MAX for t in texts)
    joined = "".join(texts[1:])
    assert joined.replace(" ", "") == (escape(body) + "<@U0777>").replace(" ", "")
    for text in texts[1:]:  # no escape or entity cut in two
        assert not re.search(r"&(a|am|l|g)?$|^(mp|amp|t|lt|gt);|<@?U?$|^U0777>|^0777>", text)


def test_many_blocks_become_several_messages_each_within_limits():
    msg = OutgoingMessage(tuple(Paragraph((Text(f"p{i} " + "z" * 2500),)) for i in range(120)), "big")
    messages = render_slack(msg)
    assert len(messages) >= 3
    assert messages[0].text == "big"
    for slack in messages:
        assert block_kit_problem(slack.payload()) is None
    shown = "\n".join(message_text({"blocks": m.blocks}) for m in messages)
    assert all(f"p{i} " in shown for i in range(120))


def test_split_prefers_line_breaks_and_keeps_every_character():
    text = "\n".join(f"line {i} &amp;" for i in range(1000))
    parts = split_mrkdwn(text, 3000)
    assert all(len(p) <= 3000 for p in parts)
    assert "\n".join(parts) == text
    assert split_mrkdwn("", 10) == [""]
    assert "".join(split_mrkdwn("&amp;" * 10, 7)) == "&amp;" * 10


def test_slack_payloads_become_what_the_person_typed():
    text, mentions = clean_text("<@UBOT> kudos <@U2|bob> <@U3> a &lt;b&gt; &amp;&lt;!channel&gt;", "UBOT")
    assert text == "kudos <@U2> <@U3> a <b> &<!channel>"
    assert mentions == ("U2", "U3")
    slash = {
        "team_id": "T1",
        "user_id": "U1",
        "channel_id": "C1",
        "command": "/deal",
        "text": "5 <@U2|b>",
        "trigger_id": "t.1",
        "response_url": "https://hooks.slack.com/x",
    }
    command = from_command(slash, bot_user_id="UBOT", now=NOW, display_name="Al", private_dm=False)
    assert command is not None
    assert (command.message.text, command.message.channel.kind, command.message.event_id) == (
        "/deal 5 <@U2>",
        "group",
        "cmd:t.1",
    )
    assert command.message.user.workspace == "T1" and command.reply_to.response_url
    dm = {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "text": "hi"}
    im = from_event(
        {"team_id": "T1", "event_id": "Ev1", "event": dm}, bot_user_id="UBOT", now=NOW, display_name=None
    )
    assert im is not None and im.message.channel.id == "U1" and im.reply_to.private
    own = {"team_id": "T1", "event": {**dm, "user": "UBOT"}}
    assert from_event(own, bot_user_id="UBOT", now=NOW, display_name=None) is None
    assert from_command({"text": "x"}, bot_user_id=None, now=NOW, display_name=None, private_dm=False) is None


# Slack's built-in slash commands (slack.com/help/articles/201259356): an app cannot register these names.
SLACK_BUILT_IN = {
    *("active", "apps", "archive", "away", "call", "close", "collapse", "dm", "dnd", "expand", "feed"),
    *("feedback", "invite", "join", "kick", "leave", "me", "msg", "mute", "open", "part", "pro", "remind"),
    *("remove", "rename", "search", "shortcuts", "shrug", "star", "status", "topic", "who"),
}


def test_the_manifest_declares_every_command_scope_and_event():
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert not {c.removeprefix("/") for c in commands} & SLACK_BUILT_IN
    registry = build_registry()
    names = {
        "checkin",
        "leave",
        "goal",
        "deal",
        "kudos",
        "rank",
        "recap",
        "team",
        "help",
        "me",
        "insights",
        "checkout",
    }
    assert {SLASH_RENAMED.get(c, c) for c in commands} == {f"/{n}" for n in names}
    assert all(registry.resolve(n) is not None for n in names)
    assert manifest["oauth_config"]["scopes"]["bot"] == list(SCOPES)
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert all(c["url"].endswith("/slack/events") for c in manifest["features"]["slash_commands"])


def test_the_renamed_slash_commands_reach_their_commands():
    body = {"team_id": "T1", "user_id": "U1", "channel_id": "C1", "trigger_id": "t.2"}
    leave = from_command(
        {**body, "command": "/timeoff", "text": "2026-11-23..2026-11-25 vacation"},
        bot_user_id=None,
        now=NOW,
        display_name=None,
        private_dm=False,
    )
    assert leave is not None and leave.message.text == "/leave 2026-11-23..2026-11-25 vacation"
    mine = from_command(
        {**body, "command": "/mystats"}, bot_user_id=None, now=NOW, display_name=None, private_dm=False
    )
    assert mine is not None and mine.message.text == "/me"
    goal = from_command(
        {**body, "command": "/goal", "text": "team 5 month"},
        bot_user_id=None,
        now=NOW,
        display_name=None,
        private_dm=False,
    )
    assert goal is not None and goal.message.text == "/goal team 5 month"


def test_bold_beside_chinese_text_gets_the_space_slack_needs():
    msg = OutgoingMessage(
        (
            Paragraph((Text("🎖 Alice 现在是"), Bold("组长"), Text("。"))),
            Paragraph((Text("比赛奖品："), Bold("输的组请奶茶"))),
            Paragraph((Text("Total: "), Bold("¥5,000"), Text("! and"), Bold("x"))),
        ),
        "组长",
    )
    texts = [block["text"]["text"] for block in one(msg)["blocks"]]
    assert texts == ["🎖 Alice 现在是 *组长* 。", "比赛奖品： *输的组请奶茶*", "Total: *¥5,000*! and *x*"]

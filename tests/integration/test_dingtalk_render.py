"""DingTalk markdown: structure, real mentions only, member text inert, long posts split by bytes."""

from __future__ import annotations

import json
import re

import pytest

from adapters.dingtalk.render import MAX_MSG_PARAM_BYTES, escape, render
from adapters.dingtalk.sign import callback_problem, callback_sign, robot_sign, signed_url
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

EVIL = "@所有人 @all **bold** [x](http://evil) # h\n- item\n> quote <b>hi</b> `code` ~~s~~ | _i_"


def test_custom_robot_sign_matches_the_documented_vector():
    assert robot_sign("SEC" + "0" * 64, 1577262236757) == "92Dgk2meOCJVNcV8OnoQ91%2BYUhl9vJTg8wUUKN0aeFw%3D"
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=T", "SEC" + "0" * 64, 1577262236757)
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1577262236757"
        "&sign=92Dgk2meOCJVNcV8OnoQ91%2BYUhl9vJTg8wUUKN0aeFw%3D"
    )
    assert signed_url("https://x/robot/send?access_token=T", "", 1) == "https://x/robot/send?access_token=T"


def test_callback_sign_is_checked_with_a_one_hour_window():
    now = 1_800_000_000_000
    sign = callback_sign("s3cret", now)
    assert "%" not in sign and sign.endswith("=")  # base64, not URL-encoded
    assert callback_problem("s3cret", str(now), sign, now) == ""
    assert (
        callback_problem("s3cret", str(now - 3_599_000), callback_sign("s3cret", now - 3_599_000), now) == ""
    )
    stale = now - 3_601_000
    assert "hour" in callback_problem("s3cret", str(stale), callback_sign("s3cret", stale), now)
    assert "match" in callback_problem("s3cret", str(now), callback_sign("other", now), now)
    assert "missing" in callback_problem("s3cret", None, sign, now)
    assert callback_problem("s3cret", "soon", sign, now)
    assert callback_problem("", str(now), sign, now)  # no secret configured: nothing is verifiable


def test_structure_renders_as_dingtalk_markdown():
    msg = OutgoingMessage(
        blocks=(
            Heading((Text("🎉 喜报"),)),
            Paragraph(
                (Text("恭喜 "), Mention("alice01", "alice"), Text(" 成交 "), Bold("¥1.28万"), Text("！"))
            ),
            BulletList(((Text("第一"),), (Text("第二"),))),
            Fields((("客户", "华为"), ("团队今日", "¥3万"))),
            Progress(0.43, "月目标 ¥30万"),
            Divider(),
            Paragraph((Link("https://example.com/a(b)", "详情"),)),
            Image("https://example.com/chart.png", "图"),
        ),
        fallback_text="🎉 喜报：alice 成交 ¥1.28万",
    )
    [post] = render(msg, notify=True)
    assert post.title == "🎉 喜报"
    lines = post.text.split("\n\n")
    assert lines[0] == "### 🎉 喜报"
    assert lines[1] == "恭喜 @alice01 成交 **¥1.28万**！"
    assert lines[2] == "- 第一\n- 第二"
    assert lines[3] == "**客户**: 华为  \n**团队今日**: ¥3万"
    assert lines[4].endswith("43% 月目标 ¥30万")
    assert lines[6] == "[详情](https://example.com/a%28b%29)"
    assert lines[7] == "![图](https://example.com/chart.png)"
    assert post.at_user_ids == ("alice01",)
    body = post.robot_body()
    assert body["at"] == {"atUserIds": ["alice01"], "isAtAll": False}
    assert body["msgtype"] == "markdown" and body["markdown"]["text"] == post.text


def test_without_notification_a_mention_is_an_inert_name():
    msg = OutgoingMessage((Paragraph((Mention("alice01", "alice"), Text(" 加油"))),), "alice 加油")
    [post] = render(msg, notify=False)
    assert post.text == "＠alice 加油"
    assert post.at_user_ids == ()
    assert "@" not in post.text


def test_member_text_can_neither_notify_nor_reshape_the_post():
    msg = OutgoingMessage(
        blocks=(
            Heading((Text("👏 点赞时刻"),)),
            Paragraph((Mention("bob01", "bob"), Text(" 为 "), Mention("alice01", "alice"), Text(" 点赞！"))),
            Paragraph((Text(f"💬「{EVIL}」"),)),
            BulletList(((Text(EVIL),),)),
            Fields(((EVIL, EVIL),)),
        ),
        fallback_text="👏 bob 为 alice 点赞",
    )
    [post] = render(msg, notify=True)
    assert post.at_user_ids == ("bob01", "alice01")  # the real mentions, nobody else
    body = post.robot_body()
    assert body["at"]["isAtAll"] is False
    # the only "@" left are the two real mentions
    assert post.text.count("@") == 2 and "@bob01" in post.text and "@alice01" in post.text
    assert "＠所有人" in post.text and "＠all" in post.text
    for special in ("**bold**", "[x](", "# h", "\n- item", "\n> quote", "<b>", "`code`", "~~s~~", "_i_"):
        assert special not in post.text, special
    assert post.text.count("**") == 2  # the field label's bold, nothing from the member
    # the member's words are all there, only their look-alikes changed
    assert "＊＊bold＊＊" in post.text and "［x］(http://evil)" in post.text and "＜b＞hi＜/b＞" in post.text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("- not a list", "－ not a list"),
        ("1. not ordered", "1． not ordered"),
        ("+ plus", "＋ plus"),
        ("===", "＝＝＝"),
        ("a\n---", "a  \n－－－"),
        ("x\\*y", "x＼＊y"),
        ("12.8k ¥1.28万 a-b", "12.8k ¥1.28万 a-b"),
    ],
)
def test_escape(text, shown):
    assert escape(text) == shown


def test_long_posts_are_split_under_the_byte_limit_without_losing_anything():
    rows = tuple(
        (Text(f"第{n}名 成员{n} ¥{n},000 「备注」"), Mention(f"u{n}", f"成员{n}")) for n in range(1200)
    )
    msg = OutgoingMessage(
        blocks=(Heading((Text("📊 月度复盘"),)), BulletList(rows), Paragraph((Text("结束"),))),
        fallback_text="月度复盘",
    )
    posts = render(msg, notify=True)
    assert len(posts) >= 3
    for n, post in enumerate(posts, 1):
        assert len(post.msg_param().encode()) <= MAX_MSG_PARAM_BYTES
        assert post.title == f"📊 月度复盘 ({n}/{len(posts)})"
        assert json.loads(post.msg_param())["text"] == post.text
        # each part notifies exactly the people it shows
        assert set(post.at_user_ids) == set(re.findall(r"@(u\d+)\b", post.text))
    joined = "\n".join(post.text for post in posts)
    for n in range(1200):
        assert f"第{n}名 成员{n} ¥{n},000" in joined
    assert joined.rstrip().endswith("结束")
    assert sum(len(p.at_user_ids) for p in posts) == 1200


def test_a_single_enormous_paragraph_is_split_by_characters():
    msg = OutgoingMessage((Paragraph((Text("喜" * 12_000),)),), "喜")
    posts = render(msg, notify=False)
    assert len(posts) == 3  # 36,000 bytes of text
    assert all(len(p.msg_param().encode()) <= MAX_MSG_PARAM_BYTES for p in posts)
    assert "".join(p.text for p in posts) == "喜" * 12_000

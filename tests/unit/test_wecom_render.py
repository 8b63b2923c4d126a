"""WeCom rendering: its markdown subset, mentions only where they notify, member text kept literal,
and every message under WeCom's byte limits — split, never truncated."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from adapters.wecom.adapter import robot_image, robot_key
from adapters.wecom.render import (
    APP_MESSAGE_BYTES,
    ROBOT_MARKDOWN_BYTES,
    escape_markdown,
    nbytes,
    render_markdown,
    render_text,
)
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
from bot.rendering.engine import Renderer

HOSTILE = (
    '<@all> @all @所有人 @ALL **bold** *it* `code` [x](http://evil) <font color="info">g</font> &lt;@all&gt;'
)
NOTIFY_ALL = re.compile(r"<@all>|(?<![＠\w])@all\b|(?<!＠)@所有人", re.IGNORECASE)


def msg(*blocks) -> OutgoingMessage:
    return OutgoingMessage(tuple(blocks), "fallback")


def test_markdown_subset_for_each_block():
    out = render_markdown(
        msg(
            Heading((Text("喜报"),)),
            Paragraph((Text("恭喜 "), Mention("alice", "Alice"), Text(" 成交 "), Bold("¥12,800"))),
            BulletList(((Text("一"),), (Text("二"),))),
            Fields((("客户", "明德"),)),
            Progress(1.2, "月目标"),
            Divider(),
            Paragraph((Link("https://example.com/a b", "详情"),)),
        ),
        limit=ROBOT_MARKDOWN_BYTES,
        robot=True,
    )
    assert out.chunks == (
        "### 喜报\n"
        "恭喜 <@alice> 成交 **¥12,800**\n"
        "• 一\n• 二\n"
        '<font color="comment">客户: </font>明德\n'
        '<font color="info">▓▓▓▓▓▓▓▓▓▓</font> 120% 月目标\n'
        '<font color="comment">────────────</font>\n'
        "[详情](https://example.com/a%20b)",
    )


def test_app_markdown_names_people_without_a_mention_tag():
    out = render_markdown(msg(Paragraph((Mention("alice", "Alice"),))), limit=APP_MESSAGE_BYTES, robot=False)
    assert out.chunks == ("@Alice",)


@pytest.mark.parametrize("robot", [True, False])
def test_member_text_cannot_notify_or_format(robot):
    out = render_markdown(
        msg(
            Heading((Text(HOSTILE),)),
            Paragraph((Text(HOSTILE + "\n# not a heading\n> not a quote"), Bold(HOSTILE))),
            BulletList(((Text(HOSTILE),),)),
            Fields(((HOSTILE, HOSTILE),)),
            Progress(0.3, HOSTILE),
        ),
        limit=ROBOT_MARKDOWN_BYTES,
        robot=robot,
    )
    content = "\n".join(out.chunks)
    assert not NOTIFY_ALL.search(content)
    assert "<@" not in content and "[x]" not in content and "`" not in content and "&lt;" not in content
    assert "\n#" not in content and "\n>" not in content
    stripped = re.sub(r'<font color="(info|comment|warning)">|</font>', "", content)
    assert "<" not in stripped and ">" not in stripped
    # the words themselves are all still there
    assert content.count("＠所有人") == 7 and content.count("＊＊bold＊＊") == 7


def test_a_mention_of_everyone_is_never_a_mention():
    out = render_markdown(
        msg(Paragraph((Mention("all", "all"), Mention("@all", "x")))), limit=4096, robot=True
    )
    assert "<@" not in out.chunks[0] and not NOTIFY_ALL.search(out.chunks[0])


def test_escape_keeps_ordinary_text_readable():
    assert escape_markdown("Alice_01 已完成 #1 (第一) 100%") == "Alice_01 已完成 #1 (第一) 100%"
    assert escape_markdown("@allen @alice") == "@allen @alice"


@pytest.mark.parametrize("limit", [APP_MESSAGE_BYTES, ROBOT_MARKDOWN_BYTES])
def test_long_messages_split_under_the_limit_without_losing_a_character(limit):
    long_line = "中" * 3000  # 9,000 bytes in one line
    blocks = [Paragraph((Text(f"第{i}行 " + "业绩" * 40),)) for i in range(60)]
    out = render_markdown(
        msg(
            Heading((Text("复盘"),)), *blocks, Paragraph((Text(long_line),)), Paragraph((Bold("加" * 1500),))
        ),
        limit=limit,
        robot=True,
    )
    assert len(out.chunks) > 1
    assert all(nbytes(chunk) <= limit for chunk in out.chunks)
    joined = "".join(out.chunks)
    assert joined.count("中") == 3000 and joined.count("加") == 1500
    assert all(f"第{i}行" in joined for i in range(60))
    # a bold run cut in pieces is bold in every piece
    for chunk in out.chunks:
        assert chunk.count("**") % 2 == 0


def test_split_prefers_block_boundaries():
    blocks = [Paragraph((Text("x" * 1000),)) for _ in range(5)]
    out = render_markdown(msg(*blocks), limit=APP_MESSAGE_BYTES, robot=False)
    assert [chunk.count("x") for chunk in out.chunks] == [2000, 2000, 1000]


def test_plain_text_for_passive_replies():
    out = render_text(
        msg(Heading((Text("排行"),)), Paragraph((Mention("bob", "Bob"), Text(" @all **x**"))), Progress(0.5)),
        limit=APP_MESSAGE_BYTES,
    )
    assert out.chunks == ("【排行】\n@Bob ＠all **x**\n▓▓▓▓▓░░░░░ 50%",)


def test_chart_images_travel_as_robot_image_messages():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    out = render_markdown(msg(Image(url, "本周趋势")), limit=4096, robot=True)
    assert out.images == (png,)
    payload = robot_image(out.images[0])
    assert payload["image"]["md5"] == hashlib.md5(png).hexdigest()
    assert base64.b64decode(payload["image"]["base64"]) == png
    assert render_markdown(msg(Image(url, "本周趋势")), limit=2048, robot=False).images == ()


def test_robot_key_comes_from_the_webhook_url():
    assert robot_key("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123") == "abc-123"
    assert robot_key("https://qyapi.weixin.qq.com/cgi-bin/webhook/send") is None


def _samples():
    name = "teambeat_golden_samples"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "golden" / "samples.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].SAMPLES


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_post_template_renders_within_limits_and_mentions_only_people(locale):
    renderer = Renderer()
    for name, contexts in _samples().items():
        for context in contexts:
            message = renderer.render(name, locale, **context)
            for robot, limit in ((True, ROBOT_MARKDOWN_BYTES), (False, APP_MESSAGE_BYTES)):
                out = render_markdown(message, limit=limit, robot=robot)
                assert out.chunks, name
                for chunk in out.chunks:
                    assert nbytes(chunk) <= limit, name
                    assert not NOTIFY_ALL.search(chunk), (name, chunk)
                mentioned = set(re.findall(r"<@([^>]+)>", "".join(out.chunks)))
                assert mentioned <= set(message.mentioned_user_ids()), name
            for chunk in render_text(message, limit=APP_MESSAGE_BYTES).chunks:
                assert nbytes(chunk) <= APP_MESSAGE_BYTES and not NOTIFY_ALL.search(chunk)

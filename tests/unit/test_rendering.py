"""The XML vocabulary parser, the jinja engine around it, and the console renderer."""

from __future__ import annotations

import jinja2
import pytest

from adapters.console.render import progress_bar, render_console
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
from bot.rendering.engine import Renderer, UnknownTemplate
from bot.rendering.format import percent
from bot.rendering.parse import parse_message

EVIL = "<!channel> {{ 7*7 }} **x** @所有人"
ALICE = {"user_id": "U1", "name": "Alice"}
BOB = {"user_id": "U2", "name": "Bob"}


def blocks(xml: str) -> tuple:
    return parse_message(xml).blocks


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def deal_context(**overrides: object) -> dict:
    context = {
        "member": ALICE,
        "amount": "¥12,800",
        "customer": "",
        "product": "",
        "member_total_today": "¥12,800",
        "member_rank_today": 1,
        "member_deals_today": 1,
        "team_total_today": "¥30,000",
        "team_goal": {"label": "本月团队目标", "target": "¥300,000", "ratio": 0.1, "pace": "¥9,000"},
        "group": None,
    }
    context.update(overrides)
    return context


# ----- parser: each tag ----------------------------------------------------------------------------


def test_heading_and_paragraph() -> None:
    assert blocks("<msg><h>Title</h><p>Body</p></msg>") == (
        Heading((Text("Title"),)),
        Paragraph((Text("Body"),)),
    )


def test_inline_bold_mention_link_and_break() -> None:
    (para,) = blocks(
        '<msg><p>Hi <b>big</b> <at user="U1">Alice</at>, see <a href="https://x.io">docs</a><br/>bye</p></msg>'
    )
    assert para == Paragraph(
        (
            Text("Hi "),
            Bold("big"),
            Text(" "),
            Mention(user_id="U1", name="Alice"),
            Text(", see "),
            Link(url="https://x.io", text="docs"),
            Text("\nbye"),
        )
    )


def test_link_without_text_shows_its_url() -> None:
    (para,) = blocks('<msg><p><a href="https://x.io"/></p></msg>')
    assert para == Paragraph((Link(url="https://x.io", text="https://x.io"),))


def test_bullet_list_keeps_items_with_content() -> None:
    xml = "<msg><ul>\n  <li>one <b>1</b></li>\n  <li>\n  </li>\n  <li>two</li>\n</ul></msg>"
    assert blocks(xml) == (BulletList(((Text("one "), Bold("1")), (Text("two"),))),)


def test_fields_keep_label_and_value_and_drop_empty_values() -> None:
    xml = (
        '<msg><fields>\n<f label="客户">上海</f>\n<f label="产品"></f>\n'
        '<f label="金额">¥1</f>\n</fields></msg>'
    )
    assert blocks(xml) == (Fields((("客户", "上海"), ("金额", "¥1"))),)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.43", 0.43), ("1.2", 1.2), ("abc", 0.0), ("", 0.0), ("nan", 0.0), ("inf", 0.0)],
)
def test_progress_value_is_parsed_as_float_and_invalid_is_zero(raw: str, expected: float) -> None:
    assert blocks(f'<msg><progress value="{raw}">goal</progress></msg>') == (Progress(expected, "goal"),)


def test_progress_without_value_attribute_is_zero() -> None:
    assert blocks("<msg><progress/></msg>") == (Progress(0.0, ""),)


def test_divider_and_image() -> None:
    xml = '<msg><hr/><img src="https://x.io/a.png" alt="chart"/><img src="https://x.io/b.png"/></msg>'
    assert blocks(xml) == (
        Divider(),
        Image(url="https://x.io/a.png", alt="chart"),
        Image(url="https://x.io/b.png", alt=""),
    )


def test_image_with_empty_src_is_dropped() -> None:
    assert blocks('<msg><img src=""/></msg>') == ()


# ----- parser: whitespace and merging ------------------------------------------------------------


def test_whitespace_runs_with_a_newline_are_indentation_and_vanish() -> None:
    xml = "<msg>\n  <p>\n    早上好，\n    <b>Alice</b>\n    ！  two  spaces\tand tab\n  </p>\n</msg>"
    assert blocks(xml) == (Paragraph((Text("早上好，"), Bold("Alice"), Text("！  two  spaces\tand tab"))),)


def test_blocks_left_empty_are_dropped() -> None:
    xml = "<msg><h>\n   </h><p></p><p>\n</p><ul>\n</ul><fields>\n</fields><p>kept</p></msg>"
    assert blocks(xml) == (Paragraph((Text("kept"),)),)


def test_adjacent_text_is_merged_across_breaks() -> None:
    (para,) = blocks("<msg><p>a<br/>b<br/>\n  c</p></msg>")
    assert para == Paragraph((Text("a\nb\nc"),))


def test_fallback_attribute_wins() -> None:
    msg = parse_message('<msg fallback="🎉 喜报"><h>x</h></msg>')
    assert msg.fallback_text == "🎉 喜报"


def test_fallback_defaults_to_plain_text_of_blocks() -> None:
    xml = (
        '<msg><h>Title</h><p>Hi <at user="U1">Alice</at> <b>now</b></p><hr/>'
        '<ul><li>a</li><li>b</li></ul><fields><f label="k">v</f></fields>'
        '<progress value="0.5">goal</progress></msg>'
    )
    assert parse_message(xml).fallback_text == "Title\nHi @Alice now\n• a\n• b\nk: v\n50% goal"


# ----- parser: strictness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xml",
    [
        "<msg><table/></msg>",  # unknown block
        "<msg><p>x <i>y</i></p></msg>",  # unknown inline
        "<msg><ul><p>x</p></ul></msg>",  # ul holds li only
        "<msg><fields><li>x</li></fields></msg>",  # fields hold f only
        "<msg><b>x</b></msg>",  # inline where a block belongs
        "<message><p>x</p></message>",  # wrong root
        "<msg>loose text<p>x</p></msg>",  # text outside a block
        "<msg><p>x</p>tail text</msg>",
        '<msg><p class="big">x</p></msg>',  # unknown attribute
        "<msg><p><b>x <at user='U1'>A</at></b></p></msg>",  # tags inside b
        "<msg><p><at>A</at></p></msg>",  # at without user
        "<msg><p><a>x</a></p></msg>",  # a without href
        "<msg><fields><f>v</f></fields></msg>",  # f without label
        "<msg><img/></msg>",  # img without src
        "<msg><hr>text</hr></msg>",
        "<msg><p>unclosed</msg>",  # not well-formed
        "<msg><p>a & b</p></msg>",  # unescaped ampersand
    ],
)
def test_template_bugs_raise_value_error(xml: str) -> None:
    with pytest.raises(ValueError):
        parse_message(xml)


def test_escaped_markup_stays_literal_text() -> None:
    (para,) = blocks("<msg><p>&lt;!channel&gt; &lt;b&gt;x&lt;/b&gt; &amp;</p></msg>")
    assert para == Paragraph((Text("<!channel> <b>x</b> &"),))


# ----- engine --------------------------------------------------------------------------------------


def test_locales_and_template_names_exclude_macro_files(renderer: Renderer) -> None:
    assert renderer.locales() == ["en", "zh-CN"]
    names = renderer.template_names("zh-CN")
    assert "deal_announcement" in names
    assert "error" in names
    assert not any(n.startswith("_") for n in names)
    assert names == renderer.template_names("en")


def test_member_text_is_never_a_template_nor_a_tag(renderer: Renderer) -> None:
    evil = {"user_id": "U666", "name": EVIL}
    msg = renderer.render("kudos_post", "zh-CN", giver=evil, receivers=[ALICE], reason=EVIL)
    mentions = [
        i for b in msg.blocks if isinstance(b, Paragraph) for i in b.inlines if isinstance(i, Mention)
    ]
    assert mentions[0] == Mention(user_id="U666", name=EVIL)
    assert any(isinstance(i, Text) and EVIL in i.text for b in msg.blocks for i in getattr(b, "inlines", ()))
    shown = render_console(msg)
    assert "49" not in shown
    assert "{{ 7*7 }}" in shown
    assert "<!channel>" in shown
    assert msg.mentioned_user_ids() == ("U666", "U1")


def test_quotes_and_angle_brackets_in_attribute_values_are_escaped(renderer: Renderer) -> None:
    tricky = {"user_id": 'U1" evil="1', "name": 'A"li<ce>'}
    msg = renderer.render("deal_announcement", "en", **deal_context(member=tricky))
    assert Mention(user_id='U1" evil="1', name='A"li<ce>') in msg.blocks[1].inlines
    assert msg.fallback_text.startswith('🎉 New deal: A"li<ce> closed')


def test_member_newlines_survive_but_indentation_does_not(renderer: Renderer) -> None:
    answers = [{"question": "困难？", "answer": "1. 名单\r\n2. 审批\x07快一点"}]
    msg = renderer.render("checkin_post", "zh-CN", member=ALICE, answers=answers)
    assert Fields((("困难？", "1. 名单\n2. 审批快一点"),)) in msg.blocks


def test_unknown_locale_falls_back_to_chinese_and_language_matches(renderer: Renderer) -> None:
    zh = renderer.render("kudos_post", "zh-CN", giver=ALICE, receivers=[BOB], reason="好")
    assert renderer.render("kudos_post", "fr", giver=ALICE, receivers=[BOB], reason="好") == zh
    assert renderer.resolve_locale("en-US") == "en"
    assert renderer.resolve_locale("zh") == "zh-CN"
    assert renderer.resolve_locale("") == "zh-CN"


def test_missing_template_raises_a_clear_error(renderer: Renderer) -> None:
    with pytest.raises(UnknownTemplate, match=r"no template 'nope' for locale 'en'"):
        renderer.render("nope", "en")


def test_missing_required_context_is_an_error_not_blank_text(renderer: Renderer) -> None:
    context = deal_context()
    del context["amount"]
    with pytest.raises(jinja2.UndefinedError):
        renderer.render("deal_announcement", "zh-CN", **context)


def test_optional_context_may_be_none_or_absent(renderer: Renderer) -> None:
    with_none = renderer.render("deal_announcement", "zh-CN", **deal_context(team_goal=None))
    context = deal_context()
    del context["team_goal"]
    without = renderer.render("deal_announcement", "zh-CN", **context)
    assert with_none == without
    assert not any(isinstance(b, Progress) for b in without.blocks)


def test_unknown_enum_values_fail_loudly(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match="unknown milestone kind"):
        renderer.render("milestone", "en", kind="goal_75", member=None, amount="1")


def test_templates_are_found_from_any_directory(
    renderer: Renderer, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    msg = Renderer().render("checkin_reminder", "en", member=ALICE, remaining=2, reminder_no=1)
    assert msg.mentioned_user_ids() == ("U1",)


def test_pct_filter_in_templates(renderer: Renderer) -> None:
    participation = {"done": 7, "total": 16, "ratio": 7 / 16}
    msg = renderer.render(
        "summary",
        "en",
        kind="weekly",
        period_label="W47",
        total="$1",
        deals=1,
        goal=None,
        previous_total=None,
        change_ratio=None,
        champion_person=None,
        champion_group=None,
        participation=participation,
        streaks=[],
    )
    assert "📝 Check-ins: 7/16 (44%)" in render_console(msg)


@pytest.mark.parametrize(
    ("ratio", "signed", "shown"),
    [
        (0.4349, False, "43%"),
        (None, False, "—"),
        (0.285, False, "29%"),
        (1.2, False, "120%"),
        (0.12, True, "+12%"),
        (-0.054, True, "-5%"),
        (0.0, True, "0%"),
    ],
)
def test_percent(ratio: float | None, signed: bool, shown: str) -> None:
    assert percent(ratio, signed=signed) == shown


def test_rendered_message_round_trips_through_json(renderer: Renderer) -> None:
    context = deal_context(
        customer="上海 <客户> & 朋友", group={"name": "狼队", "slogan": "冲", "rank": 1, "total": "¥1"}
    )
    msg = renderer.render("deal_announcement", "zh-CN", **context)
    assert any(isinstance(b, Progress) for b in msg.blocks)
    assert any(isinstance(b, Fields) for b in msg.blocks)
    again = OutgoingMessage.from_json(msg.to_json())
    assert again == msg
    assert "上海 <客户> & 朋友" in msg.to_json()  # stored as data, not markup


def test_mentioned_user_ids_in_order_without_repeats(renderer: Renderer) -> None:
    carol = {"user_id": "U3", "name": "Carol"}
    msg = renderer.render("kudos_post", "en", giver=BOB, receivers=[ALICE, BOB, carol], reason="x")
    assert msg.mentioned_user_ids() == ("U2", "U1", "U3")


# ----- console renderer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "bar"),
    [
        (0.0, "░" * 10),
        (0.43, "▓" * 4 + "░" * 6),
        (0.45, "▓" * 5 + "░" * 5),
        (1.2, "▓" * 10),
        (-0.3, "░" * 10),
    ],
)
def test_progress_bar_is_clamped_to_ten_cells(value: float, bar: str) -> None:
    assert progress_bar(value) == bar


def test_console_renders_every_block() -> None:
    msg = OutgoingMessage(
        blocks=(
            Heading((Text("喜报"),)),
            Paragraph(
                (Mention("U1", "Alice"), Text(" closed "), Bold("¥1"), Text(" "), Link("https://x.io", "crm"))
            ),
            BulletList(((Text("a"),), (Text("b"),))),
            Fields((("客户", "上海"),)),
            Progress(1.2, "goal"),
            Progress(0.5),
            Divider(),
            Image("https://x.io/c.png", "chart"),
            Image("https://x.io/d.png"),
            Paragraph((Link("https://x.io", "https://x.io"),)),
        ),
        fallback_text="x",
    )
    assert render_console(msg).split("\n") == [
        "【喜报】",
        "@Alice closed ¥1 crm (https://x.io)",
        "• a",
        "• b",
        "客户: 上海",
        "▓▓▓▓▓▓▓▓▓▓ 120% goal",
        "▓▓▓▓▓░░░░░ 50%",
        "────────────",
        "[image: chart] https://x.io/c.png",
        "[image] https://x.io/d.png",
        "https://x.io",
    ]

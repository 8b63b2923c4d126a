"""Reply templates (answers to commands) and the error template: every sample renders in both locales,
members' text stays literal, replies never notify anyone, and every error a command raises reads well."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.console.render import render_console
from bot.messages import Fields, OutgoingMessage, Progress
from bot.rendering.engine import Renderer

ROOT = Path(__file__).parents[2]
LOCALES = ("zh-CN", "en")
EVIL_PIECES = ("<!channel>", "{{ 7*7 }}", "**x**", "@所有人")
REPLY_TEMPLATES = (
    "help",
    "goal_label",
    "period_label",
    "goal_list",
    "goal_set",
    "goal_cleared",
    "me",
    "deal_recorded",
    "deal_voided",
    "kudos_sent",
    "kudos_board",
    "rank",
    "leave_set",
    "leave_list",
    "leave_cancelled",
    "checkin_skipped",
    "unreadable",
    "checkin_retry",
    "checkin_check_dm",
    "team_setup",
    "team_show",
    "team_group_added",
    "team_group_joined",
    "team_role_set",
    "team_member_removed",
    "team_schedule_set",
    "team_calendar_set",
    "team_announce",
    "team_tv",
    "checkout_done",
    "checkout_check_dm",
    "recap_pinned",
)


def _load(module_name: str, path: Path) -> Any:
    """Import a file by path: tests/ is not an installed package."""
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


SAMPLES_MODULE = _load("teambeat_reply_samples", ROOT / "tests" / "golden" / "reply_samples.py")
REPLY_SAMPLES: dict[str, list[dict[str, Any]]] = SAMPLES_MODULE.REPLY_SAMPLES
ERROR_SAMPLES: list[dict[str, Any]] = SAMPLES_MODULE.ERROR_SAMPLES
EVIL: str = SAMPLES_MODULE.EVIL
CASES = [
    pytest.param(locale, name, index, id=f"{locale}-{name}-{index}")
    for locale in LOCALES
    for name in sorted(REPLY_SAMPLES)
    for index in range(len(REPLY_SAMPLES[name]))
]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _contains_evil(value: Any) -> bool:
    if isinstance(value, str):
        return "{{ 7*7 }}" in value
    if isinstance(value, dict):
        return any(_contains_evil(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_contains_evil(v) for v in value)
    return False


def show(renderer: Renderer, name: str, locale: str, /, **context: Any) -> tuple[OutgoingMessage, str]:
    msg = renderer.render(name, locale, **context)
    return msg, render_console(msg)


def sample(name: str, index: int) -> dict[str, Any]:
    return REPLY_SAMPLES[name][index]


# ----- every sample --------------------------------------------------------------------------------


def test_every_reply_template_exists_in_both_locales_and_has_samples(renderer: Renderer) -> None:
    for locale in LOCALES:
        names = set(renderer.template_names(locale))
        assert set(REPLY_TEMPLATES) <= names, f"{locale} lacks {sorted(set(REPLY_TEMPLATES) - names)}"
    assert set(REPLY_SAMPLES) == set(REPLY_TEMPLATES)
    for name in REPLY_TEMPLATES:
        assert REPLY_SAMPLES[name], f"{name} has no sample"


@pytest.mark.parametrize(("locale", "name", "index"), CASES)
def test_sample_renders_literally_and_mentions_nobody(
    renderer: Renderer, locale: str, name: str, index: int
) -> None:
    context = sample(name, index)
    msg, shown = show(renderer, name, locale, **context)
    assert msg.blocks, "a reply must say something"
    assert shown.strip()
    assert msg.fallback_text.strip()
    # Replies show names; only channel posts notify people.
    assert msg.mentioned_user_ids() == ()
    if _contains_evil(context):
        for piece in EVIL_PIECES:
            assert piece in shown, f"{piece!r} lost from {shown!r}"
        assert "49" not in shown and "49" not in msg.fallback_text
    else:
        assert "{{" not in shown and "{%" not in shown


def test_hostile_member_names_come_through_whole(renderer: Renderer) -> None:
    cases = [
        ("deal_recorded", 1),
        ("deal_voided", 1),
        ("kudos_sent", 1),
        ("kudos_board", 0),
        ("leave_set", 1),
        ("leave_list", 1),
        ("leave_cancelled", 1),
        ("checkin_check_dm", 1),
        ("checkout_check_dm", 1),
        ("team_show", 0),
        ("team_group_joined", 0),
        ("team_role_set", 1),
        ("team_member_removed", 1),
        ("goal_label", 2),
    ]
    for locale in LOCALES:
        for name, index in cases:
            _, shown = show(renderer, name, locale, **sample(name, index))
            assert EVIL in shown, f"{locale} {name}: {shown!r}"


# ----- labels used inside other messages -----------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "index", "expected"),
    [
        ("zh-CN", 0, "本月团队目标"),
        ("zh-CN", 1, "本周狼队目标（单数）"),
        ("zh-CN", 2, f"今日{SAMPLES_MODULE.EVIL}个人目标"),
        ("zh-CN", 3, "本季度团队目标（单数）"),
        ("en", 0, "Team goal this month"),
        ("en", 1, "狼队 goal this week (deals)"),
        ("en", 2, f"{SAMPLES_MODULE.EVIL}'s goal today"),
        ("en", 3, "Team goal this quarter (deals)"),
    ],
)
def test_goal_label_is_one_short_line(renderer: Renderer, locale: str, index: int, expected: str) -> None:
    msg = renderer.render("goal_label", locale, **sample("goal_label", index))
    assert len(msg.blocks) == 1
    assert msg.fallback_text == expected


@pytest.mark.parametrize(
    ("locale", "index", "expected"),
    [
        ("zh-CN", 0, "今日 11月22日"),
        ("zh-CN", 1, "本周 11月16日–11月22日"),
        ("zh-CN", 2, "11月"),
        ("zh-CN", 3, "2026年第4季度"),
        ("zh-CN", 4, "本周 2026年12月28日–2027年1月3日"),
        ("en", 0, "Today, Nov 22"),
        ("en", 1, "This week, Nov 16 – Nov 22"),
        ("en", 2, "November"),
        ("en", 3, "Q4 2026"),
        ("en", 4, "This week, Dec 28, 2026 – Jan 3, 2027"),
    ],
)
def test_period_label(renderer: Renderer, locale: str, index: int, expected: str) -> None:
    msg = renderer.render("period_label", locale, **sample("period_label", index))
    assert len(msg.blocks) == 1
    assert msg.fallback_text == expected


def test_period_label_quarters(renderer: Renderer) -> None:
    for month, quarter in (("01", 1), ("04", 2), ("07", 3), ("12", 4)):
        start = f"2027-{month}-01"
        zh = renderer.render("period_label", "zh-CN", period="quarter", start=start, end=start)
        en = renderer.render("period_label", "en", period="quarter", start=start, end=start)
        assert zh.fallback_text == f"2027年第{quarter}季度"
        assert en.fallback_text == f"Q{quarter} 2027"


# ----- specific wording ----------------------------------------------------------------------------


def test_help_lists_each_command_with_example_and_group_hint(renderer: Renderer) -> None:
    _, zh = show(renderer, "help", "zh-CN", **sample("help", 0))
    assert "• /目标 — 查看或设定目标（必须有数字和周期）\n例：/目标 团队 30万 本月" in zh
    assert "@机器人 命令" in zh and "/ 可以省略" in zh
    _, en = show(renderer, "help", "en", **sample("help", 0))
    assert "e.g. /目标 团队 30万 本月" in en and "optional" in en
    _, already_slashed = show(renderer, "help", "zh-CN", **sample("help", 1))
    assert "//kudos" not in already_slashed and "/kudos" in already_slashed


def test_goal_list_shows_bars_pace_and_reached(renderer: Renderer) -> None:
    msg, zh = show(renderer, "goal_list", "zh-CN", **sample("goal_list", 0))
    bars = [b for b in msg.blocks if isinstance(b, Progress)]
    assert [b.value for b in bars] == [0.4349, 1.04, 0.6]
    assert bars[0].label == "本月团队目标 ¥130,470/¥300,000"
    assert "还需每天 ¥12,000（剩余 14 个工作日）" in zh
    assert "🎉 已达成" in zh
    _, en = show(renderer, "goal_list", "en", **sample("goal_list", 0))
    assert "¥12,000 a day still needed (14 workdays left)" in en


def test_goal_list_empty_shows_how_to_set_one(renderer: Renderer) -> None:
    msg, zh = show(renderer, "goal_list", "zh-CN", goals=[])
    assert "还没有设定目标" in zh and "/目标 团队 30万 本月" in zh
    assert not any(isinstance(b, Progress) for b in msg.blocks)
    _, en = show(renderer, "goal_list", "en", goals=[])
    assert "No goals yet" in en and "/goal team 300000 month" in en


def test_goal_set_confirms_with_bar_and_pace(renderer: Renderer) -> None:
    msg, zh = show(renderer, "goal_set", "zh-CN", **sample("goal_set", 0))
    assert "目标已设定：本月团队目标 ¥300,000" in zh
    assert any(isinstance(b, Progress) for b in msg.blocks)
    assert "还需每天 ¥12,000" in zh


def test_deal_recorded_and_voided(renderer: Renderer) -> None:
    _, own = show(renderer, "deal_recorded", "zh-CN", **sample("deal_recorded", 0))
    assert "✅ 已登记成交 #12 ¥12,800（华为年度采购），喜报已发到群里" in own
    assert "/成交 undo 12" in own
    _, other = show(renderer, "deal_recorded", "zh-CN", **sample("deal_recorded", 1))
    assert f"已为 {EVIL} 登记成交" in other
    _, bare = show(renderer, "deal_recorded", "zh-CN", **sample("deal_recorded", 2))
    assert "（" not in bare.splitlines()[0]
    _, en = show(renderer, "deal_recorded", "en", **sample("deal_recorded", 1))
    assert f"for {EVIL}" in en and "/deal undo 13" in en
    _, voided = show(renderer, "deal_voided", "zh-CN", **sample("deal_voided", 0))
    assert voided == "↩️ 成交 #12 ¥12,800（Alice）已撤销，排行和目标已更正"
    _, anonymous = show(renderer, "deal_voided", "zh-CN", **sample("deal_voided", 2))
    assert anonymous == "↩️ 成交 #14 ¥800 已撤销，排行和目标已更正"


def test_kudos_board_and_empty_board(renderer: Renderer) -> None:
    _, zh = show(renderer, "kudos_board", "zh-CN", **sample("kudos_board", 0))
    assert "本月点赞榜" in zh and "🥇 Alice · 8 个赞" in zh and f"4. {EVIL} · 1 个赞" in zh
    _, empty = show(renderer, "kudos_board", "zh-CN", rows=[])
    assert "/点赞 @成员 原因" in empty
    _, empty_en = show(renderer, "kudos_board", "en", rows=[])
    assert "/kudos @member reason" in empty_en


def test_rank_rows_own_place_and_total(renderer: Renderer) -> None:
    _, zh = show(renderer, "rank", "zh-CN", **sample("rank", 0))
    lines = zh.splitlines()
    assert lines[0] == "【🏆 今日个人排行（金额）】"
    assert "• 🥇 Alice ¥25,600 · 2单" in lines
    assert "• 🥉 李娜 ¥10,000 · 1单" in lines
    assert "• 4. 王芳 ¥8,000 · 1单" in lines
    assert "📍 你的位置：第7名 ¥3,000，距上一名还差 ¥1,200" in lines
    assert lines[-1] == "💰 团队今日总业绩：¥66,000"
    _, en = show(renderer, "rank", "en", **sample("rank", 0))
    assert "🥇 Alice ¥25,600 · 2 deals" in en and "#7 ¥3,000, ¥1,200 behind the next place" in en


def test_rank_own_row_shown_on_board(renderer: Renderer) -> None:
    _, zh = show(renderer, "rank", "zh-CN", **sample("rank", 1))
    assert "你的位置：第2名，距上一名还差 ¥3,200" in zh
    assert zh.count("张伟") == 1
    _, deals = show(renderer, "rank", "zh-CN", **sample("rank", 3))
    assert "【🏆 本月个人排行（单数）】" in deals and "🥈 张伟 9单" in deals and "还差 3单" in deals
    _, groups = show(renderer, "rank", "zh-CN", **sample("rank", 2))
    assert "本周小组排行（人均）" in groups and "🥇 狼队 人均 ¥18,000 · 6单" in groups
    assert "你的" not in groups


def test_rank_without_rows(renderer: Renderer) -> None:
    _, people = show(renderer, "rank", "zh-CN", **sample("rank", 4))
    assert "还没有成员" in people and "团队本季度总业绩：¥0" in people
    _, groups = show(renderer, "rank", "zh-CN", **sample("rank", 5))
    assert "/团队 group add" in groups
    _, groups_en = show(renderer, "rank", "en", **sample("rank", 5))
    assert "/team group add" in groups_en


def test_leave_replies(renderer: Renderer) -> None:
    _, booked = show(renderer, "leave_set", "zh-CN", **sample("leave_set", 0))
    assert "已登记请假：11月23日–11月25日（3 个工作日），事由：年假" in booked
    _, other = show(renderer, "leave_set", "zh-CN", **sample("leave_set", 1))
    assert f"已为 {EVIL} 登记请假：11月28日（都是休息日）" in other
    _, en = show(renderer, "leave_set", "en", **sample("leave_set", 2))
    assert "Dec 31, 2026 – Jan 4, 2027 (2 workdays)" in en
    _, listed = show(renderer, "leave_list", "zh-CN", **sample("leave_list", 0))
    assert "• 11月23日–11月25日 · 年假" in listed and "• 12月7日" in listed
    _, none = show(renderer, "leave_list", "zh-CN", **sample("leave_list", 2))
    assert "目前没有请假" in none and "/请假 今天" in none
    _, cancelled = show(renderer, "leave_cancelled", "zh-CN", **sample("leave_cancelled", 0))
    assert "已取消 Alice 的 2 条请假" in cancelled
    _, nothing = show(renderer, "leave_cancelled", "zh-CN", **sample("leave_cancelled", 2))
    assert "没有请假" in nothing and "已取消" not in nothing


def test_checkin_replies(renderer: Renderer) -> None:
    _, number = show(renderer, "checkin_retry", "zh-CN", **sample("checkin_retry", 0))
    assert "「很多」不是数字" in number and "例如 50" in number
    assert number.splitlines()[-1] == "今天计划打多少通电话？"
    _, amount = show(renderer, "checkin_retry", "zh-CN", **sample("checkin_retry", 2))
    assert "例如 5万" in amount
    _, amount_en = show(renderer, "checkin_retry", "en", **sample("checkin_retry", 2))
    assert "e.g. 50000" in amount_en
    _, given = show(renderer, "checkin_retry", "en", **sample("checkin_retry", 1))
    assert "e.g. 5万" in given
    _, dm = show(renderer, "checkin_check_dm", "zh-CN", **sample("checkin_check_dm", 0))
    assert "📬" in dm and "已私信你今天的打卡问题，请在私聊里回答" in dm
    _, skipped = show(renderer, "checkin_skipped", "zh-CN", **sample("checkin_skipped", 0))
    assert "已跳过（原因：今天全天外出拜访客户）" in skipped
    _, bare = show(renderer, "checkin_skipped", "zh-CN", reason="")
    assert "原因" not in bare


def test_team_setup_and_rename(renderer: Renderer) -> None:
    _, created = show(renderer, "team_setup", "zh-CN", **sample("team_setup", 0))
    assert "华东一部" in created and "east" in created and "团队长" in created
    assert "/团队 group add 狼队" in created
    _, created_en = show(renderer, "team_setup", "en", **sample("team_setup", 0))
    assert "home channel" in created_en and "/team group add" in created_en
    _, renamed = show(renderer, "team_setup", "zh-CN", **sample("team_setup", 2))
    assert renamed == "✅ 团队已更名为「华东销售一部」（团队编号 east 不变）"


def test_team_show_uses_fields_and_plain_names(renderer: Renderer) -> None:
    msg, zh = show(renderer, "team_show", "zh-CN", **sample("team_show", 0))
    fields = dict(item for block in msg.blocks if isinstance(block, Fields) for item in block.items)
    assert fields["工作日历"] == "中国法定节假日（含调休）"
    assert fields["打卡提醒"] == "10:30、14:00"
    assert fields["周报"] == "每周五 18:30"
    assert fields["月报"] == "每月最后一个工作日 18:30"
    assert fields["每人每日点赞"] == "5 次"
    assert "狼队（2人）「狼性出击，业绩翻倍」：Alice、张伟" in zh
    assert "鹰队（0人）：暂无成员" in zh
    assert "未分组（1人）：王芳" in zh
    assert "@Alice" not in zh
    assert msg.mentioned_user_ids() == ()
    msg_en, en = show(renderer, "team_show", "en", **sample("team_show", 1))
    fields_en = dict(item for block in msg_en.blocks if isinstance(block, Fields) for item in block.items)
    assert fields_en["Kudos per person a day"] == "no limit"
    assert fields_en["Monthly summary"] == "day 25 of each month at 18:00"
    assert "No groups yet" in en


def test_team_group_replies_use_plain_names(renderer: Renderer) -> None:
    msg, joined = show(renderer, "team_group_joined", "zh-CN", **sample("team_group_joined", 0))
    assert msg.mentioned_user_ids() == ()
    assert f"Alice、张伟、{EVIL} 已加入「狼队」" in joined
    _, added = show(renderer, "team_group_added", "zh-CN", **sample("team_group_added", 0))
    assert "小组「狼队」成立" in added and "/团队 group join 狼队" in added
    _, updated = show(renderer, "team_group_added", "zh-CN", **sample("team_group_added", 2))
    assert "口号已更新为「越战越勇」" in updated


def test_roles_schedule_and_calendar_in_words(renderer: Renderer) -> None:
    roles = {"lead": "组长", "leader": "团队长", "member": "组员"}
    for role, word in roles.items():
        _, zh = show(renderer, "team_role_set", "zh-CN", member={"user_id": "U1", "name": "Bob"}, role=role)
        assert zh == f"🎖 Bob 现在是{word}"
    _, weekly = show(renderer, "team_schedule_set", "zh-CN", kind="weekly", value="fri 18:30")
    assert "周报时间已改为：每周五 18:30" in weekly
    _, reminders = show(renderer, "team_schedule_set", "zh-CN", kind="reminders", value="10:30 14:00")
    assert "10:30、14:00" in reminders
    _, morning_en = show(renderer, "team_schedule_set", "en", kind="morning", value="08:45")
    assert "Morning post: now 08:45 on workdays" in morning_en
    calendars = {"cn": "中国法定节假日（含调休）", "weekdays": "周一至周五", "everyday": "每天（直播团队）"}
    for calendar, words in calendars.items():
        _, zh = show(renderer, "team_calendar_set", "zh-CN", calendar=calendar)
        assert words in zh


def test_unknown_enum_values_fail_loudly(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        renderer.render("team_role_set", "zh-CN", member={"user_id": "U1", "name": "Bob"}, role="boss")
    with pytest.raises(ValueError, match="unknown period"):
        renderer.render("period_label", "en", period="year", start="2026-01-01", end="2026-12-31")


# ----- errors --------------------------------------------------------------------------------------

ZH_ARGS = {
    "amount": "金额",
    "member": "成员",
    "reason": "理由",
    "group": "小组",
    "role": "角色",
    "time": "时间",
    "kind": "类型",
    "calendar": "日历",
    "action": "操作",
    "name": "名称",
    "dates": "日期",
    "target": "目标值",
    "id": "编号",
    "goal": "目标",
    "competition": "比赛名称",
    "switch": "开关",
    "thresholds": "目标进度",
    "minutes": "分钟",
    "stake": "赌注",
}
GENERIC = ("的值", "没有执行成功", "is not valid", "did not work")

#: every reason InvalidArgument carries (amount.* and day.* from the domain parsers), with a typical argument
REASONS = {
    "amount.empty": "amount",
    "amount.not_a_number": "amount",
    "amount.not_positive": "amount",
    "amount.too_precise": "amount",
    "amount.unknown_currency": "amount",
    "amount.too_large": "amount",
    "period.unknown": "period",
    "day.malformed": "dates",
    "day.impossible": "dates",
    "day.reversed": "dates",
    "day.past": "dates",
    "deal.id": "id",
    "goal.id": "goal_id",
    "member.unknown": "member",
    "member.ambiguous": "member",
    "group.unknown": "group",
    "role.unknown": "role",
    "time.malformed": "time",
    "calendar.unknown": "calendar",
    "goal.vague": "goal",
    "subject.unknown": "action",
    "text.too_long": "reason",
    "pk.past": "dates",
    "pk.too_few_groups": "groups",
    "pk.unknown": "competition",
    "share.unknown": "share",
    "announce.unknown": "kind",
    "switch.malformed": "switch",
    "threshold.malformed": "thresholds",
    "window.malformed": "minutes",
    "metric.unknown": "metric",
    "command.unknown": "topic",
}
CODES = {
    "unknown_command": {"text": "/dael", "suggestion": "/deal"},
    "permission_denied": {"command": "deal", "required": "lead"},
    "wrong_place": {"where": "group"},
    "not_a_member": {},
    "kudos_self": {},
    "kudos_cap": {"cap": 5},
    "deal_not_found": {"id": ""},
    "deal_undo_expired": {"id": 3},
    "deal_already_void": {"id": 3},
    "goal_not_found": {},
    "goal_over": {},
    "no_team": {},
    "last_leader": {},
    "internal": {"event_id": "Ev1"},
    "pk_name_taken": {"name": "双11冲刺"},
    "nothing_to_share": {},
}


def _command_sources() -> str:
    files = [*sorted((ROOT / "bot" / "commands").glob("*.py")), ROOT / "bot" / "dispatcher.py"]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def test_error_lists_cover_what_the_commands_raise() -> None:
    source = _command_sources()
    reasons = set(re.findall(r'InvalidArgument\([^()]*?"([a-z_]+\.[a-z_]+)"', source))
    money = ROOT / "bot" / "domain" / "money.py"
    reasons |= {
        f"amount.{c}" for c in re.findall(r'InvalidAmount\("(\w+)"\)', money.read_text(encoding="utf-8"))
    }
    periods = ROOT / "bot" / "domain" / "periods.py"
    reasons |= {f"day.{c}" for c in re.findall(r'InvalidDay\("(\w+)"\)', periods.read_text(encoding="utf-8"))}
    assert reasons, "found no reasons: the pattern is stale"
    assert reasons <= set(REASONS), f"reasons without a test: {sorted(reasons - set(REASONS))}"
    codes = set(re.findall(r'Refused\("(\w+)"', source))
    assert codes <= set(CODES), f"codes without a test: {sorted(codes - set(CODES))}"
    missing_calls = re.findall(r"MissingArgument\(([^()]*)\)", source)
    arguments = {name for call in missing_calls for name in re.findall(r'"(\w+)"', call)}
    assert arguments, "found no MissingArgument: the pattern is stale"
    assert arguments <= set(ZH_ARGS), f"arguments without a Chinese name: {sorted(arguments - set(ZH_ARGS))}"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_has_its_own_sentence(renderer: Renderer, locale: str, reason: str) -> None:
    usage = "/成交 金额 [@成员]" if locale == "zh-CN" else "/deal AMOUNT [@member]"
    detail = {"argument": REASONS[reason], "value": "xyz", "reason": reason}
    _, shown = show(
        renderer, "error", locale, code="invalid_argument", detail=detail, usage=usage, example=None
    )
    assert not any(g in shown for g in GENERIC), shown
    assert shown.splitlines()[-1] == ("用法：" if locale == "zh-CN" else "Usage: ") + usage
    # The extras some commands leave out must not break the reply either.
    bare = {"argument": REASONS[reason], "value": "", "reason": reason}
    renderer.render("error", locale, code="invalid_argument", detail=bare, usage=None, example=None)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_renders_with_usage(renderer: Renderer, locale: str, code: str) -> None:
    usage = "/团队 role @成员 leader|lead|member"
    _, shown = show(
        renderer, "error", locale, code=code, detail=CODES[code], usage=usage, example="/团队 show"
    )
    assert not any(g in shown for g in GENERIC), shown
    assert usage in shown and "/团队 show" in shown


@pytest.mark.parametrize("argument", sorted(ZH_ARGS))
def test_missing_argument_names_it_in_chinese(renderer: Renderer, argument: str) -> None:
    _, zh = show(
        renderer, "error", "zh-CN", code="missing_argument", detail={"argument": argument}, usage=None
    )
    assert f"「{ZH_ARGS[argument]}」" in zh
    assert f"「{argument}」" not in zh
    _, en = show(renderer, "error", "en", code="missing_argument", detail={"argument": argument}, usage=None)
    assert "missing" in en


def test_error_details_that_change_the_sentence(renderer: Renderer) -> None:
    def zh(**detail: Any) -> str:
        code = detail.pop("code", "invalid_argument")
        return show(renderer, "error", "zh-CN", code=code, detail=detail, usage=None, example=None)[1]

    def en(**detail: Any) -> str:
        code = detail.pop("code", "invalid_argument")
        return show(renderer, "error", "en", code=code, detail=detail, usage=None, example=None)[1]

    assert "太大了" in zh(argument="amount", value="9e99", reason="amount.too_large")
    assert "上限 ¥100,000,000" in zh(
        argument="amount", value="9e99", reason="amount.too_large", max="¥100,000,000"
    )
    assert "按 CNY 记账" in zh(
        argument="amount", value="$5", reason="amount.unknown_currency", currency="CNY"
    )
    assert "counts in CNY" in en(
        argument="amount", value="$5", reason="amount.unknown_currency", currency="CNY"
    )
    assert "目标值必须大于 0" in zh(argument="target", value="1.5", reason="amount.not_positive")
    assert "/deal undo" in zh(argument="amount", value="-5", reason="amount.not_positive")
    assert "已经过去了" in zh(argument="dates", value="2026-11-01", reason="day.past")
    assert "不是成交编号" in zh(argument="id", value="abc", reason="deal.id")
    assert "请写上小组名称" in zh(argument="group", value="", reason="group.unknown")
    assert "日程「lunch」" in zh(argument="kind", value="lunch", reason="subject.unknown")
    assert "fri 18:30" in zh(argument="time", value="friday 6pm", reason="time.malformed")
    assert "fri 18:30" not in zh(argument="time", value="8点45", reason="time.malformed")
    assert "people" in zh(argument="subject", value="teams", reason="subject.unknown")
    assert "没有可以撤销" in zh(code="deal_not_found", id="")
    assert "D-1" in zh(code="deal_not_found", id="D-1")
    assert "/团队 role @成员 leader" in zh(code="last_leader")
    assert "/团队 setup 团队名称" in zh(code="no_team")
    assert "/team setup TEAM NAME" in en(code="no_team")
    assert "/team setup 华东一部" in zh(code="no_team", hint="/team setup 华东一部")


@pytest.mark.parametrize("locale", LOCALES)
def test_error_samples_render(renderer: Renderer, locale: str) -> None:
    for context in ERROR_SAMPLES:
        _, shown = show(renderer, "error", locale, **context)
        assert shown.strip()
        assert not any(g in shown for g in GENERIC), shown
        if context["usage"]:
            assert context["usage"] in shown
        if _contains_evil(context):
            assert EVIL in shown and "49" not in shown

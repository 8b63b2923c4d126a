"""Sample contexts for every post template: template name -> list of contexts, one golden file each.

Each template has a full sample, the optional-empty variants, and one where a member's own text is
hostile (`EVIL`): mention-everyone syntax, jinja syntax and Markdown must all come out literally.
Adding a template without a sample here fails test_golden.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.golden.reply_samples import ERROR_SAMPLES, REPLY_SAMPLES

EVIL = "<!channel> {{ 7*7 }} **x** @所有人"

ALICE = {"user_id": "U001", "name": "Alice"}
ZHANG = {"user_id": "U002", "name": "张伟"}
LI = {"user_id": "U003", "name": "李娜"}
# Members may be objects as well as dicts: templates only use `.user_id` and `.name`.
WANG = SimpleNamespace(user_id="U004", name="王芳")
CHEN = {"user_id": "U005", "name": "陈静"}
MALLORY = {"user_id": "U666", "name": EVIL}

TEAM_GOAL = {"label": "本月团队目标", "target": "¥300,000", "ratio": 0.4349, "pace": "¥12,000"}

_DEAL: dict[str, Any] = {
    "member": ALICE,
    "amount": "¥12,800",
    "customer": "上海明德贸易有限公司",
    "product": "年度旗舰套餐",
    "member_total_today": "¥25,600",
    "member_rank_today": 1,
    "member_deals_today": 2,
    "team_total_today": "¥58,000",
    "team_goal": TEAM_GOAL,
    "group": {"name": "狼队", "slogan": "狼性出击，业绩翻倍", "rank": 2, "total": "¥30,000"},
}

_RECAP: dict[str, Any] = {
    "period_label": "11月23日 周一",
    "total": "¥58,000",
    "deals": 6,
    "goal": {"label": "本月团队目标", "target": "¥300,000", "ratio": 0.63, "pace": "¥9,500"},
    "planned_total": "¥70,000",
    "vs_plan_ratio": 58000 / 70000,
    "people": [
        {"member": ALICE, "planned": "¥20,000", "actual": "¥25,600", "deals": 2},
        {"member": ZHANG, "planned": "¥30,000", "actual": "¥22,400", "deals": 3},
        {"member": LI, "planned": None, "actual": "¥10,000", "deals": 1},
        {"member": WANG, "planned": "¥20,000", "actual": "¥0", "deals": 0},
    ],
    "groups": [
        {
            "rank": 1,
            "name": "狼队",
            "slogan": "狼性出击，业绩翻倍",
            "total": "¥36,000",
            "per_capita": "¥18,000",
        },
        {"rank": 2, "name": "虎队", "slogan": "", "total": "¥22,000", "per_capita": "¥7,333"},
    ],
    "kudos": [
        {"giver": ZHANG, "receivers": [ALICE, LI], "reason": "帮我搞定了难缠的大客户"},
        {"giver": LI, "receivers": [WANG], "reason": ""},
    ],
    "participation": {"done": 9, "total": 10, "ratio": 0.9, "missing": [WANG]},
    "pace": [
        {
            "period": "week",
            "total": "¥158,000",
            "deals": 17,
            "goal": {
                "label": "本周团队目标",
                "target": "¥200,000",
                "ratio": 0.79,
                "pace": "¥21,000",
                "workdays_left": 2,
            },
        },
        {"period": "month", "total": "¥560,000", "deals": 61, "goal": None},
    ],
    "streaks": [{"member": ALICE, "days": 23}, {"member": MALLORY, "days": 5}],
}

_SUMMARY: dict[str, Any] = {
    "kind": "weekly",
    "period_start": "2026-11-16",
    "period_end": "2026-11-22",
    "total": "¥286,000",
    "deals": 31,
    "goals": [
        {"label": "本周团队目标", "actual": "¥286,000", "target": "¥250,000", "ratio": 1.144, "pace": None},
        {"label": "狼队本周目标", "actual": "¥158,000", "target": "¥150,000", "ratio": 1.053, "pace": None},
    ],
    "previous_total": "¥255,000",
    "change_ratio": 0.1216,
    "champion_person": {"member": ZHANG, "amount": "¥64,000"},
    "champion_group": {"name": "狼队", "amount": "¥158,000"},
    "participation": {"done": 46, "total": 50, "ratio": 0.92},
    "streaks": [{"member": ALICE, "days": 23}, {"member": LI, "days": 12}],
    "personal_met": [{"member": ZHANG, "actual": "¥64,000", "target": "¥50,000"}],
    "personal_total": 3,
}


def _error(code: str, detail: dict[str, Any], usage: str | None = None, example: str | None = None) -> dict:
    return {"code": code, "detail": detail, "usage": usage, "example": example}


_DEAL_USAGE = "/deal 金额 [@成员] [客户或产品]"
_DEAL_EXAMPLE = "/deal 12800 @alice 上海客户"
_INVALID_REASONS: list[dict[str, Any]] = [
    {"argument": "amount", "reason": "amount.empty"},
    {"argument": "amount", "reason": "amount.not_a_number", "value": EVIL},
    {"argument": "amount", "reason": "amount.not_positive", "value": "-500"},
    {"argument": "amount", "reason": "amount.too_precise", "value": "12.345"},
    {"argument": "amount", "reason": "amount.unknown_currency", "value": "€500"},
    {"argument": "amount", "reason": "amount.too_large", "value": "9999999999", "max": "¥100,000,000"},
    {"argument": "period", "reason": "period.unknown", "value": "明年"},
    {"argument": "day", "reason": "day.malformed", "value": "11/23"},
    {"argument": "day", "reason": "day.impossible", "value": "2026-02-30"},
    {"argument": "day", "reason": "day.reversed", "value": "2026-11-25..2026-11-23"},
    {"argument": "member", "reason": "member.unknown", "value": "@小明"},
    {"argument": "member", "reason": "member.ambiguous", "value": "张"},
    {"argument": "metric", "reason": "metric.unknown", "value": "calls"},
    {"argument": "group", "reason": "group.unknown", "value": "豹队"},
    {"argument": "role", "reason": "role.unknown", "value": "boss"},
    {"argument": "time", "reason": "time.malformed", "value": "8点45"},
    {"argument": "calendar", "reason": "calendar.unknown", "value": "us"},
    {"argument": "goal", "reason": "goal.vague", "value": "多卖点"},
    {"argument": "subject", "reason": "subject.unknown", "value": "teams"},
    {"argument": "text", "reason": "text.too_long", "value": "……", "max": 500},
    {"argument": "answer", "reason": "something.new", "value": "abc"},
]

SAMPLES: dict[str, list[dict[str, Any]]] = {
    "deal_announcement": [
        _DEAL,
        {
            **_DEAL,
            "member": MALLORY,
            "customer": "",
            "product": "",
            "member_rank_today": 3,
            "member_deals_today": 1,
            "team_goal": None,
            "group": None,
        },
        {
            **_DEAL,
            "customer": EVIL,
            "team_goal": {"label": "本周团队目标", "target": "¥50,000", "ratio": 1.16, "pace": None},
            "group": {"name": "虎队", "slogan": None, "rank": 1, "total": "¥8,000"},
        },
    ],
    "milestone": [
        {
            "kind": "first_deal",
            "member": ALICE,
            "amount": "¥12,800",
            "goal_label": None,
            "previous_record": None,
        },
        {
            "kind": "first_deal",
            "member": None,
            "amount": "¥3,000",
            "goal_label": None,
            "previous_record": None,
        },
        {"kind": "goal_50", "member": ZHANG, "amount": "¥150,400", "goal_label": "本月团队目标 ¥30万"},
        {"kind": "goal_50", "member": None, "amount": "¥150,400", "goal_label": None},
        {"kind": "goal_100", "member": MALLORY, "amount": "¥301,000", "goal_label": "本月团队目标 ¥30万"},
        {"kind": "record_member", "member": LI, "amount": "¥48,000", "previous_record": "¥41,500"},
        {"kind": "record_member", "member": WANG, "amount": "¥9,000", "previous_record": None},
        {"kind": "record_team", "member": ALICE, "amount": "¥128,000", "previous_record": "¥96,000"},
        {"kind": "record_team", "member": None, "amount": "¥128,000", "previous_record": None},
        {
            "kind": "goal_percent",
            "percent": 80,
            "member": ZHANG,
            "amount": "¥240,000",
            "goal_label": "本月团队目标 ¥30万",
        },
    ],
    "deal_digest": [
        {
            "minutes": 1,
            "total": "¥6.2万",
            "deals": [
                {"member": ZHANG, "amount": "¥1.28万", "customer": "华为年度采购", "product": ""},
                {"member": ALICE, "amount": "¥5,000", "customer": "", "product": "空调"},
                {"member": {"name": EVIL, "user_id": "U666"}, "amount": "¥4.42万", "customer": EVIL},
            ],
        },
    ],
    "rank_change": [
        {
            "period": "week",
            "subject": "people",
            "changes": [
                {"overtaker": ZHANG, "overtaken": ALICE, "rank": 1, "gap": "¥2,800"},
                {"overtaker": {"name": EVIL, "user_id": "U666"}, "overtaken": {"name": "李娜"}, "rank": 3},
            ],
            "top": [
                {"rank": 1, "name": "张伟", "value": "¥64,000"},
                {"rank": 2, "name": "Alice", "value": "¥61,200"},
                {"rank": 3, "name": EVIL, "value": "¥40,000"},
            ],
        },
        {
            "period": "today",
            "subject": "groups",
            "changes": [{"overtaker": {"name": "狼队"}, "overtaken": {"name": "虎队"}, "rank": 1}],
            "top": [
                {"rank": 1, "name": "狼队", "value": "¥36,000"},
                {"rank": 2, "name": "虎队", "value": "¥34,500"},
            ],
        },
        {"period": "month", "subject": "people", "changes": [], "top": []},
    ],
    "rank_board": [
        {
            "people": [
                {"rank": 1, "name": "张伟", "value": "¥64,000", "deals": 3},
                {"rank": 2, "name": "Alice", "value": "¥61,200", "deals": 1},
                {"rank": 3, "name": EVIL, "value": "¥40,000", "deals": 2},
                {"rank": 4, "name": "李娜", "value": "¥1,000", "deals": 1},
            ],
            "groups": [
                {"rank": 1, "name": "狼队", "value": "¥125,200", "deals": 4},
                {"rank": 2, "name": EVIL, "value": "¥41,000", "deals": 3},
            ],
            "total": "¥166,200",
            "deals": 7,
        },
        {
            "people": [{"rank": 1, "name": "Alice", "value": "¥12,800", "deals": 1}],
            "groups": [],
            "total": "¥12,800",
            "deals": 1,
        },
    ],
    "kudos_post": [
        {"giver": ZHANG, "receivers": [ALICE], "reason": "帮我搞定了难缠的大客户，学到了！"},
        {"giver": ALICE, "receivers": [LI, WANG, CHEN], "reason": "Great teamwork on the 双11 push"},
        {"giver": MALLORY, "receivers": [MALLORY, ALICE], "reason": EVIL},
        {"giver": LI, "receivers": [ZHANG], "reason": ""},
    ],
    "checkin_prompt": [
        {
            "member": ALICE,
            "question": "昨天完成了什么？",
            "index": 1,
            "total": 3,
            "kind": "text",
            "example": None,
            "day": "2026-11-23",
        },
        {
            "member": ZHANG,
            "question": "今天的目标成交额？",
            "index": 2,
            "total": 3,
            "kind": "amount",
            "example": "20000",
        },
        {
            "member": MALLORY,
            "question": EVIL,
            "index": 1,
            "total": 1,
            "kind": "number",
            "example": "80",
        },
        {
            "member": ALICE,
            "question": "昨天完成了什么？",
            "index": 1,
            "total": 3,
            "kind": "text",
            "example": None,
            "current": EVIL,
            "editing": True,
        },
    ],
    "checkin_reminder": [
        {"member": ALICE, "remaining": 2, "reminder_no": 1, "day": "2026-11-23"},
        {"member": MALLORY, "remaining": 1, "reminder_no": 2, "day": "2026-11-23"},
    ],
    "checkin_done": [
        {
            "answers": [
                {"question": "昨天完成了什么？", "answer": "打了 85 个电话，成交 2 单"},
                {"question": "今天的目标（通话量、成交额）？", "answer": "100 通，¥20,000"},
                {
                    "question": "遇到什么困难，需要什么支持？",
                    "answer": "1. 老客户回访名单\n2. 报价审批快一点",
                },
            ],
            "streak": 12,
        },
        {
            "answers": [
                {"question": "昨天完成了什么？", "answer": EVIL},
                {"question": "遇到什么困难，需要什么支持？", "answer": ""},
            ],
            "streak": 1,
        },
        {"answers": [{"question": "今天的目标？", "answer": "3 单"}], "streak": 4},
        {"answers": [{"question": "今天的目标？", "answer": "5 单"}], "streak": 4, "edited": True},
    ],
    "checkin_post": [
        {
            "member": ZHANG,
            "answers": [
                {"question": "昨天完成了什么？", "answer": "拜访 3 家客户，签下 1 单"},
                {"question": "今天的目标（通话量、成交额）？", "answer": "60 通，¥30,000"},
                {"question": "遇到什么困难，需要什么支持？", "answer": None},
            ],
        },
        {"member": MALLORY, "answers": [{"question": "今天的目标？", "answer": EVIL}]},
    ],
    "morning": [
        {
            "date_label": "11月23日 周一",
            "goals": [
                {
                    "label": "本月团队目标",
                    "actual": "¥130,470",
                    "target": "¥300,000",
                    "ratio": 0.4349,
                    "pace": "¥28,254",
                    "workdays_left": 6,
                },
                {
                    "label": "本周成交单数",
                    "actual": "52 单",
                    "target": "50 单",
                    "ratio": 1.04,
                    "pace": None,
                    "workdays_left": 4,
                },
                {
                    "label": "本日冲刺",
                    "actual": "¥0",
                    "target": "¥20,000",
                    "ratio": 0.0,
                    "pace": "¥20,000",
                    "workdays_left": 0,
                },
            ],
            "champion_person": {"member": ZHANG, "amount": "¥32,000"},
            "champion_group": {"name": "狼队", "amount": "¥58,000"},
            "yesterday_total": "¥96,000",
            "commitments": [
                {"member": ALICE, "text": "100 通电话，¥20,000"},
                {"member": ZHANG, "text": "回访 10 个老客户，¥30,000"},
                {"member": MALLORY, "text": EVIL},
            ],
            "commitments_total": "¥50,000",
            "not_checked_in": [LI, MALLORY],
            "on_leave": [WANG],
            "groups": [
                {"rank": 1, "name": "狼队", "slogan": "狼性出击，业绩翻倍", "total": "¥158,000"},
                {"rank": 2, "name": "虎队", "slogan": "虎虎生威", "total": "¥120,000"},
                {"rank": 3, "name": "鹰队", "slogan": None, "total": "¥8,000"},
            ],
        },
        {
            "date_label": "11月24日 周二",
            "goals": [],
            "champion_person": None,
            "champion_group": None,
            "yesterday_total": None,
            "commitments": [],
            "commitments_total": None,
            "not_checked_in": [],
            "on_leave": [],
            "groups": [],
        },
    ],
    "recap": [
        _RECAP,
        {
            **_RECAP,
            "period_label": "本周",
            "people": [{"member": MALLORY, "planned": EVIL, "actual": "¥1,000", "deals": 1}],
            "kudos": [{"giver": MALLORY, "receivers": [ALICE, ZHANG], "reason": EVIL}],
            "goal": {"label": "本周团队目标", "target": "¥50,000", "ratio": 1.2},
            "pace": None,
            "streaks": [],
        },
        {
            "period_label": "11月24日 周二",
            "total": "¥0",
            "deals": 0,
            "goal": None,
            "planned_total": None,
            "vs_plan_ratio": None,
            "people": [],
            "groups": [],
            "kudos": [],
            "participation": None,
        },
        {
            **_RECAP,
            "participation": {"done": 10, "total": 10, "ratio": 1.0, "missing": []},
            "pace": [
                {
                    "period": "week",
                    "total": "¥258,000",
                    "deals": 27,
                    "goal": {"label": "本周团队目标", "target": "¥200,000", "ratio": 1.29, "pace": None},
                },
                {
                    "period": "month",
                    "total": "¥560,000",
                    "deals": 61,
                    "goal": {
                        "label": "本月团队目标",
                        "target": "¥1,000,000",
                        "ratio": 0.56,
                        "pace": "¥44,000",
                        "workdays_left": 1,
                    },
                },
            ],
            "streaks": [{"member": LI, "days": 2}],
        },
        {  # groups that sold nothing have no place
            **_RECAP,
            "groups": [
                {"rank": 1, "name": "狼队", "slogan": "", "total": "¥36,000", "per_capita": "¥18,000"},
                {"rank": None, "name": "虎队", "slogan": "", "total": "¥0", "per_capita": "¥0"},
                {"rank": None, "name": "鹰队", "slogan": "", "total": "¥0", "per_capita": "¥0"},
            ],
        },
    ],
    "summary": [
        _SUMMARY,
        {
            **_SUMMARY,
            "kind": "monthly",
            "period_start": "2026-11-01",
            "period_end": "2026-11-30",
            "goals": [
                {"label": "本月团队目标", "actual": "¥1,044,000", "target": "¥1,200,000", "ratio": 0.87},
            ],
            "change_ratio": -0.054,
            "champion_person": {"member": MALLORY, "amount": "¥240,000"},
            "streaks": [{"member": MALLORY, "days": 1}],
            "personal_met": [{"member": MALLORY, "actual": "¥240,000", "target": "¥200,000"}],
        },
        {
            "kind": "monthly",
            "period_start": "2026-12-01",
            "period_end": "2026-12-31",
            "total": "¥0",
            "deals": 0,
            "goals": [],
            "previous_total": None,
            "change_ratio": None,
            "champion_person": None,
            "champion_group": None,
            "participation": None,
            "streaks": [],
            "personal_met": [],
            "personal_total": 0,
        },
        {
            **_SUMMARY,
            "period_start": "2026-12-28",
            "period_end": "2027-01-03",
            "personal_met": [],
            "personal_total": 2,
        },
    ],
    "error": [
        _error("unknown_command", {"text": "/dael", "suggestion": "/deal"}, "/help"),
        _error("unknown_command", {"text": EVIL}),
        _error("missing_argument", {"argument": "amount"}, _DEAL_USAGE, _DEAL_EXAMPLE),
        *[_error("invalid_argument", detail, _DEAL_USAGE, _DEAL_EXAMPLE) for detail in _INVALID_REASONS],
        _error(
            "permission_denied",
            {"command": "/goal team", "required": "leader"},
            "/goal team 金额 周期",
            "/goal team 300000 month",
        ),
        _error("permission_denied", {"command": "/deal @李娜", "required": "lead"}),
        _error("wrong_place", {"where": "dm"}, "/checkin", "/checkin"),
        _error("wrong_place", {"where": "group"}, "/team setup 团队名", "/team setup 华东一部"),
        _error("not_a_member", {}),
        _error("kudos_self", {}, "/kudos @成员 理由", "/kudos @bob 谢谢你的帮助"),
        _error("kudos_cap", {"cap": 5}),
        _error("deal_not_found", {"id": "D-1024"}, "/deal undo [编号]", "/deal undo D-1023"),
        _error("deal_undo_expired", {}),
        _error("deal_already_void", {}),
        _error("no_team", {"hint": "/team setup 华东一部"}),
        _error("no_team", {}),
        _error("internal", {"event_id": "Ev08ABCD1234"}),
        _error("brand_new_code", {}, _DEAL_USAGE),
    ],
}


# Reply templates' samples live in reply_samples.py beside this file; one table for the golden test.
SAMPLES.update(REPLY_SAMPLES)
SAMPLES["error"] = [*SAMPLES["error"], *ERROR_SAMPLES]


# ----- group competitions (小组PK) -------------------------------------------------------------------

_PK: dict[str, Any] = {
    "name": "双11冲刺",
    "start": "2026-11-01",
    "end": "2026-11-11",
    "metric": "amount",
    "status": "active",
    "starts_in": 0,
    "days_left": 3,
}
_PK_ROWS: list[dict[str, Any]] = [
    {
        "rank": 1,
        "name": "虎队",
        "slogan": "虎虎生威",
        "value": "¥140,000",
        "total": "¥140,000",
        "deals": 12,
        "members": 4,
        "per_capita": "¥35,000",
        "gap": None,
        "key": "group:2",
    },
    {
        "rank": 2,
        "name": "狼队",
        "slogan": "狼性出击，业绩翻倍",
        "value": "¥110,000",
        "total": "¥110,000",
        "deals": 9,
        "members": 2,
        "per_capita": "¥55,000",
        "gap": "¥30,000",
        "key": "group:1",
    },
    {
        "rank": 3,
        "name": EVIL,
        "slogan": "",
        "value": "¥0",
        "total": "¥0",
        "deals": 0,
        "members": 1,
        "per_capita": "¥0",
        "gap": "¥140,000",
        "key": "group:3",
    },
]
_PK_PER_CAPITA = {**_PK, "metric": "per_capita", "days_left": 1}
_PK_PER_CAPITA_ROWS = [
    {**_PK_ROWS[1], "rank": 1, "value": "¥55,000", "gap": None},
    {**_PK_ROWS[0], "rank": 2, "value": "¥35,000", "gap": "¥20,000"},
]
_PK_DEALS_ROWS = [
    {**_PK_ROWS[0], "value": "12", "slogan": EVIL},
    {**_PK_ROWS[1], "value": "9", "gap": "3"},
]
_PK_TIED_ROWS = [
    {**_PK_ROWS[0], "gap": None},
    {**_PK_ROWS[1], "rank": 1, "total": "¥140,000", "value": "¥140,000", "gap": None},
]
_PK_LISTED = {**_PK, "groups": ["狼队", "虎队"]}

SAMPLES.update(
    {
        "pk_started": [
            {
                "competition": _PK,
                "groups": [{"name": "狼队", "slogan": "狼性出击"}, {"name": "虎队", "slogan": ""}],
            },
            {
                "competition": {**_PK, "name": EVIL, "metric": "per_capita", "starts_in": 5, "days_left": 11},
                "groups": [{"name": EVIL, "slogan": EVIL}, {"name": "虎队", "slogan": "虎虎生威"}],
            },
            {"competition": {**_PK, "metric": "deals", "end": "2027-01-03"}, "groups": []},
        ],
        "pk_stopped": [
            {"competition": {**_PK, "status": "stopped"}},
            {"competition": {**_PK, "name": EVIL, "end": "2026-11-01", "status": "stopped"}},
        ],
        "pk_list": [
            {
                "active": [
                    _PK_LISTED,
                    {**_PK_LISTED, "name": EVIL, "starts_in": 2, "groups": [EVIL, "鹰队"]},
                ],
                "ended": [{**_PK_LISTED, "name": "国庆冲刺", "status": "finished", "days_left": 0}],
            },
            {"active": [], "ended": []},
            {"active": [], "ended": [{**_PK_LISTED, "status": "stopped", "metric": "deals", "days_left": 0}]},
        ],
        "pk_board": [
            {"competition": _PK, "rows": _PK_ROWS, "own": _PK_ROWS[1], "others": ["月底冲刺", EVIL]},
            {
                "competition": _PK_PER_CAPITA,
                "rows": _PK_PER_CAPITA_ROWS,
                "own": _PK_PER_CAPITA_ROWS[0],
                "others": [],
            },
            {
                "competition": {**_PK, "metric": "deals"},
                "rows": _PK_DEALS_ROWS,
                "own": _PK_DEALS_ROWS[1],
                "others": [],
            },
            {
                "competition": {**_PK, "status": "finished", "days_left": 0},
                "rows": _PK_ROWS,
                "own": None,
                "others": [],
            },
            {"competition": None, "rows": [], "own": None, "others": []},
        ],
        "pk_standing": [
            {
                "competition": _PK,
                "changes": [{"overtaker": "虎队", "overtaken": "狼队", "rank": 1}],
                "rows": _PK_ROWS,
            },
            {
                "competition": {**_PK_PER_CAPITA, "name": EVIL},
                "changes": [{"overtaker": EVIL, "overtaken": "虎队", "rank": 2}],
                "rows": _PK_PER_CAPITA_ROWS,
            },
            {
                "competition": {**_PK, "metric": "deals", "days_left": 10},
                "changes": [{"overtaker": "虎队", "overtaken": "狼队", "rank": 1}],
                "rows": _PK_DEALS_ROWS,
            },
            {"competition": _PK, "changes": [], "rows": _PK_ROWS},  # the day's board refreshed, no overtake
        ],
        "pk_result": [
            {
                "competition": {**_PK, "status": "finished", "days_left": 0},
                "winners": [{"name": "虎队", "slogan": "虎虎生威"}],
                "rows": _PK_ROWS,
                "total": "¥250,000",
                "deals": 21,
            },
            {
                "competition": {**_PK, "status": "finished", "days_left": 0},
                "winners": [{"name": "虎队", "slogan": ""}, {"name": "狼队", "slogan": "狼性出击"}],
                "rows": _PK_TIED_ROWS,
                "total": "¥280,000",
                "deals": 1,
            },
            {
                "competition": {**_PK_PER_CAPITA, "name": EVIL, "status": "finished", "days_left": 0},
                "winners": [{"name": EVIL, "slogan": EVIL}],
                "rows": _PK_PER_CAPITA_ROWS,
                "total": "¥250,000",
                "deals": 21,
            },
            {
                "competition": {**_PK, "status": "finished", "days_left": 0},
                "winners": [],
                "rows": [{**_PK_ROWS[2], "rank": 1, "gap": None}],
                "total": "¥0",
                "deals": 0,
            },
        ],
    }
)

# ----- rituals: the evening check-out, 经验分享, names told to leaders only, contest stakes ---------------
_SHARING = [
    {"number": 1, "member": ALICE, "text": "先问预算再报价，当天就成交了", "pinned": False},
    {"number": 2, "member": LI, "text": "用同行案例开场，比讲功能管用得多", "pinned": False},
]
SAMPLES.update(
    {
        "checkout_prompt": [
            {
                "member": ALICE,
                "question": "今天什么做法最管用？（一个方法、一句话术、一个客户洞察）",
                "index": 1,
                "total": 3,
            },
            {"member": MALLORY, "question": EVIL, "index": 2, "total": 3},
        ],
        "missing_private": [
            {
                "kind": "morning",
                "date_label": "11月23日 周一",
                "missing": [ALICE, MALLORY],
                "done": 18,
                "total": 20,
            },
            {"kind": "recap", "date_label": "11月23日 周一", "missing": [LI], "done": 9, "total": 10},
        ],
    }
)
SAMPLES["recap"] = [
    *SAMPLES["recap"],
    {**_RECAP, "sharing": _SHARING},
    {
        **_RECAP,
        "participation": {"done": 18, "total": 20, "ratio": 0.9, "missing": []},
        "sharing": [
            {**_SHARING[1], "number": 1, "pinned": True},
            {**_SHARING[0], "number": 2},
            {"number": 3, "member": MALLORY, "text": EVIL, "pinned": False},
        ],
    },
]
SAMPLES["morning"] = [
    *SAMPLES["morning"],
    {**SAMPLES["morning"][0], "not_checked_in": [], "checked_in": {"done": 18, "total": 20}},
]
SAMPLES["pk_started"] = [
    *SAMPLES["pk_started"],
    {"competition": {**_PK, "stake": "输的组请奶茶"}, "groups": [{"name": "狼队", "slogan": ""}]},
]
SAMPLES["pk_result"] = [
    *SAMPLES["pk_result"],
    {**SAMPLES["pk_result"][0], "competition": {**SAMPLES["pk_result"][0]["competition"], "stake": EVIL}},
]
_PK_USAGE = "/团队 pk start 比赛名称 开始..结束 [小组…] [人均|单数] | pk list | pk stop 比赛名称"
SAMPLES["error"] = [
    *SAMPLES["error"],
    _error(
        "invalid_argument",
        {"argument": "dates", "reason": "pk.past", "value": "2026-11-01..2026-11-11"},
        _PK_USAGE,
    ),
    _error(
        "invalid_argument", {"argument": "groups", "reason": "pk.too_few_groups", "value": EVIL}, _PK_USAGE
    ),
    _error("invalid_argument", {"argument": "groups", "reason": "pk.too_few_groups", "value": ""}, _PK_USAGE),
    _error(
        "invalid_argument", {"argument": "competition", "reason": "pk.unknown", "value": "双12"}, _PK_USAGE
    ),
    _error("pk_name_taken", {"name": EVIL}, _PK_USAGE, "/团队 pk start 双11冲刺 2026-11-01..2026-11-11"),
    _error("missing_argument", {"argument": "competition"}, _PK_USAGE),
]

#: Templates whose inputs are only dates or fixed words: no member text can reach them.
NO_MEMBER_TEXT = frozenset({"period_label", "team_calendar_set", "team_announce", "unreadable"})

# ----- issue 25: the leader's private insights, and the week's 标杆 in the weekly summary -----
_DROP = {"week_days": 3, "level_days": 20, "since": "2026-11-19", "change": -0.55}
SAMPLES["insights"] = [
    {
        "date": "2026-11-25",
        "group": None,
        "items": [
            {
                "kind": "missed",
                "member": ZHANG,
                "numbers": {"days": 3, "last": "2026-11-20"},
                "suggestion": "encourage",
                "partner": None,
            },
            {
                "kind": "calls_down",
                "member": MALLORY,
                "numbers": {**_DROP, "week_avg": 18, "level_avg": 40},
                "suggestion": "review_calls",
                "partner": None,
            },
            {
                "kind": "amount_down",
                "member": LI,
                "numbers": {**_DROP, "week_avg": "¥9,000", "level_avg": "¥20,000"},
                "suggestion": "encourage",
                "partner": None,
            },
            {
                "kind": "no_deal",
                "member": CHEN,
                "numbers": {"days": 6, "last": "2026-11-16"},
                "suggestion": "pair",
                "partner": EVIL,
            },
            {
                "kind": "no_deal",
                "member": ALICE,
                "numbers": {"days": 5, "last": None},
                "suggestion": "review_calls",
                "partner": None,
            },
            {
                "kind": "streak_broken",
                "member": ALICE,
                "numbers": {"days": 12},
                "suggestion": "encourage",
                "partner": None,
            },
            {
                "kind": "pk_behind",
                "member": {"user_id": "", "name": "虎队"},
                "numbers": {
                    "competition": "十一月冲刺",
                    "score": "¥60,000",
                    "leader": "狼队",
                    "leader_score": "¥100,000",
                    "ratio": 0.6,
                },
                "suggestion": "plan_with_lead",
                "partner": None,
            },
        ],
    },
    {"date": "2026-11-23", "group": "狼队", "items": []},
]
SAMPLES["summary"] = [
    *SAMPLES["summary"],
    {
        **SAMPLES["summary"][0],
        "benchmarks": [
            {
                "kind": "conversion",
                "member": MALLORY,
                "numbers": {"deals": 3, "calls": 120, "ratio": 0.025, "min_calls": 20},
            },
            {
                "kind": "improved",
                "member": ZHANG,
                "numbers": {"amount": "¥60,000", "level": "¥25,000", "change": 1.4},
            },
            {"kind": "streak", "member": LI, "numbers": {"days": 23}},
        ],
    },
    {
        **SAMPLES["summary"][0],
        "benchmarks": [
            {
                "kind": "conversion",
                "member": ALICE,
                "numbers": {"deals": 1, "calls": 20, "ratio": 0.05, "min_calls": 20},
            }
        ],
    },
]

# /help COMMAND: the declared usage of one command (w21args).
SAMPLES["help_command"] = [
    {
        "name": "成交",
        "summary": "登记成交（喜报）；undo 撤销",
        "usage": "/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]",
        "example": "/成交 12800 华为年度采购",
        "aliases": ["deal", "开单", "签单", "deals"],
        "allowed": True,
        "required": "member",
    },
    {
        "name": EVIL,
        "summary": EVIL,
        "usage": EVIL,
        "example": None,
        "aliases": [],
        "allowed": False,
        "required": "leader",
    },
]
SAMPLES["error"] = [
    *SAMPLES["error"],
    {
        "code": "missing_argument",
        "detail": {"argument": "dates", "example": "2026-11-23..2026-11-25"},
        "usage": "/team pk start COMPETITION START..END",
        "example": "/team pk start Q4-Sprint 2026-11-01..2026-11-11",
    },
    _error("invalid_argument", {"argument": "topic", "value": "dael", "reason": "command.unknown"}),
    _error("invalid_argument", {"argument": "metric", "value": EVIL, "reason": "metric.unknown"}),
    _error(
        "invalid_argument",
        {
            "argument": "dates",
            "value": "2026-11-01..2026-11-11",
            "reason": "pk.past",
            "usage": "/团队 pk start 比赛名称 开始..结束",
            "form_example": "/团队 pk start 双11冲刺 2026-11-23..2026-11-25 狼队 虎队",
        },
        "/团队 setup 名称 | show",
        "/团队 schedule morning 08:45",
    ),
]

# ----- issue 22: the check-in as a form (fields in the form; the text is what shows if it cannot open) ----
SAMPLES["checkin_form"] = [
    {
        "fields": [
            {"key": "done", "kind": "text", "label": "昨天完成了什么？", "required": True, "initial": ""},
            {
                "key": "target",
                "kind": "amount",
                "label": "今天的目标成交额？",
                "required": True,
                "initial": "",
                "example": "20000",
            },
            {"key": "calls", "kind": "number", "label": "打了几个电话？", "required": False, "initial": ""},
        ],
        "editing": False,
    },
    {
        "fields": [
            {"key": "done", "kind": "text", "label": EVIL, "required": True, "initial": EVIL},
            {"key": "target", "kind": "amount", "label": "Target", "required": True, "initial": "25000"},
        ],
        "editing": True,
    },
]
SAMPLES["checkin_form_required"] = [{}]
SAMPLES["checkin_form_stale"] = [{}]
NO_MEMBER_TEXT = NO_MEMBER_TEXT | {"checkin_form_required", "checkin_form_stale"}
SAMPLES["checkout_form"] = [
    {
        "fields": [
            {
                "key": "worked",
                "label": "今天什么做法最管用？（一个方法、一句话术、一个客户洞察）",
                "required": True,
            },
            {"key": "blocked", "label": EVIL, "required": False},
        ]
    }
]
SAMPLES["checkout_form_stale"] = [{}]
NO_MEMBER_TEXT = NO_MEMBER_TEXT | {"checkout_form_stale"}
SAMPLES["card_chosen"] = [{"label": "⏭ 跳过今天"}, {"label": "📝 Fill in the form"}]
SAMPLES["card_stale"] = [
    {"reason": "chosen", "chosen": "⏭ 今天跳过"},
    {"reason": "expired", "hours": 24},
    {"reason": "expired", "hours": 72},
    {"reason": "expired", "hours": 36},
    {"reason": "not_ours"},
]
NO_MEMBER_TEXT = NO_MEMBER_TEXT | {"card_chosen", "card_stale"}

# Buttons where a command would do (issue 22 item 2): a goal a lead or leader may post carries "post to
# channel" (its id in the button's command); the goal as posted in the channel; the answer to posting it.
_POSTABLE = {
    "label": "本月团队目标",
    "actual": "¥130,470",
    "target": "¥300,000",
    "ratio": 0.4349,
    "pace": "¥12,000",
    "workdays_left": 14,
    "reached": False,
}
SAMPLES["goal_set"] = [
    *SAMPLES["goal_set"],
    {"goal": {**_POSTABLE, "id": 7, "postable": True}, "label": "本月团队目标"},
]
SAMPLES["goal_list"] = [
    *SAMPLES["goal_list"],
    {
        "goals": [
            {**_POSTABLE, "id": 7, "postable": True},
            {**_POSTABLE, "label": "本周狼队目标（单数）", "id": 8, "postable": False},
            {**_POSTABLE, "label": EVIL, "id": 9, "postable": True},
        ]
    },
]
SAMPLES["goal_post"] = [
    {"goal": _POSTABLE, "poster": ALICE},
    {
        "goal": {**_POSTABLE, "actual": "52", "target": "50", "ratio": 1.04, "pace": None, "reached": True},
        "poster": MALLORY,
    },
    {"goal": {**_POSTABLE, "label": EVIL, "pace": None, "workdays_left": 0}, "poster": ALICE},
]
SAMPLES["goal_posted"] = [
    {"posted": True, "label": "本月团队目标", "actual": "¥130,470", "target": "¥300,000"},
    {"posted": False, "label": EVIL, "actual": "¥130,470", "target": "¥300,000"},
]
SAMPLES["error"] = [
    *SAMPLES["error"],
    {"code": "goal_not_found", "detail": {}, "usage": "/goal post 编号", "example": "/goal post 7"},
    {"code": "goal_over", "detail": {}, "usage": "/goal post 编号", "example": "/goal post 7"},
    {
        "code": "invalid_argument",
        "detail": {"argument": "goal_id", "reason": "goal.id", "value": EVIL},
        "usage": "/goal post 编号",
        "example": "/goal post 7",
    },
]

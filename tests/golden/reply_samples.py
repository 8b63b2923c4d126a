"""Sample contexts for every reply template (answers to commands): template name -> list of contexts.

Same shape as SAMPLES in samples.py, so the golden test can merge them. Each template has a full sample,
the empty variants its commands can produce, and (wherever a member or a member's text appears) one where
that text is hostile (`EVIL`): mention-everyone syntax, jinja syntax and Markdown must come out literally.
"""

from __future__ import annotations

from typing import Any

EVIL = "<!channel> {{ 7*7 }} **x** @所有人"

ALICE = {"user_id": "U001", "name": "Alice"}
ZHANG = {"user_id": "U002", "name": "张伟"}
LI = {"user_id": "U003", "name": "李娜"}
WANG = {"user_id": "U004", "name": "王芳"}
MALLORY = {"user_id": "U666", "name": EVIL}

_COMMANDS = [
    {
        "name": "打卡",
        "summary": "今日打卡：回答今天的问题",
        "example": "/打卡 拜访3家客户; 目标 5万; 需要报价支持",
    },
    {"name": "目标", "summary": "查看或设定目标（必须有数字和周期）", "example": "/目标 团队 30万 本月"},
    {"name": "成交", "summary": "登记成交（喜报）；undo 撤销", "example": "/成交 12800 华为年度采购"},
    {"name": "排行", "summary": "排行榜：前10名和你的位置", "example": "/排行 本周 小组"},
]

_GOAL = {
    "label": "本月团队目标",
    "actual": "¥130,470",
    "target": "¥300,000",
    "ratio": 0.4349,
    "pace": "¥12,000",
    "workdays_left": 14,
    "reached": False,
}
_GOAL_REACHED = {
    "label": "本周狼队目标（单数）",
    "actual": "52",
    "target": "50",
    "ratio": 1.04,
    "pace": None,
    "workdays_left": 2,
    "reached": True,
}
_GOAL_OVER = {
    "label": "今日张伟个人目标",
    "actual": "¥3,000",
    "target": "¥5,000",
    "ratio": 0.6,
    "pace": None,
    "workdays_left": 0,
    "reached": False,
}

_RANK_ROWS = [
    {"rank": 1, "name": "Alice", "value": "¥25,600", "deals": 2, "gap": None},
    {"rank": 2, "name": "张伟", "value": "¥22,400", "deals": 3, "gap": "¥3,200"},
    {"rank": 3, "name": "李娜", "value": "¥10,000", "deals": 1, "gap": "¥12,400"},
    {"rank": 4, "name": "王芳", "value": "¥8,000", "deals": 1, "gap": "¥2,000"},
]
_RANK: dict[str, Any] = {
    "period": "today",
    "subject": "people",
    "metric": "amount",
    "rows": _RANK_ROWS,
    "own": {"rank": 7, "name": "陈静", "value": "¥3,000", "deals": 1, "gap": "¥1,200"},
    "own_shown": False,
    "total": "¥66,000",
}

_TEAM_SHOW: dict[str, Any] = {
    "team": {
        "name": "华东一部",
        "slug": "east",
        "timezone": "Asia/Shanghai",
        "calendar": "cn",
        "currency": "CNY",
        "kudos_daily_cap": 5,
    },
    "schedule": {
        "checkin": "09:00",
        "reminders": ["10:30", "14:00"],
        "morning": "09:30",
        "evening": "18:00",
        "weekly": "fri 18:30",
        "monthly": "last 18:30",
    },
    "groups": [
        {"name": "狼队", "slogan": "狼性出击，业绩翻倍", "members": [ALICE, ZHANG]},
        {"name": "虎队", "slogan": "", "members": [LI, MALLORY]},
        {"name": "鹰队", "slogan": None, "members": []},
    ],
    "ungrouped": [WANG],
    "leaders": [ZHANG],
    "leads": [ALICE, LI],
}


def _error(code: str, detail: dict[str, Any], usage: str | None = None, example: str | None = None) -> dict:
    return {"code": code, "detail": detail, "usage": usage, "example": example}


REPLY_SAMPLES: dict[str, list[dict[str, Any]]] = {
    "help": [
        {"commands": _COMMANDS, "role": "leader"},
        {"commands": [{"name": "/kudos", "summary": EVIL, "example": EVIL}], "role": "member"},
        {"commands": [{"name": "帮助", "summary": "查看你能用的命令", "example": ""}], "role": "lead"},
    ],
    "goal_label": [
        {"kind": "team", "name": "", "period": "month", "metric": "amount"},
        {"kind": "group", "name": "狼队", "period": "week", "metric": "deals"},
        {"kind": "member", "name": EVIL, "period": "today", "metric": "amount"},
        {"kind": "team", "name": "", "period": "quarter", "metric": "deals"},
    ],
    "period_label": [
        {"period": "today", "start": "2026-11-22", "end": "2026-11-22"},
        {"period": "week", "start": "2026-11-16", "end": "2026-11-22"},
        {"period": "month", "start": "2026-11-01", "end": "2026-11-30"},
        {"period": "quarter", "start": "2026-10-01", "end": "2026-12-31"},
        {"period": "week", "start": "2026-12-28", "end": "2027-01-03"},
    ],
    "goal_list": [
        {"goals": [_GOAL, _GOAL_REACHED, _GOAL_OVER]},
        {"goals": [{**_GOAL, "label": EVIL}]},
        {"goals": []},
    ],
    "goal_set": [
        {"goal": _GOAL, "label": "本月团队目标"},
        {"goal": _GOAL_REACHED, "label": "本周狼队目标（单数）"},
        {"goal": {**_GOAL_OVER, "label": EVIL}, "label": EVIL},
        {"goal": _GOAL, "label": "本月团队目标", "previous": "¥250,000"},
    ],
    "me": [
        {
            "member": ALICE,
            "periods": [
                {"period": "week", "total": "¥15,800", "deals": 2, "checkins": {"done": 3, "total": 4}},
                {"period": "month", "total": "¥58,800", "deals": 1, "checkins": {"done": 12, "total": 16}},
            ],
            "streak": 2,
        },
        {
            "member": MALLORY,
            "periods": [
                {"period": "week", "total": "¥0", "deals": 0, "checkins": None},
                {"period": "month", "total": "¥0", "deals": 0, "checkins": {"done": 0, "total": 1}},
            ],
            "streak": 0,
        },
    ],
    "goal_cleared": [
        {"removed": [{"label": "本月团队目标", "target": "¥300,000"}], "label": "本月团队目标"},
        {
            "removed": [
                {"label": "本周狼队目标（单数）", "target": "50"},
                {"label": "本周狼队目标", "target": "¥100,000"},
            ],
            "label": "本周狼队目标",
        },
        {"removed": [], "label": EVIL},
    ],
    "deal_recorded": [
        {"id": 12, "amount": "¥12,800", "member": ALICE, "customer": "华为年度采购", "for_other": False},
        {"id": 13, "amount": "¥5,000", "member": MALLORY, "customer": EVIL, "for_other": True},
        {"id": 14, "amount": "¥800", "member": ALICE, "customer": "", "for_other": False},
    ],
    "deal_voided": [
        {"id": 12, "amount": "¥12,800", "member": ALICE},
        {"id": 13, "amount": "¥5,000", "member": MALLORY},
        {"id": 14, "amount": "¥800", "member": None},
    ],
    "kudos_sent": [
        {"receivers": [ALICE, ZHANG], "reason": "帮我搞定了难缠的大客户"},
        {"receivers": [MALLORY], "reason": EVIL},
    ],
    "kudos_board": [
        {
            "rows": [
                {"member": ALICE, "count": 8},
                {"member": ZHANG, "count": 5},
                {"member": LI, "count": 3},
                {"member": MALLORY, "count": 1},
            ]
        },
        {"rows": []},
    ],
    "rank": [
        _RANK,
        {**_RANK, "own": {**_RANK_ROWS[1]}, "own_shown": True},
        {
            "period": "week",
            "subject": "groups",
            "metric": "per_capita",
            "rows": [
                {"rank": 1, "name": "狼队", "value": "¥18,000", "deals": 6, "gap": None},
                {"rank": 2, "name": EVIL, "value": "¥7,333", "deals": 4, "gap": "¥10,667"},
            ],
            "own": None,
            "own_shown": False,
            "total": "¥58,000",
        },
        {
            "period": "month",
            "subject": "people",
            "metric": "deals",
            "rows": [
                {"rank": 1, "name": MALLORY["name"], "value": "12", "deals": 12, "gap": None},
                {"rank": 2, "name": "张伟", "value": "9", "deals": 9, "gap": "3"},
            ],
            "own": {"rank": 2, "name": "张伟", "value": "9", "deals": 9, "gap": "3"},
            "own_shown": True,
            "total": "¥286,000",
        },
        {
            "period": "quarter",
            "subject": "people",
            "metric": "amount",
            "rows": [],
            "ranked": 0,
            "own": None,
            "own_shown": False,
            "total": "¥0",
        },
        {
            "period": "today",
            "subject": "groups",
            "metric": "amount",
            "rows": [],
            "ranked": 0,
            "own": None,
            "own_shown": False,
            "total": "¥0",
        },
        {  # members, but no deal yet this month
            "period": "month",
            "subject": "people",
            "metric": "amount",
            "rows": [],
            "ranked": 6,
            "own": None,
            "own_shown": False,
            "total": "¥0",
        },
        {  # deals this week, all by members in no group
            "period": "week",
            "subject": "groups",
            "metric": "amount",
            "rows": [],
            "ranked": 3,
            "own": None,
            "own_shown": False,
            "total": "¥5,000",
            "outside": {"total": "¥5,000", "deals": 1},
        },
        {  # deals this month, all by people who left the team
            "period": "month",
            "subject": "people",
            "metric": "amount",
            "rows": [],
            "ranked": 4,
            "own": None,
            "own_shown": False,
            "total": "¥9,000",
            "outside": {"total": "¥9,000", "deals": 2},
        },
        {  # a group board beside deals of members in no group
            "period": "week",
            "subject": "groups",
            "metric": "amount",
            "rows": [{"rank": 1, "name": "虎队", "value": "¥3,000", "deals": 1, "gap": None}],
            "ranked": 3,
            "own": None,
            "own_shown": False,
            "total": "¥8,000",
            "outside": {"total": "¥5,000", "deals": 1},
        },
    ],
    "leave_set": [
        {
            "member": ALICE,
            "start": "2026-11-23",
            "end": "2026-11-25",
            "workdays": 3,
            "reason": "年假",
            "for_other": False,
        },
        {
            "member": MALLORY,
            "start": "2026-11-28",
            "end": "2026-11-28",
            "workdays": 0,
            "reason": EVIL,
            "for_other": True,
        },
        {
            "member": ZHANG,
            "start": "2026-12-31",
            "end": "2027-01-04",
            "workdays": 2,
            "reason": "",
            "for_other": False,
        },
    ],
    "leave_list": [
        {
            "member": ALICE,
            "leaves": [
                {"start": "2026-11-23", "end": "2026-11-25", "reason": "年假"},
                {"start": "2026-12-07", "end": "2026-12-07", "reason": ""},
            ],
        },
        {"member": MALLORY, "leaves": [{"start": "2026-11-23", "end": "2026-11-23", "reason": EVIL}]},
        {"member": ZHANG, "leaves": []},
    ],
    "leave_cancelled": [
        {"member": ALICE, "count": 2},
        {"member": MALLORY, "count": 1},
        {"member": ZHANG, "count": 0},
    ],
    "unreadable": [
        {"kind": "picture"},
        {"kind": "file"},
    ],
    "checkin_skipped": [
        {"reason": "今天全天外出拜访客户"},
        {"reason": EVIL},
        {"reason": ""},
    ],
    "checkin_retry": [
        {"question": "今天计划打多少通电话？", "kind": "number", "value": "很多", "example": None},
        {"question": "今天的目标成交额是多少？", "kind": "amount", "value": EVIL, "example": "5万"},
        {"question": "今天的目标成交额是多少？", "kind": "amount", "value": "不知道", "example": None},
        {
            "question": "遇到什么困难，需要什么支持？",
            "kind": "text",
            "value": "很长很长的回答……",
            "example": None,
        },
    ],
    "checkin_check_dm": [
        {"member": ALICE},
        {"member": MALLORY},
    ],
    "checkout_check_dm": [
        {"member": ALICE},
        {"member": MALLORY},
    ],
    "team_tv": [
        {"team": "华东一部", "url": "https://tv.example.com/tv/east?key=k3y", "rotated": False, "sent": 0},
        {"team": EVIL, "url": "", "rotated": False, "sent": True},
        {"team": EVIL, "url": "http://127.0.0.1:8080/tv/team-2?key=n3w", "rotated": True, "sent": False},
    ],
    "team_setup": [
        {"name": "华东一部", "slug": "east", "renamed": False},
        {"name": EVIL, "slug": "team-2", "renamed": False},
        {"name": "华东销售一部", "slug": "east", "renamed": True},
    ],
    "team_show": [
        _TEAM_SHOW,
        {
            "team": {**_TEAM_SHOW["team"], "name": EVIL, "calendar": "everyday", "kudos_daily_cap": 0},
            "schedule": {
                **_TEAM_SHOW["schedule"],
                "reminders": [],
                "weekly": "mon 09:00",
                "monthly": "25 18:00",
            },
            "groups": [],
            "ungrouped": [],
            "leaders": [],
            "leads": [],
        },
        {**_TEAM_SHOW, "schedule": {**_TEAM_SHOW["schedule"], "insights": "18:15"}},
        {**_TEAM_SHOW, "schedule": {**_TEAM_SHOW["schedule"], "checkout": "17:30"}},
    ],
    "team_group_added": [
        {"name": "狼队", "slogan": "狼性出击，业绩翻倍", "existed": False},
        {"name": "虎队", "slogan": "", "existed": False},
        {"name": "狼队", "slogan": "越战越勇", "existed": True},
        {"name": EVIL, "slogan": EVIL, "existed": True},
        {"name": "鹰队", "slogan": "", "existed": True},
    ],
    "team_group_joined": [
        {"name": "狼队", "members": [ALICE, ZHANG, MALLORY]},
        {"name": "狼队", "members": []},
    ],
    "team_role_set": [
        {"member": ALICE, "role": "lead"},
        {"member": MALLORY, "role": "leader"},
        {"member": ZHANG, "role": "member"},
    ],
    "team_member_removed": [
        {"member": ALICE},
        {"member": MALLORY},
    ],
    "team_schedule_set": [
        {"kind": "morning", "value": "08:45"},
        {"kind": "evening", "value": "18:30"},
        {"kind": "checkin", "value": "09:00"},
        {"kind": "reminders", "value": "10:30 14:00"},
        {"kind": "weekly", "value": "fri 18:30"},
        {"kind": "monthly", "value": "last 18:30"},
        {"kind": "monthly", "value": EVIL},
        {"kind": "insights", "value": "18:15"},
        {"kind": "insights", "value": "off"},
        {"kind": "checkout", "value": "17:30"},
    ],
    "team_calendar_set": [
        {"calendar": "cn"},
        {"calendar": "weekdays"},
        {"calendar": "everyday"},
    ],
    "team_announce": [
        {
            "changed": False,
            "deals": True,
            "milestones": True,
            "records": True,
            "rank_changes": True,
            "kudos": True,
            "rank_window_minutes": 10,
            "goal_thresholds": [50, 100],
        },
        {
            "changed": True,
            "deals": False,
            "milestones": True,
            "records": False,
            "rank_changes": True,
            "kudos": True,
            "rank_window_minutes": 15,
            "goal_thresholds": [50, 80, 100],
        },
    ],
    "checkout_done": [
        {
            "answers": [
                {"question": "今天什么做法最管用？", "answer": "先问预算再报价"},
                {"question": "今天卡在哪里？", "answer": EVIL},
                {"question": "明天第一个电话打给谁？", "answer": ""},
            ],
            "skipped": False,
        },
        {"answers": [], "skipped": True},
    ],
    "recap_pinned": [
        {"member": LI, "text": "用同行案例开场，比讲功能管用得多"},
        {"member": MALLORY, "text": EVIL},
    ],
}

_DEAL_USAGE = "/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]"
_DEAL_EXAMPLE = "/成交 12800 华为年度采购"
_TEAM_USAGE = "/团队 setup 名称 | group add 组名 [口号] | role @成员 leader|lead|member"

ERROR_SAMPLES: list[dict[str, Any]] = [
    _error(
        "invalid_argument", {"argument": "amount", "value": "9e99", "reason": "amount.too_large"}, _DEAL_USAGE
    ),
    _error(
        "invalid_argument",
        {"argument": "amount", "value": "$500", "reason": "amount.unknown_currency", "currency": "CNY"},
        _DEAL_USAGE,
        _DEAL_EXAMPLE,
    ),
    _error("invalid_argument", {"argument": "target", "value": "1.5", "reason": "amount.not_positive"}),
    _error(
        "invalid_argument", {"argument": "dates", "value": "2026-11-01", "reason": "day.past"}, "/请假 今天"
    ),
    _error("invalid_argument", {"argument": "id", "value": EVIL, "reason": "deal.id"}, _DEAL_USAGE),
    _error("invalid_argument", {"argument": "group", "value": "", "reason": "group.unknown"}),
    _error(
        "invalid_argument",
        {"argument": "action", "value": "destroy", "reason": "subject.unknown"},
        _TEAM_USAGE,
    ),
    _error(
        "invalid_argument", {"argument": "kind", "value": "lunch", "reason": "subject.unknown"}, _TEAM_USAGE
    ),
    _error(
        "invalid_argument",
        {"argument": "time", "value": "friday 6pm", "reason": "time.malformed"},
        _TEAM_USAGE,
    ),
    _error(
        "invalid_argument",
        {"argument": "customer", "value": "很长的客户名…", "reason": "text.too_long", "max": 300},
        _DEAL_USAGE,
    ),
    _error("missing_argument", {"argument": "member"}, "/点赞 @成员 原因", "/点赞 @alice 电话跟进非常到位"),
    _error("missing_argument", {"argument": "reason"}, "/点赞 @成员 原因"),
    _error("missing_argument", {"argument": "action"}, _TEAM_USAGE),
    _error("missing_argument", {"argument": "dates"}),
    _error("missing_argument", {"argument": "kind"}, _TEAM_USAGE),
    _error("missing_argument", {"argument": "name"}, _TEAM_USAGE),
    _error("permission_denied", {"command": "deal undo", "required": "leader"}, _DEAL_USAGE),
    _error("deal_not_found", {"id": ""}, _DEAL_USAGE),
    _error("deal_already_void", {"id": 12}),
    _error("deal_undo_expired", {"id": 12}),
    _error("last_leader", {}, _TEAM_USAGE),
    _error("no_team", {}),
    _error(
        "invalid_argument",
        {"argument": "kind", "value": "weather", "reason": "announce.unknown"},
        _TEAM_USAGE,
    ),
    _error(
        "invalid_argument",
        {"argument": "switch", "value": "maybe", "reason": "switch.malformed"},
        _TEAM_USAGE,
    ),
    _error(
        "invalid_argument",
        {"argument": "thresholds", "value": "0 x", "reason": "threshold.malformed"},
        _TEAM_USAGE,
    ),
    _error(
        "invalid_argument", {"argument": "minutes", "value": "-5", "reason": "window.malformed"}, _TEAM_USAGE
    ),
]
"""Error replies for codes and reasons the commands raise beyond the golden set."""

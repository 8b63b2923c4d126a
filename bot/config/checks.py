"""Cross-field checks. They run on whatever parts validated, so one typo does not hide the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.config.models import (
    Config,
    DeliveryConfig,
    DingTalkConfig,
    HooksConfig,
    ServerConfig,
    SlackConfig,
    TeamConfig,
    WeComConfig,
)
from bot.config.problems import Loc, Problem

Users = list[tuple[int, TeamConfig]]


def team_problems(team: TeamConfig, index: int) -> list[Problem]:
    at: Loc = ("teams", index)
    listed_in, problems = _group_problems(team, at)
    return (
        problems
        + _member_problems(team, at, listed_in)
        + _calendar_problems(team, at)
        + _schedule_problems(team, at)
        + _question_problems(team, at)
    )


def _group_problems(team: TeamConfig, at: Loc) -> tuple[dict[str, str], list[Problem]]:
    """Duplicate group names and people listed in two groups; returns who is listed where."""
    names = [g.name for g in team.groups]
    problems = [
        Problem((*at, "groups", i, "name"), "duplicate group name in this team", name)
        for i, name in enumerate(names)
        if name in names[:i]
    ]
    listed_in: dict[str, str] = {}
    for gi, group in enumerate(team.groups):
        for mi, user in enumerate(group.members):
            if listed_in.get(user, group.name) != group.name:
                problems.append(
                    Problem(
                        (*at, "groups", gi, "members", mi),
                        f"already a member of group {listed_in[user]}: a person is in one group",
                        user,
                    )
                )
            listed_in.setdefault(user, group.name)
    return listed_in, problems


def _member_problems(team: TeamConfig, at: Loc, listed_in: Mapping[str, str]) -> list[Problem]:
    group_names = [g.name for g in team.groups]
    allowed = ", ".join(group_names) if group_names else "none: the team has no [[teams.groups]]"
    problems: list[Problem] = []
    seen: set[str] = set()
    for mi, member in enumerate(team.members):
        if member.id in seen:
            problems.append(
                Problem((*at, "members", mi, "id"), "duplicate member id in this team", member.id)
            )
        seen.add(member.id)
        where: Loc = (*at, "members", mi, "group")
        if member.group and member.group not in group_names:
            problems.append(Problem(where, f"must name a group of this team ({allowed})", member.group))
        elif member.group and listed_in.get(member.id, member.group) != member.group:
            problems.append(
                Problem(
                    where,
                    f"conflicts with [[teams.groups]] {listed_in[member.id]}, which lists {member.id}",
                    member.group,
                )
            )
    return problems


def _calendar_problems(team: TeamConfig, at: Loc) -> list[Problem]:
    both = sorted(set(team.extra_holidays) & set(team.extra_workdays))
    return [
        Problem(
            (*at, "extra_holidays", team.extra_holidays.index(day)),
            "is also listed in extra_workdays: a day is one or the other",
            day,
        )
        for day in both
    ]


def _schedule_problems(team: TeamConfig, at: Loc) -> list[Problem]:
    checkin = team.schedule.checkin
    return [
        Problem(
            (*at, "schedule", "reminders", ri),
            f"must be later than the check-in time ({checkin:%H:%M})",
            f"{reminder:%H:%M}",
        )
        for ri, reminder in enumerate(team.schedule.reminders)
        if reminder <= checkin
    ]


def _question_problems(team: TeamConfig, at: Loc) -> list[Problem]:
    problems: list[Problem] = []
    keys: list[str] = []
    for qi, question in enumerate(team.questions):
        if question.key in keys:
            problems.append(Problem((*at, "questions", qi, "key"), "duplicate question key", question.key))
        keys.append(question.key)
        if team.locale not in question.prompt:
            problems.append(
                Problem(
                    (*at, "questions", qi, "prompt"),
                    f"needs a text for the team's locale {team.locale}",
                    dict(question.prompt),
                )
            )
    return problems


def duplicate_team_ids(teams: Sequence[TeamConfig | None]) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    for i, team in enumerate(teams):
        if team is None:
            continue
        if team.id in seen:
            problems.append(
                Problem(
                    ("teams", i, "id"), f"duplicate team id (also used by teams[{seen[team.id]}])", team.id
                )
            )
        else:
            seen[team.id] = i
    return problems


def _users_of(teams: Sequence[TeamConfig | None], platform: str) -> Users:
    return [(i, t) for i, t in enumerate(teams) if t is not None and t.platform == platform]


def platform_problems(sections: Mapping[str, Any], teams: Sequence[TeamConfig | None]) -> list[Problem]:
    problems: list[Problem] = []
    slack: SlackConfig | None = sections.get("slack")
    if slack is not None:
        problems += _slack_problems(slack, _users_of(teams, "slack"))
    dingtalk: DingTalkConfig | None = sections.get("dingtalk")
    if dingtalk is not None:
        problems += _dingtalk_problems(dingtalk, _users_of(teams, "dingtalk"))
    wecom: WeComConfig | None = sections.get("wecom")
    if wecom is not None:
        problems += _wecom_problems(wecom, _users_of(teams, "wecom"))
    server: ServerConfig | None = sections.get("server")
    if server is not None and not server.enabled:
        problems += _server_off_problems(sections, teams)
    return problems + _delivery_problems(sections.get("delivery"))


def _server_off_problems(sections: Mapping[str, Any], teams: Sequence[TeamConfig | None]) -> list[Problem]:
    """`[server] enabled = false` while something configured can only be reached over HTTP."""
    needs = [need for need in (_http_need(name, sections.get(name), teams) for name in _HTTP_USERS) if need]
    if not needs:
        return []
    return [
        Problem(
            ("server", "enabled"),
            f"is false, but {', '.join(needs)} can only be reached over HTTP: set enabled = true "
            "(or switch those to socket/stream mode and unset deals_secret)",
            False,
        )
    ]


_HTTP_USERS = ("slack", "dingtalk", "wecom", "hooks")


def _http_need(name: str, section: Any, teams: Sequence[TeamConfig | None]) -> str:
    """What in this section needs the HTTP server, or ""."""
    if section is None:
        return ""
    if isinstance(section, SlackConfig):
        if section.oauth or (section.mode == "http" and (section.bot_token or _users_of(teams, "slack"))):
            return "Slack (http mode or oauth: /slack/events, /slack/install)"
    elif isinstance(section, DingTalkConfig):
        if section.mode == "http" and (section.app_key or _users_of(teams, "dingtalk")):
            return 'DingTalk (mode = "http": /dingtalk/callback)'
    elif isinstance(section, WeComConfig):
        if section.corp_id or _users_of(teams, "wecom"):
            return "WeCom (/wecom/callback)"
    elif isinstance(section, HooksConfig) and section.deals_secret:
        return "the deal webhook ([hooks] deals_secret: /hooks/deals)"
    return ""


def _delivery_problems(delivery: DeliveryConfig | None) -> list[Problem]:
    if delivery is None or delivery.max_backoff >= delivery.base_backoff:
        return []
    return [
        Problem(
            ("delivery", "max_backoff"),
            f"must be at least base_backoff ({delivery.base_backoff})",
            delivery.max_backoff,
        )
    ]


def _because(users: Users, platform: str) -> str:
    if users:
        return f"team {users[0][1].id} is on {platform}"
    return f"other [{platform}] keys are set"


def _slack_problems(slack: SlackConfig, users: Users) -> list[Problem]:
    in_use = bool(users or slack.bot_token or slack.app_token or slack.signing_secret or slack.oauth)
    if not in_use:
        return []
    why = _because(users, "slack")
    problems = []
    if slack.oauth:
        for key in ("client_id", "client_secret"):
            if not getattr(slack, key):
                problems.append(Problem(("slack", key), "missing: required when oauth = true"))
    elif not slack.bot_token:
        problems.append(
            Problem(("slack", "bot_token"), f"missing: required because {why} (or set oauth = true)")
        )
    if slack.mode == "socket" and not slack.app_token:
        problems.append(
            Problem(
                ("slack", "app_token"),
                'missing: socket mode needs an app-level token (xapp-…), or set mode = "http"',
            )
        )
    if slack.mode == "http" and not slack.signing_secret:
        problems.append(Problem(("slack", "signing_secret"), "missing: http mode needs the signing secret"))
    return problems


def _dingtalk_problems(dingtalk: DingTalkConfig, users: Users) -> list[Problem]:
    need_app = any(not team.channel_webhook for _, team in users) or bool(
        dingtalk.app_key or dingtalk.app_secret
    )
    if not need_app:
        return []
    why = _because([(i, t) for i, t in users if not t.channel_webhook], "dingtalk")
    if not users or all(t.channel_webhook for _, t in users):
        why = "the other of app_key / app_secret is set"
    return [
        Problem(
            ("dingtalk", key),
            f"missing: required because {why} (or give every dingtalk team a channel_webhook)",
        )
        for key in ("app_key", "app_secret")
        if not getattr(dingtalk, key)
    ]


def _wecom_problems(wecom: WeComConfig, users: Users) -> list[Problem]:
    in_use = bool(
        users or wecom.corp_id or wecom.secret or wecom.agent_id or wecom.token or wecom.encoding_aes_key
    )
    if not in_use:
        return []
    why = _because(users, "wecom")
    problems = [
        Problem(("wecom", key), f"missing: required because {why}")
        for key in ("corp_id", "secret")
        if not getattr(wecom, key)
    ]
    if wecom.agent_id is None:
        problems.append(
            Problem(("wecom", "agent_id"), f"missing: required because {why} (the app's AgentId)")
        )
    if bool(wecom.token) != bool(wecom.encoding_aes_key):
        missing = "token" if not wecom.token else "encoding_aes_key"
        problems.append(
            Problem(
                ("wecom", missing), "missing: token and encoding_aes_key are needed together for callbacks"
            )
        )
    return problems


def warnings(config: Config, today: date) -> list[Problem]:
    """Things that leave the configuration valid but that an admin should know."""
    import chinese_calendar  # only check-config needs it; keeps `import bot.config` light

    missing_years = []
    for year in (today.year, today.year + 1):
        try:
            chinese_calendar.is_holiday(date(year, 1, 1))
        except NotImplementedError:
            missing_years.append(str(year))
    problems = []
    for i, team in enumerate(config.teams):
        if team.calendar == "cn" and missing_years:
            problems.append(
                Problem(
                    ("teams", i, "calendar"),
                    f"chinese_calendar has no holiday data for {' and '.join(missing_years)}: "
                    "Monday–Friday (plus extra_holidays / extra_workdays) is used there until the "
                    "chinese-calendar package is updated",
                    team.calendar,
                )
            )
        if team.platform != "console" and not (team.channel or team.channel_webhook):
            problems.append(
                Problem(
                    ("teams", i),
                    "no home channel (channel or channel_webhook): channel posts wait until "
                    "`/team setup` is run in the team's channel",
                )
            )
    dingtalk = config.dingtalk
    if dingtalk.mode == "http" and dingtalk.app_key and not dingtalk.card_secret:
        problems.append(
            Problem(
                ("dingtalk", "card_secret"),
                "empty: clicks on card buttons (POST /dingtalk/card) get 401 until it is set to the "
                "apiSecret registered with the card callback URL",
            )
        )
    return problems

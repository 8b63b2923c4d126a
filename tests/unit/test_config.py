"""Config loading: defaults, the product.md shape, env overrides, and problems named precisely."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import (
    Config,
    ConfigError,
    MonthlyTime,
    WeeklyTime,
    check_config,
    is_warning,
    load_config,
    parse_monthly,
    parse_weekly,
    problems_only,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# The "Config file shape" of product.md, with valid values filled in.
PRODUCT_SHAPE = """
[database]
url = "postgresql+asyncpg://teambeat:s3cret@db.internal/teambeat"
[server]
host = "0.0.0.0"
port = 9090
max_body_bytes = 2048
[hooks]
deals_secret = "hook-secret"
[slack]
mode = "socket"
bot_token = "xoxb-1"
signing_secret = "sig"
app_token = "xapp-1"
api_base_url = "http://127.0.0.1:9999/api/"
[dingtalk]
mode = "stream"
app_key = "ding-key"
app_secret = "ding-secret"
robot_code = "ding-robot"
api_base_url = "https://api.dingtalk.com"
oapi_base_url = "https://oapi.dingtalk.com"
[wecom]
corp_id = "ww1"
agent_id = 1000002
secret = "wecom-secret"
token = "tok"
encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
api_base_url = "https://qyapi.weixin.qq.com"
[[teams]]
id = "east"
name = "华东一部"
platform = "slack"
workspace = "T0001"
channel = "C0001"
channel_webhook = ""
channel_secret = ""
timezone = "Asia/Shanghai"
locale = "zh-CN"
currency = "CNY"
calendar = "cn"
extra_holidays = ["2027-01-01"]
extra_workdays = []
leaders = ["U0001"]
kudos_daily_cap = 5
[teams.schedule]
checkin = "09:00"
reminders = ["10:30"]
morning = "09:30"
evening = "18:00"
weekly = "fri 18:30"
monthly = "last 18:30"
[[teams.groups]]
name = "狼队"
slogan = "狼性出击，业绩翻倍"
members = ["U0002", "U0003"]
[[teams.members]]
id = "U0002"
name = "Alice"
email = "alice@example.com"
mobile = "+8613800000002"
employee_code = "E002"
"""

CONSOLE_TEAM = """
[[teams]]
id = "east"
name = "华东一部"
platform = "console"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path | None, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ or {})
    return info.value.problems


def one_problem(path: Path, environ: dict[str, str] | None = None) -> str:
    found = problems(path, environ)
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------------------------------------- defaults


def test_no_file_gives_defaults_with_console_and_no_teams() -> None:
    config = load_config(None, {})
    assert config.source == "<defaults>"
    assert config.database.url == "sqlite:///teambeat.db"
    assert (config.server.host, config.server.port, config.server.max_body_bytes) == (
        "127.0.0.1",
        8080,
        1048576,
    )
    assert config.hooks.deals_secret == ""
    assert config.bot.default_locale == "zh-CN"
    assert config.bot.max_amount == Decimal("100000000")
    assert config.bot.event_dedupe_hours == 48
    assert config.delivery.max_attempts == 12
    assert config.delivery.max_backoff == 600
    assert config.delivery.rates.dingtalk is None
    assert config.slack.mode == "socket"
    assert config.slack.bot_token == ""
    assert config.slack.api_base_url == "https://slack.com/api/"
    assert config.dingtalk.oapi_base_url == "https://oapi.dingtalk.com"
    assert config.wecom.agent_id is None
    assert config.console.enabled is True
    assert config.teams == []


def test_a_file_leaves_console_disabled_by_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), {})
    assert config.console.enabled is False
    assert config.source == str(tmp_path / "config.toml")


def test_team_defaults(tmp_path: Path) -> None:
    team = load_config(write(tmp_path, CONSOLE_TEAM), {}).teams[0]
    assert team.timezone == "Asia/Shanghai"
    assert team.zone.key == "Asia/Shanghai"
    assert (team.locale, team.currency, team.calendar) == ("zh-CN", "CNY", "cn")
    assert team.kudos_daily_cap == 5
    assert team.post_checkins is False
    assert team.schedule.checkin == time(9, 0)
    assert team.schedule.reminders == [time(10, 30)]
    assert team.schedule.morning == time(9, 30)
    assert team.schedule.evening == time(18, 0)
    assert team.schedule.weekly == WeeklyTime(4, time(18, 30))
    assert team.schedule.monthly == MonthlyTime(None, time(18, 30))
    assert team.announcements.rank_window_minutes == 10
    assert team.announcements.deals and team.announcements.kudos
    assert team.questions == [] and team.groups == [] and team.members == []
    assert team.schedule.checkout is None  # the evening check-out is off until set
    assert team.missing_names == "leaders"


def test_checkout_time_and_missing_names(tmp_path: Path) -> None:
    text = CONSOLE_TEAM + 'missing_names = "channel"\n[teams.schedule]\ncheckout = "17:30"\n'
    team = load_config(write(tmp_path, text), {}).teams[0]
    assert team.schedule.checkout == time(17, 30) and team.missing_names == "channel"
    bad = CONSOLE_TEAM + 'missing_names = "everyone"\n[teams.schedule]\ncheckout = "25:00"\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, bad), {})
    shown = str(caught.value)
    assert "missing_names" in shown and "checkout" in shown


# ---------------------------------------------------------------------------------------------- shape


def test_product_md_shape_loads_with_typed_values(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, PRODUCT_SHAPE), {})
    assert isinstance(config, Config)
    assert config.database.url.startswith("postgresql+asyncpg://")
    assert config.server.port == 9090
    assert config.slack.bot_token == "xoxb-1"
    assert config.slack.api_base_url == "http://127.0.0.1:9999/api/"
    assert config.wecom.agent_id == 1000002
    assert len(config.wecom.encoding_aes_key) == 43
    team = config.teams[0]
    assert (team.id, team.name, team.platform, team.channel) == ("east", "华东一部", "slack", "C0001")
    assert team.channel_webhook == ""
    assert team.extra_holidays == [date(2027, 1, 1)]
    assert team.leaders == ["U0001"]
    assert team.schedule.morning == time(9, 30)
    assert team.groups[0].name == "狼队"
    assert team.groups[0].members == ["U0002", "U0003"]
    assert team.members[0].email == "alice@example.com"
    assert team.members[0].role == "member"
    assert team.group_of("U0002") == "狼队"
    assert team.group_of("U0001") is None
    assert config.team("east") is team
    assert config.team("west") is None


def test_questions_rates_and_native_toml_dates_and_times(tmp_path: Path) -> None:
    text = (
        CONSOLE_TEAM
        + """
locale = "en"
extra_workdays = [2026-10-10]
[teams.schedule]
morning = 08:45:00
monthly = "25 17:00"
weekly = "Monday 09:00"
[[teams.questions]]
key = "target"
kind = "amount"
prompt = { "zh-CN" = "今天的目标？", en = "Today's target?" }
[delivery.rates]
dingtalk = 10
"""
    )
    # [delivery.rates] after [[teams]] is fine in TOML: it is a different table.
    config = load_config(write(tmp_path, text), {})
    team = config.teams[0]
    assert team.extra_workdays == [date(2026, 10, 10)]
    assert team.schedule.morning == time(8, 45)
    assert team.schedule.monthly == MonthlyTime(25, time(17, 0))
    assert team.schedule.weekly == WeeklyTime(0, time(9, 0))
    question = team.questions[0]
    assert (question.key, question.kind, question.required) == ("target", "amount", True)
    assert question.prompt == {"zh-CN": "今天的目标？", "en": "Today's target?"}
    assert config.delivery.rates.dingtalk == 10.0


def test_example_file_loads_without_problems() -> None:
    example = REPO_ROOT / "config.example.toml"
    config = load_config(example, {})
    assert config.teams, "the example should show a team"
    assert problems_only(check_config(example, {})) == []


def test_config_is_read_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONSOLE_TEAM), {})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error type is an implementation detail
        config.server.port = 1  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------- empty = unset


def test_empty_string_behaves_like_an_absent_key(tmp_path: Path) -> None:
    text = """
[database]
url = ""
[slack]
mode = ""
api_base_url = ""
[wecom]
agent_id = ""
encoding_aes_key = ""
[[teams]]
id = "east"
name = "华东一部"
platform = "console"
timezone = ""
calendar = ""
currency = ""
[teams.schedule]
morning = ""
weekly = ""
[[teams.members]]
id = "u1"
role = ""
group = ""
"""
    config = load_config(write(tmp_path, text), {})
    defaults = load_config(write(tmp_path, CONSOLE_TEAM + '[[teams.members]]\nid = "u1"\n', "b.toml"), {})
    assert config.database == defaults.database
    assert config.slack == defaults.slack
    assert config.wecom == defaults.wecom
    assert config.teams == defaults.teams


def test_empty_string_for_a_required_key_is_missing(tmp_path: Path) -> None:
    text = CONSOLE_TEAM.replace('name = "华东一部"', 'name = ""')
    assert (
        one_problem(write(tmp_path, text))
        == f"{tmp_path / 'config.toml'}: teams[east].name: missing (required)"
    )


def test_empty_environment_variable_keeps_the_file_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\n")
    assert load_config(path, {"TEAMBEAT_SERVER_PORT": ""}).server.port == 9000


# ---------------------------------------------------------------------------------------------- environment


def test_environment_overrides_beat_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9000\n[database]\nurl = "sqlite:///file.db"\n')
    environ = {
        "TEAMBEAT_SERVER_PORT": "9100",
        "TEAMBEAT_DATABASE_URL": "postgresql+asyncpg://u@h/db",
        "TEAMBEAT_SLACK_MODE": "http",
        "TEAMBEAT_SLACK_BOT_TOKEN": "xoxb-env",
        "TEAMBEAT_SLACK_SIGNING_SECRET": "sig-env",
        "TEAMBEAT_SLACK_OAUTH": "false",
        "TEAMBEAT_BOT_MAX_AMOUNT": "5000000",
        "TEAMBEAT_DELIVERY_RATES_DINGTALK": "12.5",
        "TEAMBEAT_CONSOLE_ENABLED": "true",
    }
    config = load_config(path, environ)
    assert config.server.port == 9100
    assert config.database.url == "postgresql+asyncpg://u@h/db"
    assert config.slack.mode == "http"
    assert config.slack.bot_token == "xoxb-env"
    assert config.bot.max_amount == Decimal("5000000")
    assert config.delivery.rates.dingtalk == 12.5
    assert config.console.enabled is True


def test_environment_applies_without_a_file() -> None:
    config = load_config(
        None, {"TEAMBEAT_DATABASE_URL": "sqlite:///other.db", "TEAMBEAT_CONSOLE_ENABLED": "0"}
    )
    assert config.database.url == "sqlite:///other.db"
    assert config.console.enabled is False


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    line = one_problem(write(tmp_path, "[server]\nport = 9000\n"), {"TEAMBEAT_SERVER_PORT": "abc"})
    assert line.startswith('TEAMBEAT_SERVER_PORT = "abc": must be a whole number')
    assert "server.port" in line
    assert "config.toml" not in line


def test_environment_value_is_range_checked(tmp_path: Path) -> None:
    line = one_problem(write(tmp_path, ""), {"TEAMBEAT_SERVER_PORT": "0"})
    assert line.startswith('TEAMBEAT_SERVER_PORT = "0": must be at least 1')


def test_unknown_teambeat_variables_are_ignored() -> None:
    environ = {
        "TEAMBEAT_TEST_POSTGRES_URL": "postgresql://x",
        "TEAMBEAT_SLACK_BOT_TOKN": "typo-is-someone-elses",
        "TEAMBEAT_TEAMS_ID": "x",
        "TEAMBEAT_": "",
    }
    assert load_config(None, environ).slack.bot_token == ""


def test_env_secret_values_are_not_echoed(tmp_path: Path) -> None:
    line = one_problem(write(tmp_path, ""), {"TEAMBEAT_WECOM_ENCODING_AES_KEY": "short-secret"})
    assert "short-secret" not in line
    assert line.startswith("TEAMBEAT_WECOM_ENCODING_AES_KEY = <12 characters, hidden>: must be exactly 43")


# ---------------------------------------------------------------------------------------------- problems


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, '[slack]\nbot_tokn = "xoxb"\n')
    assert one_problem(path) == f"{path}: unknown key slack.bot_tokn (did you mean bot_token?)"


def test_unknown_key_inside_a_team_names_the_team(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM + '[teams.schedule]\nmornin = "09:00"\n')
    assert one_problem(path) == f"{path}: unknown key teams[east].schedule.mornin (did you mean morning?)"


def test_unknown_section_lists_what_is_allowed_when_nothing_is_close(tmp_path: Path) -> None:
    line = one_problem(write(tmp_path, "[zzz]\nq = 1\n"))
    assert "unknown key zzz" in line
    assert "allowed here: database, server" in line


def test_teams_as_plain_table_explains_array_syntax(tmp_path: Path) -> None:
    line = one_problem(write(tmp_path, '[teams]\nid = "east"\n'))
    assert "teams" in line and "[[teams]]" in line


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = """
[server]
port = 70000
[slack]
bot_tokn = "x"
[[teams]]
id = "east"
name = "华东一部"
platform = "console"
calendar = "china"
[teams.schedule]
morning = "9.30"
"""
    path = write(tmp_path, text)
    found = problems(path)
    assert f"{path}: server.port = 70000: must be at most 65535" in found
    assert f"{path}: unknown key slack.bot_tokn (did you mean bot_token?)" in found
    assert f'{path}: teams[east].calendar = "china": must be one of cn, weekdays, everyday' in found
    assert any(
        p.startswith(f'{path}: teams[east].schedule.morning = "9.30": must be a time HH:MM') for p in found
    )
    assert len(found) == 4
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert str(info.value).splitlines() == found


@pytest.mark.parametrize(
    ("team_lines", "expected"),
    [
        (
            'timezone = "Asia/Shangai"',
            'teams[east].timezone = "Asia/Shangai": unknown time zone (did you mean',
        ),
        ('timezone = "Mars/Base"', 'teams[east].timezone = "Mars/Base": must be an IANA time zone name'),
        ('calendar = "china"', 'teams[east].calendar = "china": must be one of cn, weekdays, everyday'),
        ('locale = "fr"', 'teams[east].locale = "fr": must be one of zh-CN, en'),
        ('currency = "RMB"', 'teams[east].currency = "RMB": must be one of CNY, USD, EUR, HKD, JPY, GBP'),
        (
            'platform = "feishu"',
            'teams[east].platform = "feishu": must be one of slack, dingtalk, wecom, console',
        ),
        (
            'extra_holidays = ["2027-02-30"]',
            'teams[east].extra_holidays[0] = "2027-02-30": must be a date YYYY-MM-DD',
        ),
        ('extra_workdays = ["10/10/2026"]', 'teams[east].extra_workdays[0] = "10/10/2026": must be a date'),
        ("kudos_daily_cap = -1", "teams[east].kudos_daily_cap = -1: must be at least 0"),
        ("leaders = [10001]", "teams[east].leaders[0] = 10001: must be a string"),
        (
            'channel_webhook = "oapi.dingtalk.com/robot"',
            "teams[east].channel_webhook = <23 characters, hidden>",
        ),
    ],
)
def test_invalid_team_values(tmp_path: Path, team_lines: str, expected: str) -> None:
    team = (
        CONSOLE_TEAM
        if not team_lines.startswith("platform")
        else CONSOLE_TEAM.replace('platform = "console"\n', "")
    )
    path = write(tmp_path, team + team_lines + "\n")
    line = one_problem(path)
    assert line.startswith(f"{path}: {expected}"), line


@pytest.mark.parametrize(
    ("schedule_line", "expected"),
    [
        ('morning = "25:00"', 'schedule.morning = "25:00": must be a time HH:MM (24-hour)'),
        ('checkin = "9am"', 'schedule.checkin = "9am": must be a time HH:MM'),
        ('reminders = ["10:30", "10:75"]', 'schedule.reminders[1] = "10:75": must be a time HH:MM'),
        ('weekly = "friday"', 'schedule.weekly = "friday": must be a day and a time'),
        ('weekly = "fri 25:00"', 'schedule.weekly = "fri 25:00": must be a day and a time HH:MM'),
        ('monthly = "32 18:00"', 'schedule.monthly = "32 18:00": must be `last HH:MM`'),
        ('monthly = "first 18:00"', 'schedule.monthly = "first 18:00": must be `last HH:MM`'),
        (
            'reminders = ["08:30"]',
            'schedule.reminders[0] = "08:30": must be later than the check-in time (09:00)',
        ),
        ('checkout = "17:75"', 'schedule.checkout = "17:75": must be a time HH:MM (24-hour)'),
        ("insights = 1815", "schedule.insights = 1815: must be a time HH:MM (24-hour) in quotes"),
    ],
)
def test_invalid_schedule_values(tmp_path: Path, schedule_line: str, expected: str) -> None:
    path = write(tmp_path, CONSOLE_TEAM + "[teams.schedule]\n" + schedule_line + "\n")
    line = one_problem(path)
    assert line.startswith(f"{path}: teams[east].{expected}"), line


def test_checkout_insights_and_missing_names(tmp_path: Path) -> None:
    plain = load_config(write(tmp_path, CONSOLE_TEAM, "plain.toml"), {}).teams[0]
    schedule = plain.schedule
    assert (schedule.checkout, schedule.insights, plain.missing_names) == (None, None, "leaders")
    schedule_keys = '[teams.schedule]\ncheckout = "17:30"\ninsights = 18:15:00\n'
    text = CONSOLE_TEAM + 'missing_names = "channel"\n' + schedule_keys
    team = load_config(write(tmp_path, text), {}).teams[0]
    assert (team.schedule.checkout, team.schedule.insights) == (time(17, 30), time(18, 15))
    assert team.missing_names == "channel"
    empty = CONSOLE_TEAM + '[teams.schedule]\ncheckout = ""\n'
    assert load_config(write(tmp_path, empty, "empty.toml"), {}).teams[0].schedule.checkout is None


def test_missing_names_is_leaders_or_channel(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM + 'missing_names = "everyone"\n')
    assert (
        one_problem(path)
        == f'{path}: teams[east].missing_names = "everyone": must be one of leaders, channel'
    )


def test_config_built_in_code_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Config is a pydantic-settings model, but only load_config reads TEAMBEAT_* (and names them in problems).
    monkeypatch.setenv("TEAMBEAT_SERVER_PORT", "9100")
    monkeypatch.setenv("TEAMBEAT_SERVER", '{"port": 9200}')
    assert Config().server.port == 8080
    assert load_config(None).server.port == 9100


def test_invalid_slug_uses_the_team_index(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM.replace('id = "east"', 'id = "East Team"'))
    line = one_problem(path)
    assert line.startswith(f'{path}: teams[0].id = "East Team": must be a slug')


def test_duplicate_team_id(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM + CONSOLE_TEAM.replace("华东一部", "华东二部"))
    line = one_problem(path)
    assert line == f'{path}: teams[1].id = "east": duplicate team id (also used by teams[0])'


def test_member_in_unknown_group(tmp_path: Path) -> None:
    text = (
        CONSOLE_TEAM
        + """
[[teams.groups]]
name = "狼队"
[[teams.groups]]
name = "虎队"
[[teams.members]]
id = "u1"
group = "鹰队"
"""
    )
    path = write(tmp_path, text)
    assert one_problem(path) == (
        f'{path}: teams[east].members[0].group = "鹰队": must name a group of this team (狼队, 虎队)'
    )


def test_member_group_in_a_team_without_groups(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM + '[[teams.members]]\nid = "u1"\ngroup = "狼队"\n')
    assert "the team has no [[teams.groups]]" in one_problem(path)


def test_group_membership_conflicts(tmp_path: Path) -> None:
    text = (
        CONSOLE_TEAM
        + """
[[teams.groups]]
name = "狼队"
members = ["u1"]
[[teams.groups]]
name = "虎队"
members = ["u1", "u2"]
[[teams.members]]
id = "u2"
group = "狼队"
"""
    )
    found = problems(write(tmp_path, text))
    assert any('teams[east].groups[1].members[0] = "u1": already a member of group 狼队' in p for p in found)
    assert any(
        'teams[east].members[0].group = "狼队": conflicts with [[teams.groups]] 虎队' in p for p in found
    )
    assert len(found) == 2


def test_group_member_must_be_a_user_id_string(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM + '[[teams.groups]]\nname = "狼队"\nmembers = [42, ""]\n')
    found = problems(path)
    assert f"{path}: teams[east].groups[0].members[0] = 42: must be a string (in quotes)" in found
    assert f'{path}: teams[east].groups[0].members[1] = "": must not be empty' in found


def test_questions_are_checked(tmp_path: Path) -> None:
    text = (
        CONSOLE_TEAM
        + """
[[teams.questions]]
key = "target"
kind = "money"
prompt = { en = "Target?" }
[[teams.questions]]
key = "target"
prompt = { "zh-CN" = "目标？", fr = "Objectif ?" }
"""
    )
    found = problems(write(tmp_path, text))
    joined = "\n".join(found)
    assert 'teams[east].questions[0].kind = "money": must be one of text, number, amount' in joined
    assert 'teams[east].questions[1].prompt["fr"]' in joined
    assert len(found) == 2


def test_question_cross_checks(tmp_path: Path) -> None:
    text = (
        CONSOLE_TEAM
        + """
[[teams.questions]]
key = "target"
prompt = { en = "Target?" }
[[teams.questions]]
key = "target"
prompt = { "zh-CN" = "目标？" }
"""
    )
    found = problems(write(tmp_path, text))
    assert any(
        'teams[east].questions[0].prompt = {"en": "Target?"}: needs a text for the team' in p for p in found
    )
    assert any('teams[east].questions[1].key = "target": duplicate question key' in p for p in found)


def test_same_day_holiday_and_workday(tmp_path: Path) -> None:
    text = CONSOLE_TEAM + 'extra_holidays = ["2027-01-04"]\nextra_workdays = ["2027-01-04"]\n'
    line = one_problem(write(tmp_path, text))
    assert "teams[east].extra_holidays[0] = 2027-01-04: is also listed in extra_workdays" in line


@pytest.mark.parametrize("key", ["abc", "a" * 44, "!" * 43])
def test_encoding_aes_key_must_be_43_letters_and_digits(tmp_path: Path, key: str) -> None:
    path = write(
        tmp_path,
        f'[wecom]\ncorp_id = "ww1"\nagent_id = 1\nsecret = "s"\ntoken = "t"\nencoding_aes_key = "{key}"\n',
    )
    line = one_problem(path)
    assert line.startswith(
        f"{path}: wecom.encoding_aes_key = <{len(key)} characters, hidden>: must be exactly 43"
    )
    assert key not in line


def test_database_url_password_is_masked(tmp_path: Path) -> None:
    line = one_problem(write(tmp_path, '[database]\nurl = "mysql://app:hunter2@db/x"\n'))
    assert "hunter2" not in line
    assert 'database.url = "mysql://app:***@db/x": must be a database URL' in line


def test_numbers_and_booleans_are_type_checked(tmp_path: Path) -> None:
    text = """
[server]
max_body_bytes = 0
[bot]
max_amount = "lots"
default_locale = "de"
[delivery]
poll_interval = -1
[slack]
oauth = "maybe"
"""
    path = write(tmp_path, text)
    found = problems(path)
    assert f"{path}: server.max_body_bytes = 0: must be greater than 0" in found
    assert f'{path}: bot.max_amount = "lots": must be a number' in found
    assert f'{path}: bot.default_locale = "de": must be one of zh-CN, en' in found
    assert f"{path}: delivery.poll_interval = -1: must be greater than 0" in found
    assert f'{path}: slack.oauth = "maybe": must be true or false' in found


def test_max_backoff_below_base_backoff(tmp_path: Path) -> None:
    line = one_problem(write(tmp_path, "[delivery]\nbase_backoff = 10.0\nmax_backoff = 5.0\n"))
    assert "delivery.max_backoff = 5.0: must be at least base_backoff (10.0)" in line


# ---------------------------------------------------------------------------------------------- platforms


def test_slack_team_needs_a_bot_token(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM.replace('"console"', '"slack"') + 'channel = "C1"\n')
    found = problems(path)
    assert any(
        p.startswith(f"{path}: slack.bot_token: missing: required because team east is on slack")
        for p in found
    )
    assert any(p.startswith(f"{path}: slack.app_token: missing: socket mode") for p in found)


def test_slack_with_oauth_needs_client_credentials_not_a_bot_token(tmp_path: Path) -> None:
    text = (
        CONSOLE_TEAM.replace('"console"', '"slack"')
        + '[slack]\nmode = "http"\nsigning_secret = "s"\noauth = true\n'
    )
    found = problems(write(tmp_path, text))
    assert [p.split(": ")[1] for p in found] == ["slack.client_id", "slack.client_secret"]


def test_slack_credentials_from_environment_satisfy_the_check(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM.replace('"console"', '"slack"'))
    environ = {"TEAMBEAT_SLACK_BOT_TOKEN": "xoxb-1", "TEAMBEAT_SLACK_APP_TOKEN": "xapp-1"}
    assert load_config(path, environ).slack.bot_token == "xoxb-1"


def test_dingtalk_needs_app_credentials_unless_every_team_has_a_webhook(tmp_path: Path) -> None:
    team = CONSOLE_TEAM.replace('"console"', '"dingtalk"')
    found = problems(write(tmp_path, team))
    assert [p.split(": ")[1] for p in found] == ["dingtalk.app_key", "dingtalk.app_secret"]

    hooked = team + 'channel_webhook = "https://oapi.dingtalk.com/robot/send?access_token=abc"\n'
    config = load_config(write(tmp_path, hooked, "hooked.toml"), {})
    assert config.teams[0].channel_webhook.endswith("access_token=abc")

    half = hooked + '[dingtalk]\napp_key = "k"\n'
    assert one_problem(write(tmp_path, half, "half.toml")).split(": ")[1] == "dingtalk.app_secret"


def test_wecom_needs_corp_id_and_secret(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM.replace('"console"', '"wecom"'))
    keys = [p.split(": ")[1] for p in problems(path)]
    assert keys == ["wecom.corp_id", "wecom.secret", "wecom.agent_id"]


def test_platform_checks_still_run_when_another_team_is_broken(tmp_path: Path) -> None:
    text = CONSOLE_TEAM.replace('"console"', '"wecom"') + CONSOLE_TEAM.replace('"east"', '"west"').replace(
        'name = "华东一部"', 'name = "华西"\ncalendar = "x"'
    )
    found = problems(write(tmp_path, text))
    assert any("teams[west].calendar" in p for p in found)
    assert any("wecom.corp_id" in p for p in found)


# ---------------------------------------------------------------------------------------------- reading


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 8080\nhost = \n")
    assert one_problem(path) == f"{path}: line 3, column 8: invalid TOML: Invalid value"


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    line = one_problem(tmp_path / "nope.toml")
    assert line.startswith(f"{tmp_path / 'nope.toml'}: cannot read the file")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeff".encode() + CONSOLE_TEAM.encode())
    assert load_config(path, {}).teams[0].name == "华东一部"


def test_non_utf8_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(CONSOLE_TEAM.encode("gbk"))
    assert "not UTF-8" in one_problem(path)


# ---------------------------------------------------------------------------------------------- check_config


def test_check_config_warns_for_a_year_without_cn_data(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM)
    lines = check_config(path, {}, today=date(2099, 3, 1))
    assert len(lines) == 1
    assert is_warning(lines[0])
    assert lines[0].startswith(f'warning: {path}: teams[east].calendar = "cn": ')
    assert "2099 and 2100" in lines[0]
    assert problems_only(lines) == []


def test_check_config_quiet_when_cn_data_exists(tmp_path: Path) -> None:
    assert check_config(write(tmp_path, CONSOLE_TEAM), {}, today=date(2024, 3, 1)) == []


def test_check_config_no_cn_warning_for_other_calendars(tmp_path: Path) -> None:
    path = write(tmp_path, CONSOLE_TEAM + 'calendar = "weekdays"\n')
    assert check_config(path, {}, today=date(2099, 3, 1)) == []


def test_check_config_warns_about_a_team_without_home_channel(tmp_path: Path) -> None:
    text = CONSOLE_TEAM.replace('"console"', '"slack"') + 'calendar = "everyday"\n'
    environ = {"TEAMBEAT_SLACK_BOT_TOKEN": "x", "TEAMBEAT_SLACK_APP_TOKEN": "y"}
    lines = check_config(write(tmp_path, text), environ, today=date(2024, 3, 1))
    assert len(lines) == 1 and is_warning(lines[0]) and "no home channel" in lines[0]


def test_check_config_warns_when_dingtalk_http_mode_cannot_verify_card_clicks(tmp_path: Path) -> None:
    text = '[dingtalk]\nmode = "http"\napp_key = "k"\napp_secret = "s"\n' + CONSOLE_TEAM
    lines = check_config(write(tmp_path, text), {}, today=date(2024, 3, 1))
    assert len(lines) == 1 and is_warning(lines[0]) and "dingtalk.card_secret" in lines[0]
    assert "POST /dingtalk/card" in lines[0]
    with_secret = text.replace('app_secret = "s"', 'app_secret = "s"\ncard_secret = "c"')
    assert check_config(write(tmp_path, with_secret), {}, today=date(2024, 3, 1)) == []


def test_check_config_returns_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 0\n")
    lines = check_config(path, {}, today=date(2099, 1, 1))
    assert problems_only(lines) == lines == [f"{path}: server.port = 0: must be at least 1"]


# ---------------------------------------------------------------------------------------------- parsers


def test_schedule_parsers_round_trip() -> None:
    assert str(parse_weekly("FRI 18:30")) == "fri 18:30"
    assert str(parse_monthly("last 18:30")) == "last 18:30"
    assert str(parse_monthly("5 7:05")) == "5 07:05"
    assert parse_monthly("last 18:30").is_last_workday
    with pytest.raises(ValueError):
        parse_weekly("someday 18:30")


def test_server_public_url_is_an_address_without_query(tmp_path: Path) -> None:
    """`[server] public_url` builds the links teambeat hands out (TV boards): an http(s) address."""
    good = write(tmp_path, '[server]\npublic_url = "https://tv.example.com/teambeat"\n')
    assert load_config(good, {}).server.public_url == "https://tv.example.com/teambeat"
    assert load_config(write(tmp_path, "[server]\nport = 9000\n", "plain.toml"), {}).server.public_url == ""
    for bad in ("tv.example.com", "https://tv.example.com/?a=1", "ftp://x"):
        line = one_problem(write(tmp_path, f'[server]\npublic_url = "{bad}"\n', "bad.toml"))
        assert "server.public_url" in line and "http:// or https://" in line, line

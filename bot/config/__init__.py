"""teambeat's configuration: a TOML file, environment overrides, and every problem named at once.

The file shape is a contract (see product.md, "Config file shape"). Each key is checked so that an admin
running ``teambeat check-config`` sees every mistake in one go, each with the file, the key path, the bad
value and what is allowed — instead of a stack trace from deep inside an adapter at 9 a.m.

values: value types and parsers · models: the tables · problems: errors as sentences ·
checks: cross-field rules · sources: TOML file and environment · loading: putting it together.
"""

from bot.config.loading import check_config, is_warning, load_config, problems_only
from bot.config.models import (
    AnnouncementsConfig,
    BotConfig,
    Config,
    ConsoleConfig,
    DatabaseConfig,
    DeliveryConfig,
    DeliveryRates,
    DingTalkConfig,
    GroupConfig,
    HooksConfig,
    ImagesConfig,
    MemberConfig,
    QuestionConfig,
    ScheduleConfig,
    ServerConfig,
    SlackConfig,
    TeamConfig,
    WeComConfig,
)
from bot.config.problems import ConfigError, Loc
from bot.config.sources import env_keys
from bot.config.values import MonthlyTime, WeeklyTime, parse_hhmm, parse_monthly, parse_weekly

__all__ = [
    "AnnouncementsConfig",
    "BotConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "DatabaseConfig",
    "DeliveryConfig",
    "DeliveryRates",
    "DingTalkConfig",
    "GroupConfig",
    "HooksConfig",
    "ImagesConfig",
    "MemberConfig",
    "MonthlyTime",
    "QuestionConfig",
    "ScheduleConfig",
    "ServerConfig",
    "SlackConfig",
    "TeamConfig",
    "WeComConfig",
    "WeeklyTime",
    "check_config",
    "is_warning",
    "load_config",
    "parse_hhmm",
    "parse_monthly",
    "parse_weekly",
    "problems_only",
]


def _env_keys() -> dict[str, Loc]:
    """Every TEAMBEAT_<SECTION>_<KEY> name and its key path (kept for tests/integration/test_deploy.py)."""
    return env_keys(Config)

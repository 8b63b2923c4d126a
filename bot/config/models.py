"""The configuration's tables as pydantic models; the file shape is a contract (product.md)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config.values import (
    HHMM,
    AesKey,
    CalendarKind,
    Currency,
    DatabaseUrl,
    HttpUrl,
    IsoDate,
    Locale,
    MissingNames,
    Monthly,
    MonthlyTime,
    NonEmpty,
    OptionalHHMM,
    Platform,
    PublicUrl,
    QuestionKey,
    QuestionKind,
    Rate,
    Role,
    Slug,
    TimeZoneName,
    UserId,
    Weekly,
    WeeklyTime,
)

DEFAULTS_SOURCE = "<defaults>"


def _drop_empty(data: Any) -> Any:
    """An empty string means "not set", everywhere (product.md)."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
    return data


class _Section(BaseModel):
    """Base: unknown keys are errors, values are read-only, and an empty string means "not set"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        return _drop_empty(data)


class DatabaseConfig(_Section):
    url: DatabaseUrl = "sqlite:///teambeat.db"
    sqlite_connections: int = Field(default=5, ge=1, le=32)
    """Connections to a SQLite file per process: reads run side by side on them, while writers take turns
    (`sqlite_queue_writers`; without it, fewer are better: see bot/storage/db.py)."""
    sqlite_queue_writers: bool = True
    """A SQLite file's writers in this process wait their turn on the event loop rather than in SQLite's
    sleeping busy handler (bot/storage/sqlite_writers.py)."""


class ServerConfig(_Section):
    enabled: bool = True
    """`teambeat run` always serves /healthz and /metrics (and the routes in use) unless this is false."""
    host: NonEmpty = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    worker_port: int | None = Field(default=None, ge=1, le=65535)
    """Unset, `--role worker` serves no HTTP (product.md); set, it serves only /healthz and /metrics here
    (a worker shares the web's config, so not on `port`); a port already taken (a second worker on the
    host) leaves that worker unscraped."""
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    public_url: PublicUrl = ""
    """Where people reach this server: links to TV boards, pictures for DingTalk custom robots (under
    /media/); empty: TV links use http://host:port and custom robots get text only."""


class HooksConfig(_Section):
    deals_secret: str = ""


class BotConfig(_Section):
    default_locale: Locale = "zh-CN"
    max_amount: Decimal = Field(default=Decimal("100000000"), gt=0, allow_inf_nan=False)
    event_dedupe_hours: int = Field(default=48, ge=1)


class DeliveryRates(_Section):
    """Messages per minute per destination; None keeps the adapter's declared limit."""

    slack: Rate = None
    dingtalk: Rate = None
    wecom: Rate = None
    console: Rate = None


class DeliveryConfig(_Section):
    poll_interval: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    max_attempts: int = Field(default=12, ge=1)
    base_backoff: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    max_backoff: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    rates: DeliveryRates = Field(default_factory=DeliveryRates)


class ImagesConfig(_Section):
    """Charts beside recaps, summaries and 小组PK posts where the destination can show pictures."""

    enabled: bool = True


class SlackConfig(_Section):
    mode: Literal["socket", "http"] = "socket"
    bot_token: str = ""
    signing_secret: str = ""
    app_token: str = ""
    api_base_url: HttpUrl = "https://slack.com/api/"
    oauth: bool = False
    client_id: str = ""
    client_secret: str = ""


class DingTalkConfig(_Section):
    mode: Literal["stream", "http"] = "stream"
    app_key: str = ""
    app_secret: str = ""
    robot_code: str = ""
    api_base_url: HttpUrl = "https://api.dingtalk.com"
    oapi_base_url: HttpUrl = "https://oapi.dingtalk.com"
    api_qps: int = Field(default=20, ge=1)
    """Server-API calls per second this process makes as the app (DingTalk refuses the excess)."""
    card_secret: str = ""
    """HTTP mode: the apiSecret registered with the card callback URL (`POST /dingtalk/card` checks it)."""
    card_route_key: str = "teambeat"
    """HTTP mode: the callbackRouteKey cards are sent with (registered with the card callback URL)."""


class WeComConfig(_Section):
    corp_id: str = ""
    agent_id: int | None = None
    secret: str = ""
    token: str = ""
    encoding_aes_key: AesKey = ""
    api_base_url: HttpUrl = "https://qyapi.weixin.qq.com"


class ConsoleConfig(_Section):
    enabled: bool = False
    user: str = ""


class ScheduleConfig(_Section):
    checkin: HHMM = time(9, 0)
    reminders: list[HHMM] = Field(default_factory=lambda: [time(10, 30)])
    morning: HHMM = time(9, 30)
    evening: HHMM = time(18, 0)
    weekly: Weekly = WeeklyTime(4, time(18, 30))
    monthly: Monthly = MonthlyTime(None, time(18, 30))
    checkout: OptionalHHMM = None  # evening check-out questions; unset = none
    insights: OptionalHHMM = None  # a private note to each leader; unset = none


class AnnouncementsConfig(_Section):
    deals: bool = True
    milestones: bool = True
    records: bool = True
    rank_changes: bool = True
    kudos: bool = True
    rank_window_minutes: int = Field(default=10, ge=1, le=1440)
    goal_thresholds: list[Annotated[int, Field(ge=1, le=1000)]] = Field(
        default_factory=lambda: [50, 100], min_length=1
    )


class GroupConfig(_Section):
    name: NonEmpty
    slogan: str = ""
    members: list[UserId] = Field(default_factory=list)


class MemberConfig(_Section):
    id: UserId
    name: str = ""
    email: str = ""
    mobile: str = ""
    employee_code: str = ""
    role: Role = "member"
    group: str = ""


class QuestionConfig(_Section):
    key: QuestionKey
    kind: QuestionKind = "text"
    required: bool = True
    prompt: Annotated[dict[Locale, NonEmpty], Field(min_length=1)]


class TeamConfig(_Section):
    id: Slug
    name: NonEmpty
    platform: Platform
    workspace: str = ""
    channel: str = ""
    channel_webhook: HttpUrl = ""
    channel_secret: str = ""
    timezone: TimeZoneName = "Asia/Shanghai"
    locale: Locale = "zh-CN"
    currency: Currency = "CNY"
    calendar: CalendarKind = "cn"
    extra_holidays: list[IsoDate] = Field(default_factory=list)
    extra_workdays: list[IsoDate] = Field(default_factory=list)
    leaders: list[UserId] = Field(default_factory=list)
    kudos_daily_cap: int = Field(default=5, ge=0)
    post_checkins: bool = False
    missing_names: MissingNames = "leaders"  # who has not checked in: named to leaders, or in the channel
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    announcements: AnnouncementsConfig = Field(default_factory=AnnouncementsConfig)
    groups: list[GroupConfig] = Field(default_factory=list)
    members: list[MemberConfig] = Field(default_factory=list)
    questions: list[QuestionConfig] = Field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def group_of(self, user_id: str) -> str | None:
        """The group a user belongs to, from `[[teams.groups]] members` or the member's own `group`."""
        for group in self.groups:
            if user_id in group.members:
                return group.name
        for member in self.members:
            if member.id == user_id and member.group:
                return member.group
        return None


class Config(BaseSettings):
    """The whole configuration. Sources (TOML file, TEAMBEAT_* environment) are read by bot.config.loading,
    so that building a Config in code never picks up the process environment by surprise."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    bot: BotConfig = Field(default_factory=BotConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    dingtalk: DingTalkConfig = Field(default_factory=DingTalkConfig)
    wecom: WeComConfig = Field(default_factory=WeComConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    teams: list[TeamConfig] = Field(default_factory=list)

    _source: str = PrivateAttr(default=DEFAULTS_SOURCE)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        return _drop_empty(data)

    @property
    def source(self) -> str:
        """The file this came from, or "<defaults>"."""
        return self._source

    def team(self, team_id: str) -> TeamConfig | None:
        return next((t for t in self.teams if t.id == team_id), None)

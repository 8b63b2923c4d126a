"""Value types of the configuration: times, dates, slugs, zones and URLs, each with an admin-readable error.

The parsers are public so that chat commands (`/team schedule morning 08:45`) accept exactly the same forms.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

Platform = Literal["slack", "dingtalk", "wecom", "console"]
Locale = Literal["zh-CN", "en"]
Currency = Literal["CNY", "USD", "EUR", "HKD", "JPY", "GBP"]
CalendarKind = Literal["cn", "weekdays", "everyday"]
Role = Literal["member", "lead", "leader"]
QuestionKind = Literal["text", "number", "amount"]
MissingNames = Literal["leaders", "channel"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i
    for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
QUESTION_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose text is ours, so it reads the same in every problem line."""
    return PydanticCustomError("teambeat", message.replace("{", "(").replace("}", ")"))


@dataclass(frozen=True, slots=True)
class WeeklyTime:
    """A weekly post: weekday (0 = Monday) and local time."""

    weekday: int
    at: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at:%H:%M}"


@dataclass(frozen=True, slots=True)
class MonthlyTime:
    """A monthly post: a day of the month (1..31), or None for the last workday of the month."""

    day: int | None
    at: time

    @property
    def is_last_workday(self) -> bool:
        return self.day is None

    def __str__(self) -> str:
        return f"{'last' if self.day is None else self.day} {self.at:%H:%M}"


def parse_hhmm(text: str) -> time:
    """`"09:30"` -> time(9, 30). Raises ValueError with an admin-readable reason."""
    match = _HHMM_RE.match(text.strip())
    if not match:
        raise ValueError("must be a time HH:MM (24-hour), e.g. 09:30")
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekly(text: str) -> WeeklyTime:
    """`"fri 18:30"` -> WeeklyTime(4, 18:30)."""
    parts = text.split()
    if len(parts) != 2 or parts[0].lower() not in _WEEKDAY_NAMES:
        raise ValueError("must be a day and a time, e.g. fri 18:30 (days: mon tue wed thu fri sat sun)")
    try:
        return WeeklyTime(_WEEKDAY_NAMES[parts[0].lower()], parse_hhmm(parts[1]))
    except ValueError:
        raise ValueError("must be a day and a time HH:MM (24-hour), e.g. fri 18:30") from None


def parse_monthly(text: str) -> MonthlyTime:
    """`"last 18:30"` (last workday of the month) or `"25 18:30"` (a day number 1..31)."""
    parts = text.split()
    if len(parts) == 2 and parts[0].lower() == "last":
        return MonthlyTime(None, parse_hhmm(parts[1]))
    if len(parts) == 2 and parts[0].isdigit() and 1 <= int(parts[0]) <= 31:
        return MonthlyTime(int(parts[0]), parse_hhmm(parts[1]))
    raise ValueError("must be `last HH:MM` (last workday of the month) or `DAY HH:MM` with DAY 1..31")


def _as_time(value: Any) -> Any:
    if isinstance(value, time):  # a bare TOML time: morning = 09:30
        if value.second or value.microsecond or value.tzinfo:
            raise _invalid("must be a time HH:MM (24-hour) without seconds or offset")
        return value
    if not isinstance(value, str):
        raise _invalid('must be a time HH:MM (24-hour) in quotes, e.g. "09:30"')
    try:
        return parse_hhmm(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def _as_weekly(value: Any) -> Any:
    if isinstance(value, WeeklyTime):
        return value
    if not isinstance(value, str):
        raise _invalid('must be a string such as "fri 18:30"')
    try:
        return parse_weekly(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def _as_monthly(value: Any) -> Any:
    if isinstance(value, MonthlyTime):
        return value
    if not isinstance(value, str):
        raise _invalid('must be a string such as "last 18:30" or "25 18:30"')
    try:
        return parse_monthly(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def _as_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):  # a bare TOML date
        return value
    if isinstance(value, str) and _ISO_DATE_RE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _invalid('must be a date YYYY-MM-DD, e.g. "2027-01-01"')


def _as_slug(value: Any) -> Any:
    if isinstance(value, str) and SLUG_RE.match(value):
        return value
    raise _invalid(
        "must be a slug: lowercase letters, digits, - and _, starting with a letter or digit, "
        "at most 63 characters (e.g. east or team-1)"
    )


def _as_timezone(value: Any) -> Any:
    if not isinstance(value, str):
        raise _invalid('must be an IANA time zone name in quotes, e.g. "Asia/Shanghai"')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
        if close:
            raise _invalid(f"unknown time zone (did you mean {close[0]}?)") from None
        raise _invalid("must be an IANA time zone name such as Asia/Shanghai") from None
    return value


def _as_http_url(value: Any) -> Any:
    if isinstance(value, str) and re.match(r"^https?://[^\s/]+", value):
        return value
    raise _invalid("must be an http:// or https:// URL")


def _as_public_url(value: Any) -> Any:
    if isinstance(value, str) and re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
        return value
    raise _invalid(
        "must be the http:// or https:// address people reach this server at, without ? or #, "
        'e.g. "https://teambeat.example.com"'
    )


def _as_database_url(value: Any) -> Any:
    if isinstance(value, str) and re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
        return value
    raise _invalid("must be a database URL: sqlite:///teambeat.db or postgresql+asyncpg://user@host/db")


def _as_aes_key(value: Any) -> Any:
    if isinstance(value, str) and _AES_KEY_RE.match(value):
        return value
    length = len(value) if isinstance(value, str) else 0
    raise _invalid(f"must be exactly 43 letters and digits (WeCom EncodingAESKey); this one has {length}")


HHMM = Annotated[time, BeforeValidator(_as_time)]
IsoDate = Annotated[date, BeforeValidator(_as_date)]
Slug = Annotated[str, BeforeValidator(_as_slug)]
TimeZoneName = Annotated[str, BeforeValidator(_as_timezone)]
HttpUrl = Annotated[str, BeforeValidator(_as_http_url)]
PublicUrl = Annotated[str, BeforeValidator(_as_public_url)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Rate = Annotated[float | None, Field(gt=0, allow_inf_nan=False)]

DatabaseUrl = Annotated[str, BeforeValidator(_as_database_url)]
AesKey = Annotated[str, BeforeValidator(_as_aes_key)]
Weekly = Annotated[WeeklyTime, BeforeValidator(_as_weekly)]
Monthly = Annotated[MonthlyTime, BeforeValidator(_as_monthly)]
QuestionKey = Annotated[str, StringConstraints(pattern=QUESTION_KEY_RE.pattern)]


def _as_time_or_none(value: Any) -> Any:
    return None if value is None else _as_time(value)


# A schedule time that may be left out (checkout, insights): a bad value is named at the key itself.
OptionalHHMM = Annotated[time | None, BeforeValidator(_as_time_or_none)]

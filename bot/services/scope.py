"""A team seen with its own clock, calendar, locale and currency: the lens every service looks through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.calendar import WorkCalendar
from bot.domain.money import Money, format_money
from bot.domain.periods import Period, PeriodName, local_day, period_containing
from bot.storage.orm import Member, Team


def calendar_for(team: Team) -> WorkCalendar:
    return WorkCalendar(
        team.calendar,
        extra_holidays=[date.fromisoformat(d) for d in team.extra_holidays or []],
        extra_workdays=[date.fromisoformat(d) for d in team.extra_workdays or []],
    )


@dataclass(slots=True)
class TeamScope:
    team: Team
    now: datetime
    calendar: WorkCalendar

    @classmethod
    def of(cls, team: Team, now: datetime) -> TeamScope:
        return cls(team=team, now=now, calendar=calendar_for(team))

    @property
    def locale(self) -> str:
        return self.team.locale

    @property
    def today(self) -> date:
        return local_day(self.now, self.team.timezone)

    def period(self, name: PeriodName | str, day: date | None = None) -> Period:
        return period_containing(PeriodName(name), day or self.today)

    def so_far(self, period: Period) -> Period:
        """The period cut at the end of today: a post for a past day counts nothing recorded after it."""
        return Period(period.name, period.start, max(period.start, min(period.end, self.today)))

    def money(self, minor: int) -> str:
        return format_money(Money(minor, self.team.currency), self.team.locale)


def person(member: Member) -> dict[str, str]:
    """How templates see a member: enough to mention them, nothing more."""
    return {"user_id": member.user_id, "name": member.name}

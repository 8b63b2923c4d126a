"""What each chart draws: plain records, amounts in integer minor units like everywhere else.

`unit` is the currency code of amounts, or `COUNT` for deal counts. Names and labels are drawn as given.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNT = "count"


@dataclass(frozen=True, slots=True)
class PersonDay:
    """One person's day: what they planned at check-in (None: no amount given) and what they closed."""

    name: str
    actual: int
    planned: int | None = None


@dataclass(frozen=True, slots=True)
class RecapChart:
    """The evening recap: the team's day against its plan and goal, then each person's."""

    locale: str
    unit: str
    day: str
    people: tuple[PersonDay, ...]
    team_actual: int
    team_planned: int | None = None
    goal: int | None = None


@dataclass(frozen=True, slots=True)
class SummaryChart:
    """A week or month day by day: this period's totals against the last one's and the goal's pace.

    `days` labels every day of the period; `daily` holds this period's totals up to the last day seen
    (it may be shorter), `previous` the last period's, day for day; `pace` the cumulative amount the goal
    asks for by the end of each day (None without a goal).
    """

    locale: str
    unit: str
    kind: str  # "weekly" | "monthly"
    period: str
    days: tuple[str, ...]
    daily: tuple[int, ...]
    previous: tuple[int, ...]
    pace: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class GroupRace:
    name: str
    total: int
    per_capita: int
    goal: int | None = None


@dataclass(frozen=True, slots=True)
class RaceChart:
    """小组PK: the groups in rank order, each toward its goal where it has one, total and per capita."""

    locale: str
    unit: str
    title: str
    groups: tuple[GroupRace, ...]


@dataclass(frozen=True, slots=True)
class RankBar:
    rank: int
    name: str
    value: int
    own: bool = False


@dataclass(frozen=True, slots=True)
class RankChart:
    """/rank … chart: the board's top rows, the asker's own row marked."""

    locale: str
    unit: str
    title: str
    rows: tuple[RankBar, ...]

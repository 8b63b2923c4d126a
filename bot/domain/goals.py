"""Goal progress and required pace: what the morning post and `/goal` show, and the 50 %/100 % milestones.

Targets and actuals are integers in the goal's unit (minor currency units, or a deal count).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.domain.calendar import WorkCalendar
from bot.domain.periods import Period


@dataclass(frozen=True)
class GoalProgress:
    target: int
    actual: int
    ratio: float  # display only (progress bars, percentages): money stays in target/actual
    remaining: int
    workdays_left: int
    daily_pace: int | None  # needed per remaining workday, rounded up; None when reached or no workday left
    reached: bool


def goal_progress(
    target: int, actual: int, period: Period, today: date, calendar: WorkCalendar
) -> GoalProgress:
    """Progress of `actual` towards `target` in `period`, seen on `today`.

    Workdays left count from today (inclusive) to the period's end; from the period's start when today
    is before it, and none when it is over.
    """
    if target <= 0:
        raise ValueError("a goal target must be positive")
    remaining = max(target - actual, 0)
    # After the period the range is empty, so no workday is left.
    workdays_left = calendar.count_workdays(max(today, period.start), period.end)
    daily_pace = -(-remaining // workdays_left) if remaining > 0 and workdays_left > 0 else None
    return GoalProgress(
        target=target,
        actual=actual,
        ratio=actual / target,
        remaining=remaining,
        workdays_left=workdays_left,
        daily_pace=daily_pace,
        reached=remaining == 0,
    )


def crossed_thresholds(
    target: int, before: int, after: int, thresholds: Iterable[int] = (50, 100)
) -> list[int]:
    """Percentages of `target` that the actual passed going from `before` to `after`, ascending.

    A threshold counts as crossed when it was below it before and at or above it after; integer
    arithmetic, so 50 % of an odd target is exact.
    """
    if target <= 0:
        raise ValueError("a goal target must be positive")
    return sorted({t for t in thresholds if before * 100 < t * target <= after * 100})

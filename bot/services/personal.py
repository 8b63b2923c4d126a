"""One member's own numbers (/me): deals, check-ins and streak this week and this month, to date."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import checkins, stats
from bot.services.scope import TeamScope, person
from bot.services.summaries import participation_over
from bot.storage.orm import Member

PERIODS = ("week", "month")


async def member_summary(session: AsyncSession, scope: TeamScope, member: Member) -> dict[str, Any]:
    """What the `me` template shows: per period the member's deals (count, amount) and check-ins done
    out of the workdays expected of them so far (None when there were none yet), and the streak."""
    periods = []
    for name in PERIODS:
        period = scope.so_far(scope.period(name))
        start, end = period.utc_bounds(scope.team.timezone)
        amount, deals = (await stats.member_totals(session, scope.team.id, start, end)).get(member.id, (0, 0))
        periods.append(
            {
                "period": name,
                "total": scope.money(amount),
                "deals": deals,
                "checkins": await participation_over(session, scope, [member], period.start, period.end),
            }
        )
    streak = await checkins.streak(session, member, scope.today, scope.calendar)
    return {"member": person(member), "periods": periods, "streak": streak}

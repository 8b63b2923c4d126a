"""Sums over deals for a period: every query is bounded by the period, never all history."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import ColumnElement, CompoundSelect, Select, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from bot.domain.leaderboard import Standing
from bot.storage.orm import Deal, Group, Member


def _live_deals(deals: ReadOnlyColumnCollection) -> tuple[ColumnElement[bool], ...]:
    """Live deals of the team `team_id` closed in [`start`, `end`) (bound when the query runs)."""
    return (
        deals.team_id == bindparam("team_id"),
        deals.closed_at >= bindparam("start"),
        deals.closed_at < bindparam("end"),
        deals.voided_at.is_(None),
    )


@cache
def _member_totals_query(announcing: bool) -> CompoundSelect | Select:
    """Built once per shape: every /rank and announcement runs it, and building it cost about as much
    as running it. On the table, not the entity: a plain Core statement skips the ORM's part."""
    deals = Deal.__table__.c
    live = _live_deals(deals)
    everything = select(deals.member_id, func.sum(deals.amount_minor), func.count()).where(*live)
    query = everything.group_by(deals.member_id)
    if not announcing:
        return query
    waiting = select(deals.member_id, -func.sum(deals.amount_minor), -func.count()).where(
        *live, deals.announce_pending.is_(True), deals.id != bindparam("announcing")
    )
    return union_all(query, waiting.group_by(deals.member_id))


async def member_totals(
    session: AsyncSession, team_id: int, start: datetime, end: datetime, *, announcing: int | None = None
) -> dict[int, tuple[int, int]]:
    """member id -> (amount in minor units, number of deals) for live deals closed in [start, end).

    `announcing`: the totals as that deal's announcement must show them — without the other deals
    still waiting in the announcement queue. Both parts are one statement, so one snapshot: a deal
    committed meanwhile is either in both or in neither.
    """
    parameters: dict[str, object] = {"team_id": team_id, "start": start, "end": end}
    if announcing is not None:
        parameters["announcing"] = announcing
    rows = await session.execute(_member_totals_query(announcing is not None), parameters)
    totals: dict[int, tuple[int, int]] = {}
    for member_id, amount, count in rows:
        before = totals.get(member_id, (0, 0))
        totals[member_id] = (before[0] + int(amount or 0), before[1] + int(count))
    return totals


def people_standings(members: list[Member], totals: dict[int, tuple[int, int]]) -> list[Standing]:
    none, make, total_of = (0, 0), Standing._make, totals.get  # one per member on every board
    return [make((f"member:{m.id}", m.name, *total_of(m.id, none), 1)) for m in members]


def group_standings(
    groups: list[Group], members: list[Member], totals: dict[int, tuple[int, int]]
) -> list[Standing]:
    """Each group's total over its current members; per capita divides by its active headcount."""
    by_group: dict[int, list[int]] = {}
    for m in members:
        if m.group_id is not None:
            by_group.setdefault(m.group_id, []).append(m.id)
    standings = []
    for group in groups:
        mine = by_group.get(group.id, [])
        standings.append(
            Standing(
                key=f"group:{group.id}",
                name=group.name,
                amount_minor=sum(totals.get(i, (0, 0))[0] for i in mine),
                deals=sum(totals.get(i, (0, 0))[1] for i in mine),
                members=len(mine),
            )
        )
    return standings

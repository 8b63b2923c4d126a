"""Rankings of people and groups, and the "who overtook whom" news the announcer posts.

Pure functions over standings (already summed amounts and deal counts). The order is total and
independent of input order, so the same numbers always produce the same board on every replica.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Literal, NamedTuple

Metric = Literal["amount", "deals", "per_capita"]

METRICS: tuple[Metric, ...] = ("amount", "deals", "per_capita")


class Standing(NamedTuple):
    """One entry's totals for a period; `key` is a stable id such as "member:5" or "group:2".

    Named tuples, not frozen dataclasses: a board makes one per member on every /rank and announcement,
    and a frozen dataclass's __init__ costs several times a tuple's."""

    key: str
    name: str
    amount_minor: int = 0
    deals: int = 0
    members: int = 1


class RankRow(NamedTuple):
    """A ranked entry. `gap_to_next` is what it needs to strictly pass the next better value."""

    rank: int
    standing: Standing
    value: int
    gap_to_next: int | None


def per_capita(amount_minor: int, members: int) -> int:
    """amount / members in minor units, rounded half-up (away from zero); 0 when there are no members."""
    if members <= 0:
        return 0
    quotient = (2 * abs(amount_minor) + members) // (2 * members)
    return quotient if amount_minor >= 0 else -quotient


def metric_value(standing: Standing, metric: Metric) -> int:
    if metric == "amount":
        return standing.amount_minor
    if metric == "deals":
        return standing.deals
    if metric == "per_capita":
        return per_capita(standing.amount_minor, standing.members)
    raise ValueError(f"unknown metric {metric!r}")


def _sort_key(metric: Metric) -> Callable[[Standing], tuple]:
    """Best first by the metric, then by the other metric, then name, then key; the trailing fields only
    matter for malformed input (duplicate keys) and keep the order total. One lambda per metric: a board
    sorts every member on every /rank and announcement."""
    if metric == "amount":
        return lambda s: (-s.amount_minor, -s.deals, s.name, s.key, s.members)
    if metric == "deals":
        return lambda s: (-s.deals, -s.amount_minor, s.name, s.key, s.members)
    return lambda s: (
        -per_capita(s.amount_minor, s.members),
        -s.amount_minor,
        s.name,
        s.key,
        -s.deals,
        s.members,
    )


def rank(standings: Iterable[Standing], metric: Metric) -> list[RankRow]:
    """Best first; ties share a rank (1, 1, 3) and are ordered by the other metric, then name, then key."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    return _ranked(sorted(standings, key=_sort_key(metric)), metric)


def _ranked(ordered: Iterable[Standing], metric: Metric) -> list[RankRow]:
    """Rows for standings already in board order, from the top of the board."""
    rows: list[RankRow] = []
    value_of, make = _value_getter(metric), RankRow._make  # the loop runs for every member of a board
    current_rank = 0
    previous_value: int | None = None
    better_value: int | None = None  # the value of the tie group directly above the current one
    for position, standing in enumerate(ordered, start=1):
        value = value_of(standing)
        if value != previous_value:
            better_value = previous_value
            current_rank = position
            previous_value = value
        gap = None if better_value is None else better_value - value + 1
        rows.append(make((current_rank, standing, value, gap)))
    return rows


def _value_getter(metric: Metric) -> Callable[[Standing], int]:
    """`metric_value(·, metric)` as one call: a board ranks every member."""
    if metric == "amount":
        return attrgetter("amount_minor")
    if metric == "deals":
        return attrgetter("deals")
    return lambda s: per_capita(s.amount_minor, s.members)


class Excerpt(NamedTuple):
    """What a /rank shows: the board's first rows, one entry's row, and how many are on the board."""

    top: list[RankRow]
    own: RankRow | None
    ranked: int


def excerpt(standings: Sequence[Standing], metric: Metric, n: int, key: str) -> Excerpt:
    """`top(rank(standings, metric), n)` and `find(…, key)` without ranking everyone: a /rank shows ten
    rows of a 200-person board. The entry's rank is one more than the entries with a strictly better
    value, and its gap is to the nearest strictly better value, as `rank` has them."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    top_rows = _ranked(heapq.nsmallest(max(n, 0), standings, key=_sort_key(metric)), metric)
    own = next((row for row in top_rows if row.standing.key == key), None)
    mine = None if own is not None else next((s for s in standings if s.key == key), None)
    if mine is not None:
        value = metric_value(mine, metric)
        better = [v for v in (metric_value(s, metric) for s in standings) if v > value]
        own = RankRow(len(better) + 1, mine, value, min(better) - value + 1 if better else None)
    return Excerpt(top_rows, own, len(standings))


def find(rows: Iterable[RankRow], key: str) -> RankRow | None:
    return next((row for row in rows if row.standing.key == key), None)


def top(rows: list[RankRow], n: int) -> list[RankRow]:
    """The first `n` rows of the board (ties at the cut are cut too: boards have a fixed size)."""
    return rows[: max(n, 0)]


def top3_changes(before: list[RankRow], after: list[RankRow]) -> list[tuple[str, str, int]]:
    """Who overtook whom into a top-3 place: (overtaker_key, overtaken_key, new_rank), best new rank first.

    X overtook Y when X was listed below Y before (or was not on the board), now ranks strictly above
    Y, and is now one of the board's first three rows. Y must have had a non-zero value before:
    passing someone who had nothing is not news. Each overtaker is reported once, against the
    best-placed entry it passed ("Bob overtook Alice for #1"). Empty when the top 3 keep their keys
    and order.
    """
    before_pos = {row.standing.key: index for index, row in enumerate(before)}
    before_value = {row.standing.key: row.value for row in before}
    after_rank = {row.standing.key: row.rank for row in after}
    changes: list[tuple[str, str, int]] = []
    for row in after[:3]:
        key = row.standing.key
        x_before = before_pos.get(key)
        passed = [
            other_key
            for other_key, other_pos in before_pos.items()
            if other_key != key
            and (x_before is None or x_before > other_pos)
            and before_value[other_key] > 0
            and other_key in after_rank
            and after_rank[other_key] > row.rank
        ]
        if passed:
            changes.append((key, min(passed, key=before_pos.__getitem__), row.rank))
    return changes


def top3_may_change(after: list[RankRow], moved: str | None, gain: int) -> bool:
    """False when `top3_changes(before, after)` is surely empty, without ranking the board before: the
    boards hold the same entries and only `moved` (None: no entry on the board) changed, its value by
    `gain`, its other figures no lower (a deal: amount and one more deal).

    An entry that only rose overtakes nobody who was below it, and is passed by nobody it was below;
    two unchanged entries keep their order. So only `moved` can overtake, and only into the top 3.
    A drop (`gain` < 0, a negative amount) proves nothing: the answer is then True."""
    if gain < 0:
        return True
    return moved is not None and any(row.standing.key == moved for row in after[:3])

"""Domain events a unit of work collects; the announcer turns them into posts in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DealRecorded:
    team_id: int
    deal_id: int
    announce: bool = True


@dataclass(frozen=True, slots=True)
class DealVoided:
    team_id: int
    deal_id: int


@dataclass(frozen=True, slots=True)
class KudosGiven:
    team_id: int
    kudos_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CheckinCompleted:
    team_id: int
    checkin_id: int


@dataclass(frozen=True, slots=True)
class GoalSet:
    team_id: int
    goal_id: int

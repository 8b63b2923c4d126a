"""The kinds of job, and the keys that tell one job of a kind apart."""

from __future__ import annotations

COMMAND = "command"
"""A request an adapter acknowledged: handled through the dispatcher (adapters/intake.py)."""
ANNOUNCE_DEAL = "announce_deal"
"""A recorded deal's announcements (bot/deal_announcements.py)."""


def announce_key(deal_id: int) -> str:
    """The announce_deal job's key: one job per deal, and how a void finds a parked one."""
    return f"{ANNOUNCE_DEAL}:{deal_id}"

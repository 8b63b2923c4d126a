"""The daily cadence's clock: APScheduler triggers rebuilt from the database, one leader per database."""

from scheduling.scheduler import Scheduler

__all__ = ["Scheduler"]

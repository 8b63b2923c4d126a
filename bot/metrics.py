"""Prometheus metrics of one running bot: its own registry, so tests and replicas never share counters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Set while the delivery worker has an adapter send an outbox post: the worker counts the attempt's
# outcome itself, once, so the adapter's and its client's own counting (for answers, replies, lookups)
# must not count the same failure again. Context-local: other tasks' calls are still counted.
_SEND_COUNTED_BY_WORKER: ContextVar[bool] = ContextVar("teambeat_send_counted_by_worker", default=False)


@contextlib.contextmanager
def counted_by_worker() -> Iterator[None]:
    """Inside: platform errors are the delivery worker's to count (`Metrics.send_failed`)."""
    token = _SEND_COUNTED_BY_WORKER.set(True)
    try:
        yield
    finally:
        _SEND_COUNTED_BY_WORKER.reset(token)


def _counter(registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...]) -> Counter:
    return Counter(name, doc, labels, registry=registry)


@dataclass
class Metrics:
    """The figures /metrics shows: commands, outbox states, delivery latency, platform errors."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.commands = _counter(
            self.registry, "teambeat_commands", "Commands handled.", ("command", "outcome")
        )
        self.platform_errors = _counter(
            self.registry,
            "teambeat_platform_errors",
            "Failed platform calls, by platform and kind (transient or permanent).",
            ("platform", "kind"),
        )
        self.http_requests = _counter(
            self.registry, "teambeat_http_requests", "HTTP requests answered.", ("route", "status")
        )
        self.events_rate_limited = _counter(
            self.registry,
            "teambeat_events_rate_limited",
            "Notices that a platform dropped events meant for the bot (Slack's app_rate_limited).",
            ("platform",),
        )
        self.outbox_rows = Gauge(
            "teambeat_outbox_rows", "Outbox rows, read at scrape time.", ("state",), registry=self.registry
        )
        self.announcements_parked = Gauge(
            "teambeat_announcements_parked",
            "Deals whose announcement failed every attempt and was set aside, read at scrape time.",
            registry=self.registry,
        )
        self.oldest_pending_post = Gauge(
            "teambeat_outbox_oldest_pending_seconds",
            "Age of the oldest post waiting in the outbox (0: none), read at scrape time.",
            registry=self.registry,
        )
        self.last_scheduled_post = Gauge(
            "teambeat_scheduled_post_last_timestamp_seconds",
            "When the latest scheduled post of each kind was made (its once-per-period row), read at "
            "scrape time.",
            ("kind",),
            registry=self.registry,
        )
        self.missed_scheduled_posts = Gauge(
            "teambeat_scheduled_posts_missed",
            "Scheduled posts due more than 10 minutes ago and not made (bot.services.schedule_health).",
            registry=self.registry,
        )
        self.scheduler_leader = Gauge(
            "teambeat_scheduler_leader",
            "1 while this process leads the scheduler, else 0.",
            registry=self.registry,
        )
        self.jobs_waiting = Gauge(
            "teambeat_jobs_waiting",
            "Jobs not parked (due, later or in hand), read at scrape time.",
            registry=self.registry,
        )
        self.oldest_waiting_job = Gauge(
            "teambeat_jobs_oldest_waiting_seconds",
            "Age of the oldest job not parked (0: none), read at scrape time.",
            registry=self.registry,
        )
        self.jobs_parked = Gauge(
            "teambeat_jobs_parked",
            "Jobs that failed every attempt and were set aside, by kind, read at scrape time.",
            ("kind",),
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "teambeat_delivery_latency_seconds",
            "From a post entering the outbox to the platform accepting it.",
            ("platform",),
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600),
            registry=self.registry,
        )

    def command(self, name: str, outcome: str) -> None:
        self.commands.labels(command=name, outcome=outcome).inc()

    def platform_error(self, platform: str, kind: str) -> None:
        """A failed platform call (an answer, a reply, a lookup); within an outbox send, not counted
        here: the worker counts the send's outcome (`send_failed`)."""
        if not _SEND_COUNTED_BY_WORKER.get():
            self.platform_errors.labels(platform=platform, kind=kind).inc()

    def send_failed(self, platform: str, kind: str) -> None:
        """An outbox post's attempt failed: one platform error, however many calls the adapter made."""
        self.platform_errors.labels(platform=platform, kind=kind).inc()

    def events_dropped(self, platform: str) -> None:
        self.events_rate_limited.labels(platform=platform).inc()

    def delivered(self, platform: str, seconds: float) -> None:
        self.delivery_latency.labels(platform=platform).observe(max(seconds, 0.0))

    def set_outbox(self, counts: dict[str, int]) -> None:
        for state, count in counts.items():  # every state, 0 included (bot.delivery.status.state_counts)
            self.outbox_rows.labels(state=state).set(count)

    def set_oldest_pending(self, seconds: float) -> None:
        self.oldest_pending_post.set(max(seconds, 0.0))

    def set_last_scheduled(self, at_by_kind: Mapping[str, datetime]) -> None:
        for kind, at in at_by_kind.items():
            self.last_scheduled_post.labels(kind=kind).set(at.timestamp())

    def set_missed(self, count: int) -> None:
        self.missed_scheduled_posts.set(count)

    def set_leading(self, leading: bool) -> None:
        self.scheduler_leader.set(1 if leading else 0)

    def set_parked(self, count: int) -> None:
        self.announcements_parked.set(count)

    def set_jobs(self, waiting: int, oldest_seconds: float, parked_by_kind: Mapping[str, int]) -> None:
        self.jobs_waiting.set(waiting)
        self.oldest_waiting_job.set(max(oldest_seconds, 0.0))
        self.jobs_parked.clear()  # a kind no longer parked reads 0 by its absence
        for kind, count in parked_by_kind.items():
            self.jobs_parked.labels(kind=kind).set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

"""The load generator's own garbage collector, kept from pausing it while it measures."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No collection in the generator while it measures: the latency of a request is taken when the
    generator reads its answer, so a pause of its own counts against the server. A full pass over the
    thousands of requests, tasks and answers a P2 run holds took ~60 ms, on the run's last requests, and
    was the run's max latency while the bot had not stalled (a watchdog in the bot saw nothing). The
    objects made before are frozen, those made during the run collected after it."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()

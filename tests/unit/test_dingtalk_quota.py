"""The app's share of DingTalk's server-API QPS: however calls overlap, no one-second window on DingTalk's
clock (arrival anywhere between a call's start and its answer) ever holds more than the quota."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.dingtalk.quota import AppQuota

WINDOW = 0.2  # a scaled-down second, so the test takes about a second of real time


async def calls_through(quota: AppQuota, count: int, duration: float) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []

    async def one() -> None:
        async with quota.call():
            start = time.monotonic()
            await asyncio.sleep(duration)
            spans.append((start, time.monotonic()))

    await asyncio.gather(*(one() for _ in range(count)))
    return spans


def most_possibly_in_one_window(spans: list[tuple[float, float]]) -> int:
    """For each call, how many calls (itself included) could arrive within one window of its start:
    those started no later whose answer came back less than a window before it started."""
    return max(sum(1 for s, e in spans if s <= start and e > start - WINDOW) for start, _ in spans)


async def test_concurrent_calls_queue_and_never_overfill_a_window():
    quota = AppQuota(5, window=WINDOW)
    began = time.monotonic()
    spans = await calls_through(quota, 23, duration=0.01)
    assert len(spans) == 23  # every call made, none refused
    assert most_possibly_in_one_window(spans) <= 5
    # 23 calls at 5 a window need at least four windows after the first five
    assert time.monotonic() - began >= 4 * WINDOW


async def test_a_failed_or_cancelled_call_gives_its_permit_back():
    quota = AppQuota(1, window=WINDOW)
    with pytest.raises(RuntimeError):
        async with quota.call():
            raise RuntimeError("DingTalk answered 500")
    waiting = asyncio.create_task(calls_through(quota, 1, 0.0))
    await asyncio.sleep(WINDOW / 4)
    waiting.cancel()  # cancelled while queued: holds nothing
    with pytest.raises(asyncio.CancelledError):
        await waiting
    spans = await asyncio.wait_for(calls_through(quota, 2, 0.0), timeout=10 * WINDOW)
    assert len(spans) == 2


def test_a_quota_below_one_call_is_refused():
    with pytest.raises(ValueError):
        AppQuota(0)

"""Background work gives way to requests: how long `Foreground.wait_idle` waits, and when it stops."""

from __future__ import annotations

import asyncio

from bot.foreground import Foreground


async def elapsed(wait) -> float:
    loop = asyncio.get_running_loop()
    began = loop.time()
    await wait
    return loop.time() - began


async def test_with_no_request_in_hand_background_work_goes_on_at_once() -> None:
    assert await elapsed(Foreground().wait_idle(at_most=1.0, quiet=0.05)) < 0.02


async def test_it_waits_for_a_quiet_moment_after_the_last_request() -> None:
    foreground = Foreground()
    with foreground.request():
        waiting = asyncio.create_task(elapsed(foreground.wait_idle(at_most=2.0, quiet=0.1)))
        await asyncio.sleep(0.1)
    waited = await waiting
    assert 0.19 <= waited < 0.5  # the request's 0.1 s, then 0.1 s without requests


async def test_a_request_that_never_ends_delays_background_work_only_so_long() -> None:
    foreground = Foreground()
    with foreground.request():
        assert 0.14 <= await elapsed(foreground.wait_idle(at_most=0.15)) < 0.4


async def stream_of_requests(foreground: Foreground, seconds: float, each: float, gap: float) -> None:
    """HTTP requests at the door one after another: `each` seconds in hand, `gap` seconds apart."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until:
        foreground.enter_door()
        await asyncio.sleep(each)
        foreground.leave_door()
        await asyncio.sleep(gap)


async def test_acknowledged_work_waits_for_a_gap_in_a_stream_of_http_requests() -> None:
    foreground = Foreground()
    # in hand four fifths of the time, with gaps shorter than the quiet moment asked for: a flood
    stream = asyncio.create_task(stream_of_requests(foreground, 0.25, each=0.004, gap=0.001))
    await asyncio.sleep(0.05)  # the flood is on
    waited = await elapsed(foreground.wait_door_idle(at_most=1.0, quiet=0.02, busy_below=0.5))
    assert stream.done()  # the work waited for the flood to end ...
    assert waited < 0.5  # ... and then for 0.02 s without a request, not for `at_most`


async def test_acknowledged_work_keeps_pace_with_a_stream_that_leaves_the_door_mostly_idle() -> None:
    foreground = Foreground()
    # in hand a fifth of the time, the gaps still shorter than the quiet moment: CPU to spare
    stream = asyncio.create_task(stream_of_requests(foreground, 0.3, each=0.001, gap=0.004))
    await asyncio.sleep(0.02)  # a few requests in: the door has a history
    waited = await elapsed(foreground.wait_door_idle(at_most=1.0, quiet=0.02, busy_below=0.5))
    assert not stream.done() and waited < 0.1  # the next gap, not the end of the stream
    await foreground.wait_door_idle(at_most=1.0, quiet=0.02)
    assert stream.done()  # without `busy_below` the same stream holds the work until it ends


async def test_a_request_outside_the_door_does_not_hold_acknowledged_work() -> None:
    foreground = Foreground()
    with foreground.request():  # e.g. the handling of an earlier request: not an HTTP request
        assert await elapsed(foreground.wait_door_idle(at_most=1.0, quiet=0.0)) < 0.02

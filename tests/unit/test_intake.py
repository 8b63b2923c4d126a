"""The bounded intake adapters hand acknowledged work to: room for N, the N+1st waits, failures free
their place and are logged, and wait_idle sees everything through."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.intake import Intake


async def test_the_next_piece_of_work_waits_until_one_in_hand_is_done():
    intake = Intake("test", 2)
    gates = [asyncio.Event() for _ in range(3)]
    done: list[int] = []

    async def work(i: int) -> None:
        await gates[i].wait()
        done.append(i)

    await intake.take(work(0))
    await intake.take(work(1))
    third = asyncio.create_task(intake.take(work(2)))
    await asyncio.sleep(0.05)
    assert not third.done() and len(intake) == 2  # no room: the caller is still waiting

    gates[0].set()
    await asyncio.wait_for(third, 1)  # taken once the first finished
    gates[1].set()
    gates[2].set()
    await intake.wait_idle()
    assert done == [0, 1, 2] and len(intake) == 0


async def test_a_failure_is_logged_and_frees_its_place(caplog: pytest.LogCaptureFixture):
    intake = Intake("test", 1)

    async def broken() -> None:
        raise RuntimeError("boom")

    ran = asyncio.Event()

    async def fine() -> None:
        ran.set()

    with caplog.at_level(logging.ERROR):
        await intake.take(broken())
        await asyncio.wait_for(intake.take(fine()), 1)
        await intake.wait_idle()
    assert ran.is_set()
    assert "test: handling a request failed" in caplog.text and "boom" in caplog.text


async def test_work_not_yet_taken_is_closed_when_the_wait_is_cancelled():
    intake = Intake("test", 1)
    gate = asyncio.Event()
    started = []

    async def work(name: str) -> None:
        started.append(name)
        await gate.wait()

    await intake.take(work("first"))
    waiting = asyncio.create_task(intake.take(work("second")))
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.set()
    await intake.wait_idle()
    assert started == ["first"]

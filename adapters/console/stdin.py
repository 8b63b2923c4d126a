"""Lines from stdin without blocking the event loop, and without holding up shutdown.

A daemon thread reads; the loop awaits its queue. SIGTERM can then stop `teambeat run` while it waits
for a line (an executor thread would keep the process alive until stdin closed).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable


class StdinLines:
    def __init__(self, read: Callable[[], str] | None = None) -> None:
        self._read = read or sys.stdin.readline
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._wanted = threading.Event()
        threading.Thread(target=self._pump, name="teambeat-stdin", daemon=True).start()

    def _pump(self) -> None:
        """Read one line each time one is asked for: an interactive prompt then appears only after the
        bot's answer to the previous line."""
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                line = self._read()
            except (EOFError, OSError, ValueError):
                line = ""
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line or None)
            if not line:
                return

    async def next(self, stop: asyncio.Event) -> str | None:
        """The next line, or None at end of input or once `stop` is set."""
        self._wanted.set()
        getting = asyncio.ensure_future(self._queue.get())
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (getting, stopping):
            if task not in done:
                task.cancel()
        return getting.result() if getting in done else None

"""A per-carrier pacer: TPS counted in submit_sm PDUs, FIFO, and a pause when the SMSC says busy.

:meth:`Pacer.acquire` hands out send slots in arrival order at no more than ``rate`` per
second (``None``: unlimited). :meth:`Pacer.pause` holds every sender back for a while
(ESME_RTHROTTLED / ESME_RMSGQFUL); a part being retried acquires with ``first=True`` and
goes ahead of the queue, so throttled parts are re-sent in the order they were refused.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class Pacer:
    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._next_at = 0.0  # earliest monotonic time of the next send
        self._paused_until = 0.0
        self._queue: deque[asyncio.Future[None]] = deque()
        self._runner: asyncio.Task[None] | None = None

    def set_rate(self, rate: float | None) -> None:
        self.rate = rate

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, *, first: bool = False) -> None:
        if not self._queue and self._free_now():
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if first:
            self._queue.appendleft(waiter)
        else:
            self._queue.append(waiter)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._release_waiters())
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.done():
                self._queue.remove(waiter)
            raise

    def _free_now(self) -> bool:
        now = time.monotonic()
        return now >= self._paused_until and (self.rate is None or now >= self._next_at)

    def _take(self) -> None:
        if self.rate is not None:
            now = time.monotonic()
            # A burst of at most one second's worth after an idle spell, not an unbounded one.
            self._next_at = max(self._next_at, now - 1.0) + 1.0 / self.rate

    async def _release_waiters(self) -> None:
        while self._queue:
            now = time.monotonic()
            ready_at = max(self._paused_until, self._next_at if self.rate is not None else 0.0)
            if ready_at > now:
                await asyncio.sleep(ready_at - now)
                continue
            waiter = self._queue.popleft()
            if waiter.done():
                continue
            self._take()
            waiter.set_result(None)

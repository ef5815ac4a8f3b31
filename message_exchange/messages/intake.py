"""Group commit for API sends: many concurrent requests, one transaction.

A send is answered only once its message and dispatch job are committed. Committing each
request on its own costs a transaction (on SQLite the database's single write lock, on
PostgreSQL a WAL flush) and a handful of round trips per message. Here requests queue
while a writer is busy; the writer takes everything queued (up to ``max_batch``), checks
and stores it with :func:`service.accept_sends` — a few queries for the whole batch — and
commits once. Under light load a batch is one request and nothing waits for a timer; under
heavy load batches grow and the cost per message falls.

Each request still gets its own answer: a refused request (21606, 21610, a re-check of its
caller …) writes nothing and does not affect the others. If the transaction itself fails,
every request in the batch gets the error and nothing of the batch is stored, so no client
is told "accepted" for a message that was not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from message_exchange.core.errors import MXError
from message_exchange.core.logging import get_logger
from message_exchange.messages.models import AcceptedMessage
from message_exchange.messages.service import SendRequest, accept_sends

log = get_logger("mx.intake")

Pending = tuple[SendRequest, "asyncio.Future[AcceptedMessage]"]


def intake_of(request: Request) -> Intake:
    """The process's intake (made in the app's lifespan)."""
    intake: Intake = request.app.state.intake
    return intake


class Intake:
    def __init__(
        self,
        session_factory: Callable[[], AsyncSession],
        *,
        writers: int = 1,
        max_batch: int = 256,
        linger_seconds: float = 0.002,
    ) -> None:
        """``writers`` transactions may run at once (1 on SQLite: it has one write lock).

        ``linger_seconds``: how long a writer that has just written a batch waits for more
        requests before taking a short queue. At a steady moderate rate each request would
        otherwise get a transaction of its own, the costliest way to run, and the queue
        behind those transactions is what makes latency jump; a couple of milliseconds
        gathers them. An idle writer does not linger: a lone request is written at once.
        """
        self._session_factory = session_factory
        self._writers = writers
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._queue: list[Pending] = []
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def send(self, request: SendRequest) -> AcceptedMessage:
        """Store ``request`` durably and return its message, or raise the error that refused it."""
        if self._closed:
            raise RuntimeError("intake is stopped")
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._writer(), name=f"intake-{n}") for n in range(self._writers)]
        future: asyncio.Future[AcceptedMessage] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        self._ready.set()
        return await future

    async def stop(self) -> None:
        """Refuse new sends; return once the writers have stored everything already queued."""
        self._closed = True
        self._ready.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _writer(self) -> None:
        busy = False
        while True:
            await self._ready.wait()
            if busy and self._linger > 0 and len(self._queue) < self._max_batch and not self._closed:
                await asyncio.sleep(self._linger)
            # A request whose client went away (its task was cancelled) is not stored.
            batch = [item for item in self._queue[: self._max_batch] if not item[1].done()]
            del self._queue[: self._max_batch]
            if not self._queue and not self._closed:
                self._ready.clear()
            busy = bool(batch)
            if batch:
                await self._write(batch)
            elif self._closed and not self._queue:
                return

    async def _write(self, batch: list[Pending]) -> None:
        try:
            async with self._session_factory() as session:
                outcomes = await accept_sends(session, [request for request, _ in batch])
                await session.commit()
        except Exception as exc:  # noqa: BLE001 — handed to every request of the batch, which raises it
            log.warning("send batch failed", size=len(batch), error=repr(exc))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue  # committed, but nobody is waiting: like a client that hangs up after a commit
            if isinstance(outcome, MXError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

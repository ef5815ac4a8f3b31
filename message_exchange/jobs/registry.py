"""Job handlers by kind, and what a handler is given and may raise.

::

    @job_handler("webhook.deliver")
    async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
        ...

A handler runs inside a transaction that the worker opens (``ctx.session``) and commits
together with marking the job succeeded, so its database writes happen exactly once: if the
worker lost its lease meanwhile, both are rolled back. Handlers never commit. Side effects
outside the database (an HTTP call, an SMPP submit) are at-least-once: make them idempotent
or keep the window small. Keep the transaction short on SQLite, where an open write
transaction holds the database's single write lock: do slow I/O before writing.

Outcomes:

- return normally → the job succeeded;
- raise :class:`RetryLater` → run again after ``delay_seconds`` (counts as an attempt);
- raise :class:`PermanentJobError` → dead at once, no retry;
- raise anything else → retried with exponential backoff and full jitter until
  ``max_attempts``, then dead.

A kind whose jobs are many and small may also have a :func:`batch_handler`, which gets
many claimed jobs in one transaction.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.config import Settings

# Handler modules of the package itself, imported by every worker. Domains add theirs here.
BUILTIN_HANDLER_MODULES: tuple[str, ...] = (
    "message_exchange.webhooks.handlers",
    "message_exchange.webhooks.batch",
    "message_exchange.messages.dispatch",
    "message_exchange.carriers.sandbox",
    "message_exchange.inbound.handlers",
    "message_exchange.webex.handlers",
    "message_exchange.msteams.handlers",
    "message_exchange.connect.notify",
)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler runs with: the transaction that also completes the job, and who runs it."""

    session: AsyncSession
    job_id: str
    kind: str
    attempt: int
    max_attempts: int
    worker_id: str
    settings: Settings

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


Handler = Callable[[JobContext, dict[str, Any]], Coroutine[Any, Any, None]]


class RetryLater(Exception):
    """Run this job again in ``delay_seconds`` (e.g. the peer throttled us)."""

    def __init__(self, delay_seconds: float, reason: str = "") -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        self.delay_seconds = float(delay_seconds)
        self.reason = reason
        super().__init__(f"retry requested in {self.delay_seconds:g}s" + (f": {reason}" if reason else ""))


class PermanentJobError(Exception):
    """The job can never succeed (bad payload, resource gone): mark it dead without retrying."""


_HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the decorated coroutine function as the handler of ``kind``."""
    if not kind or len(kind) > 64:
        raise ValueError("a job kind is 1 to 64 characters")

    def register(handler: Handler) -> Handler:
        existing = _HANDLERS.get(kind)
        if existing is not None and existing is not handler and _qualname(existing) != _qualname(handler):
            raise ValueError(f"job kind {kind!r} already has a handler: {_qualname(existing)}")
        _HANDLERS[kind] = handler
        return handler

    return register


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One claimed job of a batch."""

    job_id: str
    attempt: int
    max_attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BatchContext:
    """A batch handler's transaction (it also completes the jobs) and the jobs it is given."""

    session: AsyncSession
    kind: str
    worker_id: str
    settings: Settings
    items: list[BatchItem]
    # Jobs the handler settled otherwise than by success, recorded with the batch's commit.
    retries: dict[str, tuple[float, str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def retry_later(self, job_id: str, delay_seconds: float, reason: str) -> None:
        """This job runs again in ``delay_seconds`` (like :class:`RetryLater`; an attempt)."""
        self.retries[job_id] = (max(0.0, float(delay_seconds)), reason)

    def fail_permanently(self, job_id: str, reason: str) -> None:
        """This job is dead at once (like :class:`PermanentJobError`)."""
        self.failures[job_id] = reason


# Returns the ids of the jobs it finished (their writes are in ctx.session); see batch_handler.
BatchHandler = Callable[[BatchContext], Coroutine[Any, Any, Collection[str]]]
_BATCH_HANDLERS: dict[str, BatchHandler] = {}


def batch_handler(kind: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register the decorated coroutine function as the batch handler of ``kind``.

    Workers then claim jobs of ``kind`` many at a time and give them to it in one
    transaction, committed once together with the completion of the jobs it returns. This is
    for kinds whose jobs are many and small (a dispatch, a receipt), where one transaction per
    job would cost more than the work. The contract:

    - it returns the ids of the jobs it finished, may mark others with
      :meth:`BatchContext.retry_later` / :meth:`BatchContext.fail_permanently`, and has
      written nothing for the rest, which then run one at a time through the kind's
      ordinary :func:`job_handler`;
    - if it raises, its writes are rolled back and every job of the batch runs one at a time.

    The kind must also have an ordinary handler.
    """

    def register(handler: BatchHandler) -> BatchHandler:
        _BATCH_HANDLERS[kind] = handler
        return handler

    return register


def get_batch_handler(kind: str) -> BatchHandler | None:
    return _BATCH_HANDLERS.get(kind) if kind in _HANDLERS else None


def batch_kinds() -> list[str]:
    return sorted(kind for kind in _BATCH_HANDLERS if kind in _HANDLERS)


def _qualname(handler: Handler) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', repr(handler))}"


def get_handler(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)


def load_handler_modules(modules: Iterable[str]) -> None:
    """Import modules so their ``@job_handler`` registrations run (built-ins, MX_JOB_MODULES)."""
    for name in (*BUILTIN_HANDLER_MODULES, *modules):
        importlib.import_module(name)

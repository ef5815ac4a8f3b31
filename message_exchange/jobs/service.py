"""Enqueue jobs in the caller's transaction; read a job and its attempts; retry timing.

A job is inserted in the caller's transaction and never committed here: it exists only if
that transaction commits, which is what lets "store the message + its job" be atomic.

Once a transaction that enqueued something commits, every worker of this process is woken
(a SQLAlchemy ``after_commit`` hook calls the wakers workers register), so in-process jobs
start within milliseconds instead of the next poll. Workers in other processes find them on
their next poll (``MX_JOB_POLL_SECONDS``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from message_exchange.core.logging import get_logger
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.db.deferred import deferred_row
from message_exchange.jobs import repository
from message_exchange.jobs.models import SID_PREFIX, Job, JobAttempt, JobStatus

log = get_logger("mx.jobs")

Waker = Callable[[frozenset[str]], None]  # called with the kinds a commit enqueued
QueueSource = Callable[[], Iterable[str]]

_WAKERS: set[Waker] = set()
_QUEUE_SOURCES: set[QueueSource] = set()
_WAKE_ON_COMMIT = "mx_jobs_enqueued"


def add_waker(waker: Waker) -> None:
    """Call ``waker`` (thread-safe, non-blocking) after any transaction that enqueued commits."""
    _WAKERS.add(waker)


def remove_waker(waker: Waker) -> None:
    _WAKERS.discard(waker)


def add_queue_source(source: QueueSource) -> None:
    """Let this process's workers also claim jobs of the queues ``source()`` names (asked at each claim)."""
    _QUEUE_SOURCES.add(source)


def remove_queue_source(source: QueueSource) -> None:
    _QUEUE_SOURCES.discard(source)


def served_queues() -> list[str]:
    """The named queues this process's workers claim from now, besides unqueued jobs."""
    names: set[str] = set()
    for source in list(_QUEUE_SOURCES):
        try:
            names.update(source())
        except Exception:
            log.exception("job queue source failed")
    return sorted(names)


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    kinds: set[str] | None = session.info.pop(_WAKE_ON_COMMIT, None)
    if not kinds:
        return
    enqueued = frozenset(kinds)
    for waker in list(_WAKERS):
        try:
            waker(enqueued)
        except Exception:
            log.exception("job waker failed")


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_WAKE_ON_COMMIT, None)


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    delay: float | timedelta | None = None,
    queue: str | None = None,
) -> str:
    """Add a job to the caller's transaction and return its id.

    ``run_at`` (aware) or ``delay`` (seconds or timedelta) schedule it for later; by default
    it is due at once. ``max_attempts`` overrides the workers' MX_JOB_MAX_ATTEMPTS. ``queue``
    keeps it for the workers serving that queue (see :func:`add_queue_source`).
    """
    (job_id,) = await enqueue_many(
        session, kind, [payload], run_at=run_at, max_attempts=max_attempts, delay=delay, queue=queue
    )
    return job_id


async def enqueue_many(
    session: AsyncSession,
    kind: str,
    payloads: Iterable[dict[str, Any]],
    *,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    delay: float | timedelta | None = None,
    queue: str | None = None,
    items_of: Callable[[dict[str, Any]], int] | None = None,
) -> list[str]:
    """Add one job of ``kind`` per payload in a single multi-row insert; their ids in order.

    ``items_of``: how many items a payload names (a shared job's; see ``Job.items``)."""
    if queue is not None and not 0 < len(queue) <= 64:
        raise ValueError("a queue name is 1 to 64 characters")
    if run_at is not None and delay is not None:
        raise ValueError("give run_at or delay, not both")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware")
    now = utcnow()
    if delay is not None:
        run_at = now + (delay if isinstance(delay, timedelta) else timedelta(seconds=delay))
    rows = [
        _job_row(
            kind,
            payload,
            now=now,
            run_at=run_at or now,
            max_attempts=max_attempts,
            queue=queue,
            items=items_of(payload) if items_of is not None else 1,
        )
        for payload in payloads
    ]
    await repository.insert_jobs(session, rows)
    if rows:
        session.sync_session.info.setdefault(_WAKE_ON_COMMIT, set()).add(kind)
    return [row["id"] for row in rows]


def _job_row(
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    run_at: datetime,
    max_attempts: int | None,
    queue: str | None,
    items: int = 1,
) -> dict[str, Any]:
    """A new pending job's column values; the checks every way of enqueuing shares."""
    if not kind or len(kind) > 64:
        raise ValueError("a job kind is 1 to 64 characters")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if not isinstance(payload, dict):
        raise TypeError("a job payload is a JSON object (dict)")
    return {
        "id": new_sid(SID_PREFIX),
        "kind": kind,
        "payload": payload,
        "items": items,
        "queue": queue,
        "status": JobStatus.PENDING.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": run_at,
        "lease_expires_at": None,
        "locked_by": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
    }


def add_job(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    max_attempts: int | None = None,
    run_at: datetime | None = None,
    key: str | None = None,
) -> str:
    """Like :func:`enqueue` (due now unless ``run_at``), but no statement now: the job is
    inserted at the next flush or commit, together with every other one added meanwhile (one
    multi-row insert for a batch's callbacks instead of one statement each;
    :mod:`message_exchange.db.deferred`). With ``key``, :func:`pending_job` finds the job (and
    its payload may still change) until then."""
    now = utcnow()
    row = _job_row(kind, payload, now=now, run_at=run_at or now, max_attempts=max_attempts, queue=None)
    repository.defer_job(session, row, key=key)
    session.sync_session.info.setdefault(_WAKE_ON_COMMIT, set()).add(kind)
    return str(row["id"])


def pending_job(session: AsyncSession, key: str) -> dict[str, Any] | None:
    """The job :func:`add_job` added with ``key`` in this transaction, while not yet inserted:
    its column values, ``payload`` included, which the caller may still extend (and ``items``
    with it)."""
    return deferred_row(session, key)


def backoff_delay(attempt: int, base: float, cap: float, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (from 1): full jitter.

    Uniform in ``[0, min(cap, base * 2 ** (attempt - 1))]``, so retries of many jobs that
    failed together (a peer was down) spread out instead of arriving in waves.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 64))
    return rng.uniform(0.0, ceiling) if rng is not None else random.uniform(0.0, ceiling)


async def get_job(session: AsyncSession, job_id: str) -> Job | None:
    return await repository.get_job(session, job_id)


async def list_attempts(session: AsyncSession, job_id: str) -> Sequence[JobAttempt]:
    """Every attempt of a job, first to last."""
    return await repository.list_attempts(session, job_id)

"""All SQL of the job queue.

Every write a worker makes for a job it runs is *fenced*: it applies only while the job is
still ``running`` under that worker's id and attempt number. A worker whose lease was taken
over by another (it stalled past ``lease_expires_at``) therefore changes nothing — its
completion, and the handler writes in the same transaction, are rolled back.

Times are always the application's UTC clock, passed in as parameters, so both backends
compare the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import ReturningUpdate

from message_exchange.db.base import UTCDateTime
from message_exchange.db.deferred import defer_insert
from message_exchange.db.engine import on_postgres
from message_exchange.jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus

# Core tables, and the per-job statements built once with bound parameters: they run for
# every job, and building plus cache-keying a statement each time costs more than running it.
_jobs = cast(Table, Job.__table__)
_attempts = cast(Table, JobAttempt.__table__)

# ``items`` by another name: ``.c.items`` and ``Row`` already mean something else by it.
_ITEMS = _jobs.c["items"].label("job_items")

# Literal status values keep the claim queries provably inside the partial indexes.
_PENDING: ColumnElement[str] = literal_column("'pending'")
_RUNNING: ColumnElement[str] = literal_column("'running'")


@dataclass(frozen=True, slots=True)
class Fence:
    """What identifies one attempt of one job by one worker."""

    job_id: str
    worker_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker now holds a lease on; ``attempt`` is this run's number (from 1)."""

    id: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    worker_id: str
    lease_expires_at: datetime
    reclaimed: bool
    items: int = 1

    @property
    def fence(self) -> Fence:
        return Fence(self.id, self.worker_id, self.attempt)


def _time(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


def defer_job(session: AsyncSession, row: dict[str, Any], *, key: str | None = None) -> None:
    """Insert a new job (``Job`` column values) with the transaction's next flush or commit
    (``key``: see :func:`~message_exchange.db.deferred.deferred_row`)."""
    defer_insert(session, _jobs, row, key=key)


async def insert_jobs(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new jobs (dicts of ``Job`` column values) in the session's transaction."""
    if rows:
        await session.execute(insert(_jobs), list(rows))


async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_until: datetime,
    default_max_attempts: int,
    include_expired: bool = True,
    queues: Sequence[str] = (),
    orphaned_before: datetime | None = None,
    kinds: Sequence[str] | None = None,
    except_kinds: Sequence[str] = (),
    item_budget: int | None = None,
) -> list[ClaimedJob]:
    """Lease up to ``limit`` runnable jobs to ``worker_id`` and record their attempts.

    With ``kinds`` and ``item_budget``: the oldest due jobs whose items (``Job.items``) add
    up to at most ``item_budget`` — at least one job — so a batch of shared jobs stays that
    big however many items each carries.

    Pending jobs are runnable when unqueued, in one of ``queues``, or due since before
    ``orphaned_before`` (default ``now``: every queue) — a queue nobody serves any more must
    not keep its jobs forever. ``kinds`` limits the pending jobs claimed to those kinds,
    ``except_kinds`` leaves those out (a worker claims its batch kinds apart).

    Runnable: running with an expired lease (its worker died or stalled; that attempt is
    recorded ``lease_expired``), then pending and due, oldest ``run_at`` first. A job whose
    lease expired on its last allowed attempt goes dead instead of running again. The caller
    commits before running anything, so the lease is visible to every other worker.
    PostgreSQL skips rows other claimers have locked; SQLite serializes writers anyway.

    ``include_expired=False`` saves the expired-lease query; a busy worker looks for expired
    leases once per poll interval, not at every claim.
    """
    postgres = on_postgres(session)
    claimed: list[ClaimedJob] = []
    if limit <= 0:
        return claimed
    params = {
        "p_worker_id": worker_id,
        "p_now": now,
        "p_lease_until": lease_until,
        "p_queues": list(queues),
        "p_orphaned_before": orphaned_before or now,
        "p_kinds": list(kinds or ()),
        "p_except_kinds": list(except_kinds) or [""],
    }
    if include_expired:
        claimed += await _reclaim_expired(session, postgres, limit, params, default_max_attempts)
    remaining = limit - len(claimed)
    if remaining > 0 and item_budget is not None and kinds is not None:
        due = {**params, "p_limit": remaining}
        claimed += await _lease_items(session, postgres, due, item_budget, default_max_attempts)
    elif remaining > 0:
        statement = _lease_due_statement(postgres, only_kinds=kinds is not None)
        rows = (await session.execute(statement, {**params, "p_limit": remaining})).all()
        claimed += _claimed(rows, worker_id, lease_until, default_max_attempts, reclaimed=False)
    if claimed:
        await session.execute(
            insert(_attempts),
            [
                {
                    "job_id": job.id,
                    "attempt": job.attempt,
                    "worker_id": worker_id,
                    "started_at": now,
                    "finished_at": None,
                    "outcome": AttemptOutcome.RUNNING.value,
                    "error": None,
                }
                for job in claimed
            ],
        )
    return claimed


def _lease_values(statement: Update) -> ReturningUpdate[Any]:
    return statement.values(
        status=JobStatus.RUNNING.value,
        locked_by=bindparam("p_worker_id", type_=String()),
        lease_expires_at=_time("p_lease_until"),
        attempts=_jobs.c.attempts + 1,
        updated_at=_time("p_now"),
    ).returning(_jobs.c.id, _jobs.c.kind, _jobs.c.payload, _jobs.c.attempts, _jobs.c.max_attempts, _ITEMS)


def _due(postgres: bool, *columns: Any, only_kinds: bool) -> Select[Any]:
    """The runnable pending jobs, oldest first, up to ``p_limit`` (locked, skipping locked ones, on PostgreSQL)."""
    kinds = bindparam("p_kinds" if only_kinds else "p_except_kinds", expanding=True, type_=String())
    due = (
        select(*columns)
        .where(
            _jobs.c.status == _PENDING,
            _jobs.c.kind.in_(kinds) if only_kinds else _jobs.c.kind.not_in(kinds),
            _jobs.c.run_at <= _time("p_now"),
            or_(
                _jobs.c.queue.is_(None),
                _jobs.c.queue.in_(bindparam("p_queues", expanding=True, type_=String())),
                _jobs.c.run_at <= _time("p_orphaned_before"),
            ),
        )
        .order_by(_jobs.c.run_at)
        .limit(bindparam("p_limit", type_=Integer()))
    )
    return due.with_for_update(skip_locked=True) if postgres else due


@cache
def _lease_due_statement(postgres: bool, *, only_kinds: bool) -> ReturningUpdate[Any]:
    due = _due(postgres, _jobs.c.id, only_kinds=only_kinds)
    # A materialized CTE is evaluated once: the locked set is exactly the set updated. The
    # status is checked again by the UPDATE itself, which re-reads a row changed meanwhile.
    claimable = due.cte("claimable").prefix_with("MATERIALIZED")
    return _lease_values(update(_jobs).where(_chosen(postgres, claimable.c.id), _jobs.c.status == _PENDING))


def _chosen(postgres: bool, ids: ColumnElement[Any]) -> ColumnElement[bool]:
    """``jobs.id`` among ``ids`` (a column of a CTE or subquery of this statement).

    On PostgreSQL as ``= ANY(ARRAY(SELECT …))``: the chosen ids are computed once (an InitPlan)
    whatever the plan. As a join, a plan made while ``jobs`` looked empty (before its first
    ANALYZE) scanned the due jobs by kind and ran the subquery, window sort and all, once for
    each of them: 5–10 ms a claim at a hundred due jobs (bench/smpp).
    """
    if postgres:
        return _jobs.c.id == any_(func.array(select(ids).scalar_subquery()))
    return _jobs.c.id == ids


@cache
def _lease_items_statement(postgres: bool) -> ReturningUpdate[Any]:
    """Like :func:`_lease_due_statement` for one set of kinds, but sized in items: of the
    oldest due jobs (locked once, in a materialized CTE), those whose running total of
    ``items`` stays within ``p_budget`` — and the first one whatever its size."""
    candidates = _due(postgres, _jobs.c.id, _jobs.c.run_at, _ITEMS, only_kinds=True)
    locked = candidates.cte("claimable").prefix_with("MATERIALIZED")
    running = (
        select(
            locked.c.id,
            func.sum(locked.c.job_items).over(order_by=(locked.c.run_at, locked.c.id)).label("running"),
            func.row_number().over(order_by=(locked.c.run_at, locked.c.id)).label("position"),
        )
    ).subquery("running")
    budget = bindparam("p_budget", type_=Integer())
    chosen = select(running.c.id).where(or_(running.c.running <= budget, running.c.position == 1)).subquery("chosen")
    return _lease_values(update(_jobs).where(_chosen(postgres, chosen.c.id), _jobs.c.status == _PENDING))


async def _lease_items(
    session: AsyncSession, postgres: bool, params: dict[str, Any], item_budget: int, default_max_attempts: int
) -> list[ClaimedJob]:
    rows = (await session.execute(_lease_items_statement(postgres), {**params, "p_budget": item_budget})).all()
    return _claimed(rows, params["p_worker_id"], params["p_lease_until"], default_max_attempts, reclaimed=False)


def _claimed(
    rows: Sequence[Any], worker_id: str, lease_until: datetime, default_max_attempts: int, *, reclaimed: bool
) -> list[ClaimedJob]:
    return [
        ClaimedJob(
            id=row.id,
            kind=row.kind,
            payload=row.payload,
            attempt=row.attempts,
            max_attempts=row.max_attempts or default_max_attempts,
            worker_id=worker_id,
            lease_expires_at=lease_until,
            reclaimed=reclaimed,
            items=row.job_items,
        )
        for row in rows
    ]


async def _reclaim_expired(
    session: AsyncSession, postgres: bool, limit: int, params: dict[str, Any], default_max_attempts: int
) -> list[ClaimedJob]:
    now: datetime = params["p_now"]
    expired_query = (
        select(_jobs.c.id, _jobs.c.attempts, _jobs.c.max_attempts)
        .where(_jobs.c.status == _RUNNING, _jobs.c.lease_expires_at <= now)
        .order_by(_jobs.c.lease_expires_at)
        .limit(limit)
    )
    if postgres:
        expired_query = expired_query.with_for_update(skip_locked=True)
    expired = (await session.execute(expired_query)).all()
    if not expired:
        return []
    await session.execute(
        update(_attempts)
        .where(
            _attempts.c.job_id == bindparam("b_job_id"),
            _attempts.c.attempt == bindparam("b_attempt"),
            _attempts.c.outcome == AttemptOutcome.RUNNING.value,
        )
        .values(outcome=AttemptOutcome.LEASE_EXPIRED.value, finished_at=now, error="lease expired"),
        [{"b_job_id": row.id, "b_attempt": row.attempts} for row in expired],
    )
    exhausted = {row.id: row.attempts for row in expired if row.attempts >= (row.max_attempts or default_max_attempts)}
    for job_id, attempts in exhausted.items():
        await session.execute(
            update(_jobs)
            .where(_jobs.c.id == job_id)
            .values(
                status=JobStatus.DEAD.value,
                locked_by=None,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
                last_error=f"lease expired on attempt {attempts}, the last allowed",
            )
        )
    retry_ids = [row.id for row in expired if row.id not in exhausted]
    if not retry_ids:
        return []
    rows = (
        await session.execute(
            _lease_values(update(_jobs).where(_jobs.c.id.in_(retry_ids), _jobs.c.status == _RUNNING)),
            {key: params[key] for key in ("p_worker_id", "p_now", "p_lease_until")},
        )
    ).all()
    return _claimed(rows, params["p_worker_id"], params["p_lease_until"], default_max_attempts, reclaimed=True)


# The fence: the job is still running under this worker's id and attempt number.
_FENCED = and_(
    _jobs.c.id == bindparam("f_job_id", type_=String()),
    _jobs.c.status == _RUNNING,
    _jobs.c.locked_by == bindparam("f_worker_id", type_=String()),
    _jobs.c.attempts == bindparam("f_attempt", type_=Integer()),
)


def _fence_params(fence: Fence) -> dict[str, Any]:
    return {"f_job_id": fence.job_id, "f_worker_id": fence.worker_id, "f_attempt": fence.attempt}


_EXTEND_LEASE = (
    update(_jobs)
    .where(_FENCED)
    .values(lease_expires_at=_time("p_lease_until"), updated_at=_time("p_now"))
    .returning(_jobs.c.id)
)


async def extend_lease(session: AsyncSession, fence: Fence, *, now: datetime, lease_until: datetime) -> bool:
    """Push the lease of a running attempt forward; False when the lease was lost."""
    params = {**_fence_params(fence), "p_now": now, "p_lease_until": lease_until}
    return (await session.execute(_EXTEND_LEASE, params)).first() is not None


@cache
def _settle_statements(outcome: AttemptOutcome, postgres: bool) -> tuple[ReturningUpdate[Any], ...]:
    values: dict[str, Any] = {"locked_by": None, "lease_expires_at": None, "updated_at": _time("p_now")}
    if outcome is AttemptOutcome.SUCCEEDED:
        values.update(status=JobStatus.SUCCEEDED.value, finished_at=_time("p_now"))
    elif outcome is AttemptOutcome.FAILED:
        values.update(
            status=JobStatus.PENDING.value, run_at=_time("p_retry_at"), last_error=bindparam("p_error", type_=Text())
        )
    elif outcome is AttemptOutcome.DEAD:
        values.update(
            status=JobStatus.DEAD.value, finished_at=_time("p_now"), last_error=bindparam("p_error", type_=Text())
        )
    else:
        raise ValueError(f"an attempt cannot end as {outcome}")
    settle_job = update(_jobs).where(_FENCED).values(**values).returning(_jobs.c.id)
    attempt_values = {
        "outcome": outcome.value,
        "finished_at": _time("p_now"),
        "error": bindparam("p_error", type_=Text()),
    }
    if postgres:
        # One round trip: the attempt row is updated only if the fenced job update matched.
        settled = settle_job.cte("settled")
        return (
            update(_attempts)
            .where(_attempts.c.job_id == settled.c.id, _attempts.c.attempt == bindparam("f_attempt", type_=Integer()))
            .values(**attempt_values)
            .returning(_attempts.c.job_id),
        )
    settle_attempt = (
        update(_attempts)
        .where(
            _attempts.c.job_id == bindparam("f_job_id", type_=String()),
            _attempts.c.attempt == bindparam("f_attempt", type_=Integer()),
        )
        .values(**attempt_values)
        .returning(_attempts.c.job_id)
    )
    return settle_job, settle_attempt


async def settle(
    session: AsyncSession,
    fence: Fence,
    *,
    outcome: AttemptOutcome,
    now: datetime,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record how an attempt ended, fenced; False (nothing written) when the lease was lost.

    ``succeeded`` finishes the job, ``failed`` makes it pending again at ``retry_at``,
    ``dead`` gives up on it.
    """
    if outcome is AttemptOutcome.FAILED and retry_at is None:
        raise ValueError("a failed attempt needs retry_at")
    params = {**_fence_params(fence), "p_now": now, "p_error": error, "p_retry_at": retry_at}
    for statement in _settle_statements(outcome, on_postgres(session)):
        if (await session.execute(statement, params)).first() is None:
            return False
    return True


async def settle_succeeded(session: AsyncSession, fences: Sequence[Fence], *, now: datetime) -> bool:
    """Finish many attempts of one worker in two statements, fenced; False (caller must roll
    back) unless every one of them still held its lease."""
    if not fences:
        return True
    worker_ids = {fence.worker_id for fence in fences}
    if len(worker_ids) != 1:
        raise ValueError("settle_succeeded takes the fences of one worker")
    expected = {(fence.job_id, fence.attempt) for fence in fences}
    ids = sorted(job_id for job_id, _ in expected)
    # Plain ``id IN (…)``: a row-value IN over (id, attempts) makes SQLite scan the whole table.
    # The attempt numbers are compared on what the update returns; a mismatch rolls it all back.
    settled = (
        await session.execute(
            update(_jobs)
            .where(_jobs.c.id.in_(ids), _jobs.c.status == _RUNNING, _jobs.c.locked_by == worker_ids.pop())
            .values(
                status=JobStatus.SUCCEEDED.value,
                finished_at=now,
                locked_by=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(_jobs.c.id, _jobs.c.attempts)
        )
    ).all()
    if {(row.id, row.attempts) for row in settled} != expected:
        return False
    await session.execute(
        update(_attempts)
        .where(_attempts.c.job_id.in_(ids), _attempts.c.outcome == AttemptOutcome.RUNNING.value)
        .values(outcome=AttemptOutcome.SUCCEEDED.value, finished_at=now, error=None)
    )
    return True


async def get_job(session: AsyncSession, job_id: str) -> Job | None:
    result = await session.execute(select(Job).where(Job.id == job_id))
    return result.scalar_one_or_none()


async def list_attempts(session: AsyncSession, job_id: str) -> Sequence[JobAttempt]:
    result = await session.execute(select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.attempt))
    return result.scalars().all()

"""The job queue in one process, on SQLite and PostgreSQL: enqueue, run, retry, die, fence."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from message_exchange.config import Settings
from message_exchange.db.base import utcnow
from message_exchange.jobs import repository, service
from message_exchange.jobs.models import Job
from message_exchange.jobs.worker import Worker
from tests.jobs.handlers_for_tests import ENTERED, GATES
from tests.jobs.helpers import (
    SessionFactory,
    enqueue_committed,
    file_lines,
    load,
    make_due,
    runs,
    scalar,
    wait_until,
)


class UpperBound(random.Random):
    """A "random" source that always draws the top of the range: jittered delays become their ceiling."""

    def random(self) -> float:
        return 1.0


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    # A 30 s poll: anything that runs within a second was started by a wake-up, not a poll.
    return settings.model_copy(update={"job_poll_seconds": 30.0, "worker_concurrency": 4})


def tuned(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


async def expire_lease(sf: SessionFactory, job_id: str) -> None:
    """Make a running job's lease run out, as if its worker had stalled past it."""
    async with sf() as session, session.begin():
        await session.execute(
            update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_committed_enqueue_runs_at_once(job_settings: Settings, session_factory: SessionFactory) -> None:
    worker = Worker(job_settings, session_factory)
    await worker.start()
    try:
        await asyncio.sleep(0.1)  # the worker's first claim found nothing; it now sleeps for 30 s
        job_id = await enqueue_committed(session_factory, "test.record", {"n": 1})
        took = await wait_until(lambda: _has_run(session_factory, job_id), 10.0, "the job to run")
    finally:
        await worker.stop()
    assert took < 5.0, "the commit should have woken the worker; it waited for its 30 s poll"
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts, job.locked_by, job.lease_expires_at) == ("succeeded", 1, None, None)
    assert job.finished_at is not None
    assert [(a.attempt, a.outcome, a.worker_id) for a in attempts] == [(1, "succeeded", worker.worker_id)]
    assert await runs(session_factory) == [(job_id, worker.worker_id, 1)]


async def _has_run(sf: SessionFactory, job_id: str) -> bool:
    return any(run[0] == job_id for run in await runs(sf))


async def test_rolled_back_enqueue_never_runs(job_settings: Settings, session_factory: SessionFactory) -> None:
    worker = Worker(job_settings, session_factory)
    async with session_factory() as session:
        job_id = await service.enqueue(session, "test.record", {"n": 1})
        await session.rollback()
    assert await scalar(session_factory, "SELECT count(*) FROM jobs") == 0
    async with session_factory() as session:
        assert await service.get_job(session, job_id) is None
    assert await worker.run_pending() == 0
    assert await runs(session_factory) == []


async def test_handler_writes_commit_with_completion(job_settings: Settings, session_factory: SessionFactory) -> None:
    worker = Worker(job_settings, session_factory, worker_id="worker-1")
    ok_id = await enqueue_committed(session_factory, "test.record")
    failing_id = await enqueue_committed(session_factory, "test.write_then_fail", max_attempts=3)
    assert await worker.run_pending() == 2
    # The successful handler's write is committed with the completion, the failed one's rolled back.
    assert await runs(session_factory) == [(ok_id, "worker-1", 1)]
    failed, attempts = await load(session_factory, failing_id)
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "RuntimeError: failed after writing")
    assert [(a.outcome, a.error) for a in attempts] == [("failed", "RuntimeError: failed after writing")]


async def test_failing_job_backs_off_exponentially_then_dies(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    settings = tuned(job_settings, job_backoff_base_seconds=10.0, job_backoff_max_seconds=30.0)
    worker = Worker(settings, session_factory, worker_id="worker-1", rng=UpperBound())
    job_id = await enqueue_committed(session_factory, "test.fail", max_attempts=4)
    delays: list[timedelta] = []
    for attempt in (1, 2, 3):
        assert await worker.run_pending() == 1
        job, attempts = await load(session_factory, job_id)
        assert (job.status, job.attempts) == ("pending", attempt)
        finished = attempts[-1].finished_at
        assert finished is not None
        delays.append(job.run_at - finished)
        assert await worker.run_pending() == 0, "not due before its backoff delay"
        await make_due(session_factory, job_id)
    # base * 2^(attempt-1), capped at the maximum (the jitter source draws the ceiling).
    assert delays == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=30)]
    assert await worker.run_pending() == 1
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts, job.last_error) == ("dead", 4, "ValueError: boom on attempt 4")
    assert job.finished_at is not None and job.locked_by is None
    assert [(a.attempt, a.outcome, a.error, a.worker_id) for a in attempts] == [
        (1, "failed", "ValueError: boom on attempt 1", "worker-1"),
        (2, "failed", "ValueError: boom on attempt 2", "worker-1"),
        (3, "failed", "ValueError: boom on attempt 3", "worker-1"),
        (4, "dead", "ValueError: boom on attempt 4", "worker-1"),
    ]
    assert all(a.finished_at is not None and a.finished_at >= a.started_at for a in attempts)
    await make_due(session_factory, job_id)
    assert await worker.run_pending() == 0, "a dead job never runs again"


async def test_retry_delay_is_jittered_within_the_backoff_bound(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    settings = tuned(job_settings, job_backoff_base_seconds=1.0, job_backoff_max_seconds=600.0)
    worker = Worker(settings, session_factory)
    ids = [await enqueue_committed(session_factory, "test.fail") for _ in range(4)]
    assert await worker.run_pending() == 4
    delays = []
    for job_id in ids:
        job, attempts = await load(session_factory, job_id)
        finished = attempts[0].finished_at
        assert finished is not None
        delays.append((job.run_at - finished).total_seconds())
    assert all(0.0 <= d <= 1.0 for d in delays), delays
    assert len(set(delays)) > 1, "full jitter spreads retries of jobs that failed together"


def test_backoff_delay_full_jitter_bounds() -> None:
    rng = random.Random(7)
    for attempt, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (9, 512.0), (10, 600.0), (500, 600.0)):
        samples = [service.backoff_delay(attempt, 2.0, 600.0, rng=rng) for _ in range(2000)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert min(samples) < 0.05 * ceiling and max(samples) > 0.95 * ceiling  # all of [0, ceiling] is used
    assert service.backoff_delay(3, 2.0, 600.0, rng=UpperBound()) == 8.0


async def test_retry_later_runs_again_after_the_requested_delay(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    worker = Worker(job_settings, session_factory)
    job_id = await enqueue_committed(session_factory, "test.retry_later", {"delay": 45})
    assert await worker.run_pending() == 1
    job, attempts = await load(session_factory, job_id)
    finished = attempts[0].finished_at
    assert finished is not None
    assert job.status == "pending"
    assert job.run_at - finished == timedelta(seconds=45)
    assert attempts[0].outcome == "failed"
    assert attempts[0].error == "RetryLater: retry requested in 45s: peer throttled"
    assert await worker.run_pending() == 0
    await make_due(session_factory, job_id)
    assert await worker.run_pending() == 1
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert [a.outcome for a in attempts] == ["failed", "succeeded"]
    assert [r[2] for r in await runs(session_factory)] == [2]


async def test_permanent_error_is_dead_at_once(job_settings: Settings, session_factory: SessionFactory) -> None:
    worker = Worker(job_settings, session_factory)
    job_id = await enqueue_committed(session_factory, "test.permanent", max_attempts=5)
    assert await worker.run_pending() == 1
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts, job.last_error) == ("dead", 1, "PermanentJobError: bad payload")
    assert [(a.outcome, a.error) for a in attempts] == [("dead", "PermanentJobError: bad payload")]
    assert await worker.run_pending() == 0


async def test_unknown_kind_is_dead_with_a_clear_error(job_settings: Settings, session_factory: SessionFactory) -> None:
    worker = Worker(job_settings, session_factory)
    job_id = await enqueue_committed(session_factory, "no.such.kind", max_attempts=5)
    assert await worker.run_pending() == 1
    job, attempts = await load(session_factory, job_id)
    assert job.status == "dead"
    assert job.last_error == "no handler registered for job kind 'no.such.kind'"
    assert [a.outcome for a in attempts] == ["dead"]


async def test_delayed_job_waits_for_its_time(job_settings: Settings, session_factory: SessionFactory) -> None:
    worker = Worker(job_settings, session_factory)
    job_id = await enqueue_committed(session_factory, "test.record", delay=60)
    job, _ = await load(session_factory, job_id)
    assert timedelta(seconds=59) < job.run_at - utcnow() <= timedelta(seconds=60)
    assert await worker.run_pending() == 0
    await make_due(session_factory, job_id)
    assert await worker.run_pending() == 1
    assert [r[0] for r in await runs(session_factory)] == [job_id]


async def test_stolen_lease_rolls_back_the_first_workers_completion(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    first = Worker(job_settings, session_factory, worker_id="worker-a")
    second = Worker(job_settings, session_factory, worker_id="worker-b")
    job_id = await enqueue_committed(session_factory, "test.gated")
    gates = {attempt: asyncio.Event() for attempt in (1, 2)}
    entered = {attempt: asyncio.Event() for attempt in (1, 2)}
    for attempt in (1, 2):
        GATES[(job_id, attempt)] = gates[attempt]
        ENTERED[(job_id, attempt)] = entered[attempt]
    first_run = asyncio.create_task(first.run_pending())
    await asyncio.wait_for(entered[1].wait(), 5)
    # worker-a stalls past its lease; worker-b takes the job over (and is still running it).
    await expire_lease(session_factory, job_id)
    second_run = asyncio.create_task(second.run_pending())
    await asyncio.wait_for(entered[2].wait(), 5)
    gates[1].set()  # worker-a wakes up, writes its run, tries to complete: the fence refuses
    await asyncio.wait_for(first_run, 5)
    assert await runs(session_factory) == [], "worker-a's write was rolled back with its completion"
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts, job.locked_by) == ("running", 2, "worker-b")
    gates[2].set()
    await asyncio.wait_for(second_run, 5)
    assert await runs(session_factory) == [(job_id, "worker-b", 2)]
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts, job.locked_by) == ("succeeded", 2, None)
    assert [(a.attempt, a.worker_id, a.outcome) for a in attempts] == [
        (1, "worker-a", "lease_expired"),
        (2, "worker-b", "succeeded"),
    ]


async def test_heartbeat_keeps_the_lease_of_a_long_job(
    job_settings: Settings, session_factory: SessionFactory, tmp_path: Path
) -> None:
    settings = tuned(job_settings, job_lease_seconds=1.2)
    first = Worker(settings, session_factory, worker_id="worker-a")
    second = Worker(settings, session_factory, worker_id="worker-b")
    started_path = str(tmp_path / "started")
    job_id = await enqueue_committed(
        session_factory, "test.sleepy", {"started_path": started_path, "sleep_on_attempts": [1], "sleep": 2.7}
    )
    running = asyncio.create_task(first.run_pending())
    await wait_until(lambda: _file_has_lines(started_path, 1), 5, "the handler to start")
    deadline = time.monotonic() + 2.4
    while time.monotonic() < deadline:  # twice the 1.2 s lease
        assert await second.run_pending() == 0, "the lease of a running job must not expire"
        await asyncio.sleep(0.1)
    await asyncio.wait_for(running, 5)
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert [(a.worker_id, a.outcome) for a in attempts] == [("worker-a", "succeeded")]


async def test_lost_lease_cancels_the_running_handler(
    job_settings: Settings, session_factory: SessionFactory, tmp_path: Path
) -> None:
    settings = tuned(job_settings, job_lease_seconds=0.6)
    first = Worker(settings, session_factory, worker_id="worker-a")
    second = Worker(settings, session_factory, worker_id="worker-b")
    started_path = str(tmp_path / "started")
    job_id = await enqueue_committed(
        session_factory, "test.sleepy", {"started_path": started_path, "sleep_on_attempts": [1], "sleep": 30}
    )
    running = asyncio.create_task(first.run_pending())
    await wait_until(lambda: _file_has_lines(started_path, 1), 5, "the handler to start")
    await expire_lease(session_factory, job_id)
    assert await second.run_pending() == 1
    # worker-a's next heartbeat (every 0.2 s) finds the lease gone and stops its handler.
    await asyncio.wait_for(running, 2)
    assert await runs(session_factory) == [(job_id, "worker-b", 2)]
    job, attempts = await load(session_factory, job_id)
    assert job.status == "succeeded"
    assert [(a.worker_id, a.outcome) for a in attempts] == [("worker-a", "lease_expired"), ("worker-b", "succeeded")]


async def _file_has_lines(path: str, count: int) -> bool:
    return len(await file_lines(Path(path))) >= count


async def test_lease_expired_on_the_last_attempt_is_dead(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    job_id = await enqueue_committed(session_factory, "test.record", max_attempts=1)
    now = utcnow()
    async with session_factory() as session, session.begin():  # a worker claims it, then dies
        claimed = await repository.claim(
            session, worker_id="dead-worker", limit=5, now=now, lease_until=now, default_max_attempts=8
        )
    assert [c.id for c in claimed] == [job_id]
    await asyncio.sleep(0.01)
    assert await Worker(job_settings, session_factory).run_pending() == 0
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts, job.last_error) == ("dead", 1, "lease expired on attempt 1, the last allowed")
    assert [(a.worker_id, a.outcome) for a in attempts] == [("dead-worker", "lease_expired")]
    assert await runs(session_factory) == []


async def test_worker_runs_jobs_concurrently_and_stops_gracefully(
    job_settings: Settings, session_factory: SessionFactory, tmp_path: Path
) -> None:
    worker = Worker(job_settings, session_factory)  # concurrency 4
    await worker.start()
    started_path = str(tmp_path / "started")
    payload = {"started_path": started_path, "sleep_on_attempts": [1], "sleep": 1.0}
    async with session_factory() as session, session.begin():
        ids = await service.enqueue_many(session, "test.sleepy", [payload] * 4)
    await wait_until(lambda: _file_has_lines(started_path, 4), 3.0, "4 handlers to start")
    assert await runs(session_factory) == [], "all 4 started before any finished: they run at once"
    await worker.stop(timeout=5)  # lets the running jobs finish
    assert sorted(r[0] for r in await runs(session_factory)) == sorted(ids)
    for job_id in ids:
        job, _ = await load(session_factory, job_id)
        assert job.status == "succeeded"


async def test_stop_timeout_leaves_running_jobs_to_lease_expiry(
    job_settings: Settings, session_factory: SessionFactory, tmp_path: Path
) -> None:
    worker = Worker(job_settings, session_factory, worker_id="worker-a")
    await worker.start()
    started_path = str(tmp_path / "started")
    job_id = await enqueue_committed(
        session_factory, "test.sleepy", {"started_path": started_path, "sleep_on_attempts": [1], "sleep": 30}
    )
    await wait_until(lambda: _file_has_lines(started_path, 1), 5, "the handler to start")
    t0 = time.monotonic()
    await worker.stop(timeout=0.2)
    assert time.monotonic() - t0 < 2
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.locked_by) == ("running", "worker-a")
    assert [a.outcome for a in attempts] == ["running"]
    await expire_lease(session_factory, job_id)
    assert await Worker(job_settings, session_factory, worker_id="worker-b").run_pending() == 1
    job, attempts = await load(session_factory, job_id)
    assert job.status == "succeeded"
    assert [(a.worker_id, a.outcome) for a in attempts] == [("worker-a", "lease_expired"), ("worker-b", "succeeded")]


async def test_claim_reads_only_unfinished_jobs_through_the_partial_index(
    backend: str, session_factory: SessionFactory
) -> None:
    now = utcnow()
    rows: list[dict[str, object]] = [
        {
            "id": f"JB{i:032x}",
            "kind": "test.record",
            "payload": {},
            "status": "succeeded",
            "attempts": 1,
            "max_attempts": None,
            "run_at": now,
            "lease_expires_at": None,
            "locked_by": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
            "finished_at": now,
        }
        for i in range(5000)
    ]
    async with session_factory() as session, session.begin():
        await repository.insert_jobs(session, rows)
        await service.enqueue_many(session, "test.record", [{}] * 3)
    async with session_factory() as session, session.begin():
        await session.execute(text("ANALYZE"))
    due = "SELECT id FROM jobs WHERE status = 'pending' AND run_at <= :now ORDER BY run_at LIMIT 8"
    expired = (
        "SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at <= :now ORDER BY lease_expires_at LIMIT 8"
    )
    explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    when = now.replace(tzinfo=None).isoformat(sep=" ") if backend == "sqlite" else now
    async with session_factory() as session:
        for sql, index in ((due, "ix_jobs_run_at"), (expired, "ix_jobs_lease_expires_at")):
            plan = "\n".join(str(row) for row in (await session.execute(text(explain + sql), {"now": when})).all())
            assert index in plan, plan
    assert await scalar(session_factory, "SELECT count(*) FROM jobs WHERE status = 'pending'") == 3

"""Batch kinds: many claimed jobs, one handler call, one transaction — and the one-by-one fallback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from message_exchange.config import Settings
from message_exchange.jobs import repository, service
from message_exchange.jobs.worker import Worker
from tests.jobs.handlers_for_tests import BATCHES
from tests.jobs.helpers import SessionFactory, enqueue_committed, load, runs, scalar, wait_until
from tests.support.plans import generic_plans


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_poll_seconds": 30.0, "worker_concurrency": 4, "worker_batch_size": 50})


@pytest.fixture(autouse=True)
def _fresh_batches() -> Iterator[None]:
    BATCHES.clear()
    yield
    BATCHES.clear()


class Commits:
    """Counts the transactions committed on the test database."""

    def __init__(self, sf: SessionFactory) -> None:
        self.count = 0
        self._engine = sf.kw["bind"].sync_engine
        event.listen(self._engine, "commit", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "commit", self._seen)


async def _statuses(sf: SessionFactory, ids: list[str]) -> list[str]:
    return [(await load(sf, job_id))[0].status for job_id in ids]


async def test_a_batch_runs_in_one_handler_call_and_commits_with_its_jobs(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    ids = [await enqueue_committed(session_factory, "test.batched", {"n": n}) for n in range(30)]
    worker = Worker(job_settings, session_factory, worker_id="worker-b")
    commits = Commits(session_factory)
    try:
        assert await worker.run_pending(limit=100) == 30
    finally:
        commits.close()
    assert [sorted(batch) for batch in BATCHES] == [sorted(ids)]
    # One claim, one batch: two transactions for thirty jobs (one by one it would be 31).
    assert commits.count == 2
    assert sorted(await runs(session_factory)) == sorted((job_id, "worker-b", 1) for job_id in ids)
    for job_id in ids:
        job, attempts = await load(session_factory, job_id)
        assert (job.status, job.locked_by, job.lease_expires_at) == ("succeeded", None, None)
        assert [(a.attempt, a.outcome, a.worker_id) for a in attempts] == [(1, "succeeded", "worker-b")]


async def test_jobs_a_batch_leaves_run_one_by_one_with_the_usual_retry(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    done = await enqueue_committed(session_factory, "test.batched", {})
    left = await enqueue_committed(session_factory, "test.batched", {"leave": True})
    left_failing = await enqueue_committed(session_factory, "test.batched", {"leave": True, "fail_single": True})
    worker = Worker(job_settings, session_factory, worker_id="worker-b")
    assert await worker.run_pending(limit=10) == 3
    assert await _statuses(session_factory, [done, left, left_failing]) == ["succeeded", "succeeded", "pending"]
    failed, attempts = await load(session_factory, left_failing)
    assert failed.last_error == "RuntimeError: the one-by-one run failed"
    assert [a.outcome for a in attempts] == ["failed"]
    assert sorted(job_id for job_id, _, _ in await runs(session_factory)) == sorted([done, left])


async def test_a_failing_batch_is_rolled_back_and_every_job_runs_once_one_by_one(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    ids = [await enqueue_committed(session_factory, "test.batched", {}) for _ in range(4)]
    ids.append(await enqueue_committed(session_factory, "test.batched", {"explode": True}))
    worker = Worker(job_settings, session_factory)
    assert await worker.run_pending(limit=10) == 5
    assert len(BATCHES) == 1
    # The batch's writes were rolled back: each job's run is recorded exactly once.
    assert sorted(job_id for job_id, _, _ in await runs(session_factory)) == sorted(ids)
    assert await _statuses(session_factory, ids) == ["succeeded"] * 5


async def test_a_lease_lost_during_a_batch_rolls_it_back(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    kept = await enqueue_committed(session_factory, "test.batched", {})
    stolen = await enqueue_committed(session_factory, "test.batched", {"steal": True})
    worker = Worker(job_settings, session_factory, worker_id="worker-b")
    assert await worker.run_pending(limit=10) == 2
    # Completion found a job no longer locked by this worker: nothing of the batch committed,
    # both jobs ran one by one (the "stolen" lock was rolled back with it).
    assert sorted(job_id for job_id, _, _ in await runs(session_factory)) == sorted([kept, stolen])
    assert await _statuses(session_factory, [kept, stolen]) == ["succeeded", "succeeded"]


async def test_the_worker_loop_claims_batch_kinds_apart_and_in_batches(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    ids = [await enqueue_committed(session_factory, "test.batched", {}) for _ in range(120)]
    single = await enqueue_committed(session_factory, "test.record", {})
    worker = Worker(job_settings, session_factory)
    await worker.start()
    try:
        await wait_until(
            lambda: _all_done(session_factory),
            20.0,
            "every job to finish",
        )
    finally:
        await worker.stop()
    assert sum(len(batch) for batch in BATCHES) == 120
    assert len(BATCHES) <= 6, "claimed up to MX_WORKER_BATCH_SIZE (50) at a time"
    assert single not in {job_id for batch in BATCHES for job_id in batch}
    assert len(await runs(session_factory)) == 121
    assert set(await _statuses(session_factory, [*ids, single])) == {"succeeded"}


async def _all_done(sf: SessionFactory) -> bool:
    return await scalar(sf, "SELECT count(*) FROM jobs WHERE status <> 'succeeded'") == 0


async def test_a_batch_may_retry_or_fail_jobs_itself(job_settings: Settings, session_factory: SessionFactory) -> None:
    ok = await enqueue_committed(session_factory, "test.batched", {})
    later = await enqueue_committed(session_factory, "test.batched", {"retry": 60})
    last = await enqueue_committed(session_factory, "test.batched", {"retry": 60}, max_attempts=1)
    bad = await enqueue_committed(session_factory, "test.batched", {"fail": True})
    worker = Worker(job_settings, session_factory)
    assert await worker.run_pending(limit=10) == 4
    assert len(BATCHES) == 1, "none of them ran one by one"
    assert await _statuses(session_factory, [ok, later, last, bad]) == ["succeeded", "pending", "dead", "dead"]
    retried, attempts = await load(session_factory, later)
    assert retried.last_error == "peer busy" and [a.outcome for a in attempts] == ["failed"]
    assert (retried.run_at - attempts[0].finished_at).total_seconds() > 55
    dead, attempts = await load(session_factory, bad)
    assert dead.last_error == "bad payload" and [a.outcome for a in attempts] == ["dead"]
    assert await worker.run_pending(limit=10) == 0, "the retry is not due for a minute"


async def test_batches_of_shared_jobs_are_claimed_by_items(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    """A shared job carries many items: a batch holds about MX_WORKER_BATCH_SIZE (50) items, not jobs."""
    ids = []
    for items in (40, 30, 1, 70, 5):  # one transaction each, oldest first
        async with session_factory() as session, session.begin():
            [job_id] = await service.enqueue_many(session, "test.batched", [{"n": items}], items_of=lambda p: p["n"])
        ids.append(job_id)
    worker = Worker(job_settings, session_factory)
    await worker.start()
    try:
        await wait_until(lambda: _all_done(session_factory), 20.0, "every job to finish")
    finally:
        await worker.stop()
    forty, thirty, one, seventy, five = ids
    # 40 + 30 would be 70 > 50; a job bigger than the budget still goes, alone.
    assert {frozenset(batch) for batch in BATCHES} == {
        frozenset({forty}),
        frozenset({thirty, one}),
        frozenset({seventy}),
        frozenset({five}),
    }
    assert (await load(session_factory, seventy))[0].items == 70


@pytest.mark.parametrize("item_budget", [None, 50])
async def test_claims_compute_their_choice_once_in_any_plan(
    session_factory: SessionFactory, backend: str, item_budget: int | None
) -> None:
    """The claim's UPDATE computes the jobs it chose once, even in a generic plan made while
    ``jobs`` is empty: as a join, such a plan scanned the due jobs and ran the choice (window
    sort and all) again for each of them — O(n²) in the due jobs (10 ms a claim in bench/smpp)."""
    if backend != "postgres":
        pytest.skip("plans are PostgreSQL's")
    await enqueue_committed(session_factory, "test.batched", {})
    now = datetime.now(UTC)

    async def run() -> None:
        await repository.claim(
            session,
            worker_id="w",
            limit=10,
            now=now,
            lease_until=now + timedelta(seconds=30),
            default_max_attempts=3,
            include_expired=False,
            kinds=["test.batched"] if item_budget else None,
            item_budget=item_budget,
        )

    async with session_factory() as session, session.begin():
        [plan] = await generic_plans(session, "WITH claimable", run)
    assert "InitPlan" in plan, plan  # evaluated once
    assert "Nested Loop" not in plan, plan
    assert "= ANY" in plan, plan

"""Named job queues: a queued job runs on a worker serving its queue, or on any once orphaned."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from message_exchange.config import Settings
from message_exchange.jobs import service
from message_exchange.jobs.worker import Worker
from tests.jobs.helpers import SessionFactory, enqueue_committed, load, runs, wait_until


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_poll_seconds": 0.05, "worker_concurrency": 4})


@pytest.fixture
def serving() -> Iterator[set[str]]:
    """The queues this process's workers serve, as the test sets them."""
    queues: set[str] = set()

    def source() -> set[str]:
        return set(queues)

    service.add_queue_source(source)
    yield queues
    service.remove_queue_source(source)


async def _ran(sf: SessionFactory, job_id: str) -> bool:
    return any(run[0] == job_id for run in await runs(sf))


async def test_a_queued_job_waits_for_a_worker_serving_its_queue(
    job_settings: Settings, session_factory: SessionFactory, serving: set[str]
) -> None:
    settings = job_settings.model_copy(update={"job_queue_orphan_seconds": 60.0})
    worker = Worker(settings, session_factory)
    await worker.start()
    try:
        plain = await enqueue_committed(session_factory, "test.record", {"n": 1})
        kept = await enqueue_committed(session_factory, "test.record", {"n": 2}, queue="carrier:alpha")
        other = await enqueue_committed(session_factory, "test.record", {"n": 3}, queue="carrier:beta")
        await wait_until(lambda: _ran(session_factory, plain), 10.0, "the unqueued job")
        await asyncio.sleep(0.5)  # ten polls: a worker serving no queue leaves both queued jobs alone
        assert not await _ran(session_factory, kept) and not await _ran(session_factory, other)

        serving.add("carrier:alpha")  # e.g. this node just bound to carrier alpha
        await wait_until(lambda: _ran(session_factory, kept), 10.0, "the job of the served queue")
        await asyncio.sleep(0.3)
        assert not await _ran(session_factory, other)
        job, _ = await load(session_factory, other)
        assert (job.status, job.queue) == ("pending", "carrier:beta")
    finally:
        await worker.stop()


async def test_an_orphaned_queued_job_is_taken_by_any_worker(
    job_settings: Settings, session_factory: SessionFactory
) -> None:
    settings = job_settings.model_copy(update={"job_queue_orphan_seconds": 0.6})
    worker = Worker(settings, session_factory)
    await worker.start()
    try:
        kept = await enqueue_committed(session_factory, "test.record", {"n": 1}, queue="carrier:gone")
        took = await wait_until(lambda: _ran(session_factory, kept), 10.0, "the orphaned job")
    finally:
        await worker.stop()
    assert took >= 0.5, "taken before it was orphaned"


async def test_queue_names_are_checked(session_factory: SessionFactory) -> None:
    with pytest.raises(ValueError, match="queue name"):
        await enqueue_committed(session_factory, "test.record", {}, queue="x" * 65)
    with pytest.raises(ValueError, match="queue name"):
        await enqueue_committed(session_factory, "test.record", {}, queue="")

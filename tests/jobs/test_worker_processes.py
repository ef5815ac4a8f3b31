"""Real ``mx worker`` processes: sharing a backlog without duplicates, surviving SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest

from message_exchange.jobs import service
from tests.conftest import TEST_SECRET_KEY
from tests.jobs.helpers import SessionFactory, enqueue_committed, file_lines, load, runs, scalar, wait_until

ROOT = Path(__file__).resolve().parents[2]
MX = Path(sys.executable).parent / "mx"


class WorkerProcesses:
    """Starts ``mx worker`` processes and kills whatever is left of them at teardown."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.tmp_path = tmp_path
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: list[Path] = []
        self._files: list[IO[bytes]] = []

    async def start(self, **env: str) -> asyncio.subprocess.Process:
        log_path = self.tmp_path / f"worker-{len(self.processes)}.log"
        log_file = log_path.open("wb")
        self._files.append(log_file)
        process = await asyncio.create_subprocess_exec(
            str(MX),
            "worker",
            cwd=ROOT,
            stdout=log_file,
            stderr=log_file,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "MX_DATA_DIR": str(self.tmp_path),
                "MX_DATABASE_URL": self.database_url,
                "MX_SECRET_KEY": TEST_SECRET_KEY,
                "MX_JOB_MODULES": "tests.jobs.handlers_for_tests",
                "MX_JOB_POLL_SECONDS": "0.1",
                "MX_LOG_LEVEL": "INFO",
                **env,
            },
        )
        self.processes.append(process)
        self.logs.append(log_path)
        return process

    async def wait_started(self, index: int) -> None:
        async def started() -> bool:
            if self.processes[index].returncode is not None:
                raise AssertionError(f"worker exited early:\n{self.logs[index].read_text()}")
            return any('"worker started"' in line for line in await file_lines(self.logs[index]))

        await wait_until(started, 30, f"worker {index} to start", interval=0.05)

    async def close(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        for log_file in self._files:
            log_file.close()


@pytest.fixture
async def workers(database_url: str, tmp_path: Path, session_factory: SessionFactory) -> AsyncIterator[WorkerProcesses]:
    """Worker processes on the test database; killed before ``session_factory`` cleans up."""
    processes = WorkerProcesses(database_url, tmp_path)
    yield processes
    await processes.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_three_worker_processes_drain_a_backlog_exactly_once(
    workers: WorkerProcesses, session_factory: SessionFactory
) -> None:
    total = 5000
    for _ in range(3):
        await workers.start()
    for index in range(3):
        await workers.wait_started(index)
    t0 = time.monotonic()
    async with session_factory() as session, session.begin():
        await service.enqueue_many(session, "test.record", [{"n": n} for n in range(total)])

    async def drained() -> bool:
        succeeded: int = await scalar(session_factory, "SELECT count(*) FROM jobs WHERE status = 'succeeded'")
        return succeeded == total

    await wait_until(drained, 60, f"{total} jobs to succeed", interval=0.1)
    took = time.monotonic() - t0
    for process in workers.processes:
        process.send_signal(signal.SIGTERM)
    exit_codes = [await asyncio.wait_for(p.wait(), 15) for p in workers.processes]
    print(f"\n3 mx worker processes ran {total} jobs in {took:.2f}s ({total / took:.0f} jobs/s)")

    assert exit_codes == [0, 0, 0], "workers stop cleanly on SIGTERM"
    recorded = await runs(session_factory)
    per_job: dict[str, int] = {}
    for job_id, _, _ in recorded:
        per_job[job_id] = per_job.get(job_id, 0) + 1
    assert len(per_job) == total, "every job ran"
    assert set(per_job.values()) == {1}, "no job ran twice"
    # Not only the committed effects: no job was even claimed twice.
    assert await scalar(session_factory, "SELECT count(*) FROM job_attempts") == total
    assert await scalar(session_factory, "SELECT max(attempts) FROM jobs") == 1
    per_worker: dict[str, int] = {}
    for _, worker_id, _ in recorded:
        per_worker[worker_id] = per_worker.get(worker_id, 0) + 1
    pids = {str(p.pid) for p in workers.processes}
    assert {worker_id.split(":")[-2] for worker_id in per_worker} == pids, f"all 3 workers took part: {per_worker}"


@pytest.mark.slow
async def test_sigkilled_workers_job_runs_again_after_its_lease(
    workers: WorkerProcesses, session_factory: SessionFactory, tmp_path: Path
) -> None:
    lease = 2.0
    started_path = tmp_path / "started"
    job_id = await enqueue_committed(
        session_factory,
        "test.sleepy",
        {"started_path": str(started_path), "sleep_on_attempts": [1], "sleep": 600},
    )
    env = {"MX_JOB_LEASE_SECONDS": str(lease), "MX_JOB_POLL_SECONDS": "0.2"}
    first = await workers.start(**env)

    async def has_started(count: int) -> bool:
        return len(await file_lines(started_path)) >= count

    await wait_until(lambda: has_started(1), 30, "the first worker to start the job", interval=0.05)
    first.send_signal(signal.SIGKILL)
    await asyncio.wait_for(first.wait(), 10)
    second = await workers.start(**env)

    async def succeeded() -> bool:
        job, _ = await load(session_factory, job_id)
        return job.status == "succeeded"

    await wait_until(succeeded, 30, "the job to be run again and succeed", interval=0.1)
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 15) == 0

    assert await file_lines(started_path) == [f"1 {first.pid}", f"2 {second.pid}"]
    job, attempts = await load(session_factory, job_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, "lease_expired"), (2, "succeeded")]
    assert f":{first.pid}:" in attempts[0].worker_id and f":{second.pid}:" in attempts[1].worker_id
    assert attempts[1].started_at - attempts[0].started_at >= timedelta(seconds=lease)
    assert [(run[1], run[2]) for run in await runs(session_factory)] == [(attempts[1].worker_id, 2)]


async def test_sigterm_ends_a_worker_even_with_a_thread_left_running(workers: WorkerProcesses) -> None:
    """A thread that is not a daemon (such as a connection thread left open) would keep the
    process alive after its work stopped; SIGTERM must still end it, with exit code 0."""
    process = await workers.start(MX_JOB_MODULES="tests.jobs.handlers_for_tests,tests.jobs.stray_thread_for_tests")
    await workers.wait_started(0)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 20) == 0
    log = workers.logs[0].read_text()
    assert "threads still running at exit" in log and "stray-for-tests" in log, log

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.db.base import utcnow
from message_exchange.jobs import service
from message_exchange.jobs.models import Job, JobAttempt
from tests.jobs.handlers_for_tests import RUNS_TABLE

SessionFactory = async_sessionmaker[AsyncSession]


async def enqueue_committed(sf: SessionFactory, kind: str, payload: dict[str, Any] | None = None, **kw: Any) -> str:
    async with sf() as session, session.begin():
        return await service.enqueue(session, kind, payload or {}, **kw)


async def load(sf: SessionFactory, job_id: str) -> tuple[Job, list[JobAttempt]]:
    async with sf() as session:
        job = await service.get_job(session, job_id)
        attempts = list(await service.list_attempts(session, job_id))
    assert job is not None, f"job {job_id} not found"
    return job, attempts


async def runs(sf: SessionFactory) -> list[tuple[str, str, int]]:
    """(job id, worker id, attempt) of every committed handler run."""
    async with sf() as session:
        result = await session.execute(
            text(f"SELECT job_id, worker_id, attempt FROM {RUNS_TABLE} ORDER BY job_id, attempt")
        )
        return [(row[0], row[1], row[2]) for row in result.all()]


async def make_due(sf: SessionFactory, job_id: str) -> None:
    """Travel to a pending job's ``run_at``: make it due now."""
    async with sf() as session, session.begin():
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow() - timedelta(milliseconds=1)))


async def file_lines(path: Path) -> list[str]:
    if not await asyncio.to_thread(path.exists):
        return []
    return (await asyncio.to_thread(path.read_text)).splitlines()


async def scalar(sf: SessionFactory, sql: str, **params: Any) -> Any:
    async with sf() as session:
        return (await session.execute(text(sql), params)).scalar()


async def wait_until(check: Callable[[], Awaitable[bool]], within: float, what: str, interval: float = 0.02) -> float:
    """Poll ``check`` until true; seconds it took. Fails the test after ``within`` seconds."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - started

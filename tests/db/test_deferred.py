"""Deferred rows: written with the transaction (at flush or commit), parents first, never after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.db.base import utcnow
from message_exchange.db.deferred import defer_insert, deferred_row
from message_exchange.db.engine import create_engine, create_session_factory
from message_exchange.jobs import service as jobs
from message_exchange.jobs.models import Job, JobAttempt

JOBS = cast(Table, Job.__table__)
ATTEMPTS = cast(Table, JobAttempt.__table__)


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


def _job(job_id: str) -> dict[str, object]:
    now = utcnow()
    return {
        "id": job_id, "kind": "test.deferred", "payload": {"n": 1}, "queue": None, "status": "pending",
        "attempts": 0, "max_attempts": None, "run_at": now, "lease_expires_at": None, "locked_by": None,
        "last_error": None, "created_at": now, "updated_at": now, "finished_at": None,
    }  # fmt: skip


async def _job_ids(factory: async_sessionmaker[AsyncSession]) -> list[str]:
    async with factory() as session:
        return sorted((await session.execute(select(Job.id))).scalars())


async def test_rows_are_written_at_commit_even_with_nothing_else_to_flush(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    async with factory() as session, session.begin():
        defer_insert(session, JOBS, _job("JB1"))
        defer_insert(session, JOBS, _job("JB2"))
        assert await _count(session) == 0  # nothing sent yet
    assert await _job_ids(factory) == ["JB1", "JB2"]


async def test_a_flush_of_other_changes_writes_them_too(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as session, session.begin():
        defer_insert(session, JOBS, _job("JB1"))
        session.add(Job(**_job("JB2")))
        await session.flush()
        assert await _count(session) == 2
    assert await _job_ids(factory) == ["JB1", "JB2"]


async def test_a_rollback_forgets_them_and_the_session_starts_clean(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    async with factory() as session:
        async with session.begin():
            defer_insert(session, JOBS, _job("JB1"))
            await session.rollback()
        with pytest.raises(ZeroDivisionError):
            async with session.begin():
                defer_insert(session, JOBS, _job("JB2"))
                raise ZeroDivisionError
        async with session.begin():
            defer_insert(session, JOBS, _job("JB3"))
    assert await _job_ids(factory) == ["JB3"]


async def test_parents_are_inserted_before_the_rows_that_refer_to_them(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    attempt = {"job_id": "JB1", "attempt": 1, "worker_id": "w", "started_at": now, "outcome": "running"}
    async with factory() as session, session.begin():
        defer_insert(session, ATTEMPTS, attempt)  # refers to the job deferred after it
        defer_insert(session, JOBS, _job("JB1"))
    async with factory() as session:
        assert [a.job_id for a in await jobs.list_attempts(session, "JB1")] == ["JB1"]


async def test_refused_inside_a_savepoint(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as session, session.begin():
        async with session.begin_nested():
            with pytest.raises(RuntimeError, match="savepoint"):
                defer_insert(session, JOBS, _job("JB1"))
        defer_insert(session, JOBS, _job("JB2"))
    assert await _job_ids(factory) == ["JB2"]


async def test_rows_deferred_before_a_savepoint_survive_its_rollback(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    async with factory() as session, session.begin():
        defer_insert(session, JOBS, _job("JB1"))
        savepoint = await session.begin_nested()
        session.add(Job(**_job("JB2")))
        await session.flush()  # inside the savepoint: the deferred row waits for the outer transaction
        await savepoint.rollback()
    assert await _job_ids(factory) == ["JB1"]


async def test_a_keyed_row_can_change_until_it_is_written(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as session, session.begin():
        row = _job("JB1")
        defer_insert(session, JOBS, row, key="open")
        found = deferred_row(session, "open")
        assert found is row
        found["payload"] = {"n": 2}  # what will be inserted
        session.add(Job(**_job("JB2")))
        await session.flush()  # written with the ORM's changes: no longer to be found
        assert deferred_row(session, "open") is None
        defer_insert(session, JOBS, _job("JB3"), key="open")
        assert deferred_row(session, "open") is not None
    async with factory() as session:
        assert deferred_row(session, "open") is None  # forgotten at the end of the transaction
        assert (await session.get(Job, "JB1")).payload == {"n": 2}  # type: ignore[union-attr]
    assert await _job_ids(factory) == ["JB1", "JB2", "JB3"]


async def _count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Job))).scalar_one())


async def test_values_arrive_as_their_column_types_make_them(factory: async_sessionmaker[AsyncSession]) -> None:
    """On PostgreSQL the rows go by COPY: JSON, times and server defaults as an INSERT does."""
    row = _job("JB1") | {"payload": {"sids": ["SM1", "SM2"], "text": "héllo ✓", "n": 2.5, "none": None}}
    async with factory() as session, session.begin():
        defer_insert(session, JOBS, row)
    async with factory() as session:
        job = await session.get(Job, "JB1")
    assert job is not None
    assert job.payload == row["payload"]
    assert (job.run_at, job.created_at) == (row["run_at"], row["created_at"])
    assert job.run_at.tzinfo is not None
    assert job.items == 1  # the server default: no value was given


async def test_a_violated_constraint_raises_integrity_error_and_writes_nothing(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    orphan = {"job_id": "JB-none", "attempt": 1, "worker_id": "w", "started_at": now, "outcome": "running"}
    with pytest.raises(IntegrityError):
        async with factory() as session, session.begin():
            defer_insert(session, JOBS, _job("JB1"))
            defer_insert(session, ATTEMPTS, orphan)  # no such job
    assert await _job_ids(factory) == []

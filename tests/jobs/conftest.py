from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.db.engine import create_engine, create_session_factory
from tests.jobs.handlers_for_tests import CREATE_RUNS_TABLE, ENTERED, GATES, RUNS_TABLE


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test database, with an empty ``job_runs_for_tests`` table for this test only.

    The table is dropped afterwards: the PostgreSQL test database is shared by the session,
    and other tests compare its schema with the models.
    """
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE IF EXISTS {RUNS_TABLE}"))
        await conn.execute(text(CREATE_RUNS_TABLE))
    GATES.clear()
    ENTERED.clear()
    try:
        yield create_session_factory(engine)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {RUNS_TABLE}"))
        await engine.dispose()

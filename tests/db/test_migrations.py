"""The migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from message_exchange.db.engine import create_engine
from message_exchange.db.registry import metadata
from tests.support.plans import generic_plan


@asynccontextmanager
async def _connected(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection on an engine of its own, disposed afterwards."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_models(database_url: str) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with _connected(database_url) as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


async def test_sqlite_runs_in_wal_mode(database_url: str, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("WAL is SQLite's journal mode")
    async with _connected(database_url) as connection:
        mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
        foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
    assert mode == "wal"
    assert foreign_keys == 1


def test_no_index_leads_with_a_column_of_a_composite_primary_key() -> None:
    """Such an index can serve a lookup by primary key through that one column: PostgreSQL may
    plan the lookup on it while the table is small and keep the plan (see the next test)."""
    offending = [
        (table.name, index.name)
        for table in metadata.sorted_tables
        if len(table.primary_key.columns) > 1
        for index in table.indexes
        if next(iter(index.columns)).name in table.primary_key.columns
    ]
    assert offending == []


async def test_part_update_prepared_on_an_empty_table_uses_the_primary_key(database_url: str, backend: str) -> None:
    # The generic plan of a statement prepared before the first ANALYZE is kept for the
    # connection's life; planned through a ``carrier``-led index it scanned all of a carrier's
    # parts for every receipt (bench/smpp, migration 0018).
    if backend != "postgres":
        pytest.skip("plan caching is PostgreSQL's")
    update = (
        "UPDATE smpp_parts SET receipt_state = 'DELIVRD' WHERE message_sid = $1 AND carrier = $2 AND part_index = $3"
    )
    async with _connected(database_url) as connection:
        plan = await generic_plan(connection, update, ["SM1", "smsc", 0])
    assert "pk_smpp_parts" in plan, plan

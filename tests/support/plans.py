"""What PostgreSQL plans for the statements the code runs, as a generic plan (the plan a
prepared statement keeps once it stops being re-planned for its parameters)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


async def generic_plans(session: AsyncSession, prefix: str, run: Callable[[], Awaitable[object]]) -> list[str]:
    """Run ``run`` in ``session``'s transaction, then EXPLAIN (generic plan) each statement it
    executed that starts with ``prefix``, with the parameters it was given; one plan each."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.lstrip().startswith(prefix) and not many:
            captured.append((statement, parameters))

    sync_engine = session.get_bind()
    event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        await run()
    finally:
        event.remove(sync_engine, "before_cursor_execute", capture)
    connection = await session.connection()
    return [await generic_plan(connection, statement, parameters) for statement, parameters in captured]


async def generic_plan(connection: AsyncConnection, statement: str, parameters: Sequence[object]) -> str:
    """EXPLAIN of ``statement`` (``$n`` placeholders) as a generic plan, for ``parameters``, in
    ``connection``'s transaction."""
    await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    await connection.exec_driver_sql(f"PREPARE generic_plan AS {statement}")
    # EXECUTE is a utility statement: it takes no bind parameters, only literals.
    arguments = ", ".join(_literal(value) for value in parameters)
    rows = await connection.exec_driver_sql(f"EXPLAIN EXECUTE generic_plan({arguments})")
    plan = "\n".join(row[0] for row in rows)
    await connection.exec_driver_sql("DEALLOCATE generic_plan")
    return plan


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"

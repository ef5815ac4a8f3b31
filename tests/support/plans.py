"""What PostgreSQL plans for the statements the code runs, as a generic plan (the plan a
prepared statement keeps once it stops being re-planned for its parameters)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


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
    await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    plans = []
    for n, (statement, parameters) in enumerate(captured):
        await connection.exec_driver_sql(f"PREPARE generic_{n} AS {statement}")
        # EXECUTE is a utility statement: it takes no bind parameters, only literals.
        arguments = ", ".join(_literal(value) for value in parameters)
        rows = await connection.exec_driver_sql(f"EXPLAIN EXECUTE generic_{n}({arguments})")
        plans.append("\n".join(row[0] for row in rows))
        await connection.exec_driver_sql(f"DEALLOCATE generic_{n}")
    return plans


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"

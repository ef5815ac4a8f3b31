"""Rows added to a transaction without the ORM: inserted together at its next flush or commit.

A status change writes a history row, and with a callback a delivery and its job. Through the
ORM each is an object with its own state, cascade walk and bookkeeping at flush — on a batch
of hundreds of changes that upkeep was a fifth of a worker's CPU. :func:`defer_insert` keeps
plain column values instead; the session writes them as one multi-row insert per table:

- after every flush of the outermost transaction that had ORM changes to write (a status
  change always has: its message's row), so rows referring to an object that flush
  inserted find it, and the queries after it see them (a flush with no ORM change to
  write does nothing, so it does not write them either);
- at commit, whether or not anything else was flushed;
- parent tables first (the metadata's dependency order), so a delivery's job exists before
  the delivery that refers to it;
- on PostgreSQL by ``COPY`` (asyncpg's binary ``copy_records_to_table``), values processed
  by their column types as an INSERT would: cheaper for PostgreSQL than an INSERT executed
  per row, and past SQLAlchemy's per-row parameter handling (bench/smpp writes nine such rows
  a message; with two workers it went from 408–418 to 466–494 msg/s). On SQLite, one
  multi-row INSERT.

A rollback forgets them. They are refused inside a savepoint: a savepoint rolled back could
not take them back out of the buffer, and no savepoint of ours writes such rows.

A row deferred with a ``key`` can be found again with :func:`deferred_row` until it is
written, and changed meanwhile: the callbacks of one transaction share one job that way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Connection, Dialect, Insert, Table, event, insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction
from sqlalchemy.util import await_

from message_exchange.db.base import Base

_PENDING = "mx_deferred_rows"
_KEYED = "mx_deferred_keyed"


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def defer_insert(session: AsyncSession | Session, table: Table, row: dict[str, Any], *, key: str | None = None) -> None:
    """Insert ``row`` (column values of ``table``) with the transaction's next flush or commit.

    With ``key``, :func:`deferred_row` returns ``row`` until then.
    """
    sync = _sync(session)
    if sync.in_nested_transaction():
        raise RuntimeError("rows cannot be deferred inside a savepoint")
    pending: dict[Table, list[dict[str, Any]]] = sync.info.setdefault(_PENDING, {})
    pending.setdefault(table, []).append(row)
    if key is not None:
        sync.info.setdefault(_KEYED, {})[key] = row


def deferred_row(session: AsyncSession | Session, key: str) -> dict[str, Any] | None:
    """The row last deferred with ``key`` in this transaction, while it is not written yet
    (changes to it are what will be inserted); None once written or forgotten."""
    keyed: dict[str, dict[str, Any]] | None = _sync(session).info.get(_KEYED)
    return keyed.get(key) if keyed else None


def _write(session: Session) -> None:
    session.info.pop(_KEYED, None)
    pending: dict[Table, list[dict[str, Any]]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    order = _dependency_order()
    if any(table not in order for table in pending):  # a model imported after the first write
        _dependency_order.cache_clear()
        order = _dependency_order()
    copy = connection.dialect.name == "postgresql"
    for table in sorted(pending, key=lambda t: order.get(t, len(order))):
        if copy:
            _copy(connection, table, pending[table])
        else:
            connection.execute(_insert(table), pending[table])


def _copy(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` into ``table`` by COPY (every row has the first row's keys, as an executemany
    INSERT needs too); a constraint violated raises IntegrityError as the INSERT would."""
    columns = tuple(rows[0])
    processors = _processors(table, columns, connection.dialect)
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"deferred rows of {table.name} differ in their columns")
    records = [
        tuple(
            value if process is None else process(value)
            for value, process in zip((row[name] for name in columns), processors, strict=True)
        )
        for row in rows
    ]
    driver: Any = connection.connection.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's adapter sends BEGIN with the transaction's first statement; a COPY first
        # would go outside it, committed at once whatever became of the transaction.
        connection.exec_driver_sql("SELECT 1")
    try:
        await_(driver.copy_records_to_table(table.name, records=records, columns=columns))
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
    except asyncpg.PostgresError as exc:
        raise DBAPIError(f"COPY {table.name}", None, exc) from exc


@cache
def _processors(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[Callable[[Any], Any] | None, ...]:
    # What SQLAlchemy would do to each value on its way to the driver (JSON to text, ...).
    return tuple(table.c[name].type._cached_bind_processor(dialect) for name in columns)


@cache
def _insert(table: Table) -> Insert:
    # One statement object per table: its cache key is computed once, not at every write.
    return insert(table)


@cache
def _dependency_order() -> dict[Table, int]:
    # Every model is imported before the first write; computing the sort is not free.
    return {table: n for n, table in enumerate(Base.metadata.sorted_tables)}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    if not session.in_nested_transaction():
        _write(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_PENDING) and not session.in_nested_transaction():
        session.flush()  # the ORM's rows first: deferred rows may refer to them
        _write(session)  # (the flush wrote them unless there was nothing else to flush)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended: committed (written already), rolled back or closed.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_KEYED, None)

"""What every `mx` subcommand shares: settings + logging, schema, one committed transaction."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import MXError
from message_exchange.core.logging import configure_logging, get_logger
from message_exchange.db import migrate
from message_exchange.db.engine import create_engine, create_session_factory

T = TypeVar("T")
log = get_logger(__name__)


def settings_from_env() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def prepare_schema(settings: Settings) -> None:
    if settings.migrate_on_start:
        migrate.upgrade(settings.resolved_database_url)


def in_transaction(settings: Settings, work: Callable[[AsyncSession, SecretBox], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; an MXError becomes a clean exit 1."""

    async def run() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with create_session_factory(engine)() as session, session.begin():
                return await work(session, SecretBox(settings.fernet_key))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except MXError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def exit_past_stray_threads(code: int, grace_seconds: float) -> None:
    """End the process now, with ``code``, if threads that would keep it alive (not daemons)
    are still running ``grace_seconds`` after its work ended; return if there are none.

    Python waits for such threads at exit. A database connection the shutdown could not close
    (aiosqlite runs each in a thread of its own) would keep a stopped worker alive for ever,
    and SIGTERM must end it.
    """
    deadline = time.monotonic() + grace_seconds
    for thread in _stray_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    stray = _stray_threads()
    if not stray:
        return
    log.warning("threads still running at exit; exiting without them", threads=[t.name for t in stray], code=code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _stray_threads() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]

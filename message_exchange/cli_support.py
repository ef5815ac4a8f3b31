"""What every `mx` subcommand shares: settings + logging, schema, one committed transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import MXError
from message_exchange.core.logging import configure_logging
from message_exchange.db import migrate
from message_exchange.db.engine import create_engine, create_session_factory

T = TypeVar("T")


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

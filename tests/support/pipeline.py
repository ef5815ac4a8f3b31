"""Settings and fakes for tests that run the delivery pipeline for real (worker + HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.config import Settings
from message_exchange.jobs.models import Job
from message_exchange.jobs.worker import Worker
from message_exchange.webhooks.client import close_clients
from tests.fakes.callback_sink import CallbackSink


def pipeline_settings(database_url: str, tmp_path: Path, secret_key: str, **overrides: Any) -> Settings:
    """Loopback webhook targets allowed (the sink), fast retries, three HTTP attempts per delivery."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": database_url,
        "secret_key": secret_key,
        "run_workers": False,
        "log_json": True,
        "webhook_allow_private": True,
        "webhook_timeout_seconds": 2.0,
        "webhook_max_attempts": 3,
        "job_backoff_base_seconds": 0.01,
        "job_backoff_max_seconds": 0.05,
        "job_poll_seconds": 0.02,
        "sandbox_delivery_delay_seconds": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def sink() -> AsyncIterator[CallbackSink]:
    async with CallbackSink() as server:
        yield server
        await close_clients()  # before the sink stops: it then has no keep-alive connection to wait for


async def drain(app: FastAPI, timeout: float = 20.0) -> None:
    """Run jobs until none is left unfinished (the sandbox's receipts and the callbacks included)."""
    worker = Worker(app.state.settings, app.state.session_factory)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await worker.run_pending() == 0:
            async with app.state.session_factory() as session:
                unfinished = (
                    await session.execute(
                        select(func.count()).select_from(Job).where(Job.status.in_(("pending", "running")))
                    )
                ).scalar_one()
            if unfinished == 0:
                return
            await asyncio.sleep(0.02)
    raise AssertionError("jobs still unfinished")

"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from message_exchange.core.middleware import RequestContextMiddleware
from message_exchange.core.system_routes import router
from tests.core.conftest import client_for


@pytest.fixture
async def system_client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(router)
    app.add_middleware(RequestContextMiddleware)
    async with client_for(app) as http:
        yield http


async def test_healthz_ok_with_a_reachable_database(system_client: httpx.AsyncClient) -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    app = system_client._transport.app  # type: ignore[attr-defined]
    assert isinstance(app, FastAPI)
    app.state.engine = engine
    try:
        response = await system_client.get("/healthz")
    finally:
        await engine.dispose()
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


class _UnreachableEngine:
    def connect(self) -> None:
        raise ConnectionRefusedError("database is down")


async def test_healthz_unavailable_without_a_database(system_client: httpx.AsyncClient) -> None:
    app = system_client._transport.app  # type: ignore[attr-defined]
    app.state.engine = _UnreachableEngine()
    response = await system_client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ConnectionRefusedError"}


async def test_metrics_are_prometheus_text_with_request_counts(system_client: httpx.AsyncClient) -> None:
    await system_client.get("/metrics")
    response = await system_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE mx_http_requests_total counter" in text
    assert 'mx_http_requests_total{method="GET",route="/metrics",status="200"}' in text
    assert "# TYPE mx_http_request_duration_seconds histogram" in text

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from message_exchange.carriers import registry as carrier_registry
from message_exchange.carriers import service
from message_exchange.carriers.base import CarrierRuntime
from message_exchange.carriers.registry import CarrierRegistry
from message_exchange.config import Settings
from tests.carriers import line_carrier
from tests.carriers.line_carrier import LinePeer
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.smsc import FakeSmsc, node_available
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import pipeline_settings

SENDER = "+19876543210"
StartSmsc = Callable[..., Awaitable[FakeSmsc]]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY, carrier_reload_seconds=0.1)


@pytest.fixture
def line_type() -> Iterator[str]:
    """Connections of type ``line`` run tests/carriers/line_carrier.py's real TCP connector."""
    carrier_registry.register_carrier_type(line_carrier.TYPE, line_carrier.build_line_carrier)
    line_carrier.STARTED.clear()
    yield line_carrier.TYPE
    carrier_registry.unregister_carrier_type(line_carrier.TYPE)


@pytest.fixture
def runtime(app: FastAPI) -> CarrierRuntime:
    return CarrierRuntime(app.state.settings, app.state.session_factory, app.state.secret_box, "test-node")


@pytest.fixture
async def carriers(runtime: CarrierRuntime, line_type: str) -> AsyncIterator[CarrierRegistry]:
    """This process's carrier registry, following the table every 0.1 s."""
    registry = CarrierRegistry(runtime)
    await registry.start()
    yield registry
    await registry.stop()


@pytest.fixture
async def smsc() -> AsyncIterator[StartSmsc]:
    """Start scripted SMSCs (npm ``smpp``; any number, each on its own port); all stop after the test."""
    if not node_available():
        pytest.fail("node and node_modules/smpp are needed (scripts/bootstrap runs npm ci)")
    started: list[FakeSmsc] = []

    async def start(scenario: dict[str, Any] | None = None) -> FakeSmsc:
        fake = await FakeSmsc(scenario).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        await fake.stop()


@pytest.fixture
async def sender(root: Creds, own_number: OwnNumber) -> Creds:
    """The root account, owning ``SENDER``."""
    await own_number(root, SENDER)
    return root


@pytest.fixture
async def peers() -> AsyncIterator[Callable[..., Awaitable[LinePeer]]]:
    started: list[LinePeer] = []

    async def start(**options: Any) -> LinePeer:
        peer = await LinePeer(**options).start()
        started.append(peer)
        return peer

    yield start
    for peer in started:
        await peer.stop()


AddCarrier = Callable[..., Awaitable[None]]


@pytest.fixture
def add_carrier(app: FastAPI) -> AddCarrier:
    """Store a connection as the admin API would (type ``line`` unless told)."""

    async def add(name: str, port: int, **values: Any) -> None:
        fields = {
            "name": name,
            "type": "line",
            "host": "127.0.0.1",
            "port": port,
            "system_id": "esme",
            "password": "secret",
            "reconnect_min_seconds": 0.05,
            "reconnect_max_seconds": 0.2,
            "response_timeout_seconds": 2.0,
            **values,
        }
        async with app.state.session_factory() as session, session.begin():
            await service.create_connection(session, app.state.secret_box, fields)

    return add


AddRoute = Callable[..., Awaitable[None]]


@pytest.fixture
def add_route(app: FastAPI) -> AddRoute:
    async def add(carrier: str, prefix: str = "", channel: str = "*", priority: int = 0) -> None:
        async with app.state.session_factory() as session, session.begin():
            await service.add_route(session, carrier=carrier, prefix=prefix, channel=channel, priority=priority)

    return add

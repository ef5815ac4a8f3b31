"""Fixtures for the SMPP connector: the scripted SMSC, and carriers built on the app's database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from message_exchange.carriers.base import CarrierRuntime
from message_exchange.carriers.registry import CarrierRegistry
from message_exchange.carriers.smpp.carrier import SmppCarrier
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.messages.models import Message
from tests.carriers.conftest import SENDER, AddCarrier, AddRoute
from tests.carriers.helpers import eventually
from tests.fakes.smsc import FakeSmsc, node_available
from tests.support.accounts import Creds
from tests.support.pipeline import drain

StartCarrier = Callable[..., Awaitable[SmppCarrier]]


@pytest.fixture(autouse=True)
def _needs_node() -> None:
    if not node_available():
        pytest.fail("node and node_modules/smpp are needed (scripts/bootstrap runs npm ci)")


@pytest.fixture
async def start_carrier(runtime: CarrierRuntime) -> AsyncIterator[StartCarrier]:
    """Build and start SMPP carriers straight from an SmppConfig (no stored connection)."""
    started: list[SmppCarrier] = []

    async def start(config: SmppConfig, *, wait_up: bool = True, node: str | None = None) -> SmppCarrier:
        own = (
            runtime
            if node is None
            else CarrierRuntime(runtime.settings, runtime.session_factory, runtime.secret_box, node)
        )
        carrier = SmppCarrier(config, own)
        started.append(carrier)
        await carrier.start()
        if wait_up:
            await eventually(carrier.is_up, timeout=10, what=f"{config.name} bound")
        return carrier

    yield start
    for carrier in started:
        await carrier.stop()


async def send(client: httpx.AsyncClient, account: Creds, to: str, body: str = "Hello", **extra: str) -> str:
    data = {"from": f"sms:{SENDER}", "to": f"sms:{to}", "body": body, **extra}
    response = await client.post(f"/api/2012-04-24/Accounts/{account.sid}/Messages", data=data, auth=account.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["sid"])


async def message_of(app: FastAPI, sid: str) -> Message:
    async with app.state.session_factory() as session:
        message: Message | None = await session.get(Message, sid)
        assert message is not None
        return message


async def wait_status(app: FastAPI, sid: str, *statuses: str, timeout: float = 10.0) -> Message:
    """Run jobs and wait until message ``sid`` reaches one of ``statuses``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await drain(app)
        message = await message_of(app, sid)
        if message.status in statuses:
            return message
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{sid} is {message.status}, not {statuses}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def smpp_route(
    carriers: CarrierRegistry, add_carrier: AddCarrier, add_route: AddRoute
) -> Callable[..., Awaitable[None]]:
    """Store an SMPP connection to ``fake`` routed for every destination, and wait for its bind."""

    async def add(fake: FakeSmsc, name: str = "smsc", prefix: str = "", **values: Any) -> None:
        await add_carrier(name, fake.port, type="smpp", enquire_link_seconds=5.0, **values)
        await add_route(name, prefix)
        await carriers.reload()
        await eventually(lambda: (c := carriers.get(name)) is not None and c.is_up(), timeout=10, what=f"{name} bound")

    return add

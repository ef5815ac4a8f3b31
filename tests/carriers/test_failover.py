"""End to end against two scripted SMSCs (npm ``smpp``): failover and routing by prefix.

API → dispatch → routing → the SMPP connector (carriers/smpp) → SMSC → delivery receipt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from message_exchange.carriers.registry import CarrierRegistry
from message_exchange.messages.models import Message
from tests.carriers.conftest import SENDER, AddCarrier, AddRoute, StartSmsc
from tests.carriers.helpers import eventually
from tests.support.accounts import Creds
from tests.support.pipeline import drain

ESME_RSYSERR = 0x08  # a transient refusal: the next route is tried


@pytest.fixture
def smpp_carrier(add_carrier: AddCarrier) -> Callable[..., Awaitable[None]]:
    async def add(name: str, port: int) -> None:
        await add_carrier(
            name,
            port,
            type="smpp",
            system_id="esme",
            password="secret",
            enquire_link_seconds=5.0,
            response_timeout_seconds=3.0,
            reconnect_min_seconds=0.1,
            reconnect_max_seconds=0.5,
            bind_lease_seconds=3.0,
        )

    return add


async def _send(client: httpx.AsyncClient, account: Creds, to: str) -> str:
    data = {"from": f"sms:{SENDER}", "to": f"sms:{to}", "body": f"Hello {to}"}
    response = await client.post(f"/api/2012-04-24/Accounts/{account.sid}/Messages", data=data, auth=account.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["sid"])


async def _delivered(app: FastAPI, sids: list[str], timeout: float = 15.0) -> dict[str, Message]:
    """Run jobs until every message is delivered (the receipt comes back asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await drain(app)
        async with app.state.session_factory() as session:
            messages = {sid: await session.get(Message, sid) for sid in sids}
        if all(m is not None and m.status == "delivered" for m in messages.values()):
            return {sid: m for sid, m in messages.items() if m is not None}
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError({sid: (m.status, m.error_code) for sid, m in messages.items() if m is not None})
        await asyncio.sleep(0.05)


def _up(carriers: CarrierRegistry, name: str) -> bool:
    carrier = carriers.get(name)
    return carrier is not None and carrier.is_up()


@pytest.mark.parametrize("first_smsc", ["refuses binds", "down", "rejects transiently"])
async def test_messages_fail_over_to_the_second_smsc(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    smsc: StartSmsc,
    smpp_carrier: Callable[..., Awaitable[None]],
    add_route: AddRoute,
    first_smsc: str,
) -> None:
    destinations = [f"+1555123{n:04d}" for n in range(4)]
    scenario: dict[str, Any] = {}
    if first_smsc == "refuses binds":
        scenario = {"refuse_bind": True}
    elif first_smsc == "rejects transiently":
        scenario = {"reject": {to.lstrip("+"): ESME_RSYSERR for to in destinations}}
    first = await smsc(scenario)
    second = await smsc({"receipts": {"mode": "text", "delay_ms": 20}})
    if first_smsc == "down":
        await first.stop()  # nothing listens on its port any more
    await smpp_carrier("primary", first.port)
    await smpp_carrier("backup", second.port)
    await add_route("primary", "1", priority=0)
    await add_route("backup", "1", priority=1)
    await carriers.reload()
    await eventually(lambda: _up(carriers, "backup"), timeout=10, what="backup bound")
    if first_smsc == "rejects transiently":
        await eventually(lambda: _up(carriers, "primary"), timeout=10, what="primary bound")
    else:
        assert not _up(carriers, "primary")

    sids = [await _send(client, sender, to) for to in destinations]
    messages = await _delivered(app, sids)

    assert {m.carrier for m in messages.values()} == {"backup"}
    accepted = second.accepted()
    assert sorted(s["destination_addr"] for s in accepted) == sorted(to.lstrip("+") for to in destinations)
    assert {m.carrier_message_id for m in messages.values()} == {s["message_id"] for s in accepted}
    if first_smsc == "refuses binds":
        assert first.of("bind") and not first.of("submit_sm")
    if first_smsc == "rejects transiently":
        assert len(first.of("submit_sm")) >= len(destinations) and first.accepted() == []


async def test_routing_by_prefix_picks_the_right_smsc(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    smsc: StartSmsc,
    smpp_carrier: Callable[..., Awaitable[None]],
    add_route: AddRoute,
) -> None:
    uk = await smsc({"receipts": {"mode": "tlv"}})
    london = await smsc({"receipts": {"mode": "text"}})
    rest = await smsc({"receipts": {"mode": "text"}})
    await smpp_carrier("uk", uk.port)
    await smpp_carrier("london", london.port)
    await smpp_carrier("rest", rest.port)
    await add_route("uk", "+44")
    await add_route("london", "+4420", channel="sms")
    await add_route("rest", "")
    await carriers.reload()
    await eventually(lambda: all(_up(carriers, n) for n in ("uk", "london", "rest")), timeout=10, what="all bound")

    expected = {"+447700900123": "uk", "+442079460958": "london", "+14155550100": "rest", "+33612345678": "rest"}
    sids = {await _send(client, sender, to): to for to in expected}
    messages = await _delivered(app, list(sids))

    assert {sids[sid]: m.carrier for sid, m in messages.items()} == expected
    seen = {
        name: sorted(s["destination_addr"] for s in fake.accepted())
        for name, fake in (("uk", uk), ("london", london), ("rest", rest))
    }
    assert seen == {"uk": ["447700900123"], "london": ["442079460958"], "rest": ["14155550100", "33612345678"]}

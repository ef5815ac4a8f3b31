"""Route resolution: longest prefix, then priority, by channel; the sandbox when nothing is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI

from message_exchange.carriers import service
from tests.carriers.conftest import AddCarrier, AddRoute

Resolve = Callable[[str, str], Awaitable[list[str]]]


@pytest.fixture(params=["query", "snapshot"])
def routes(request: pytest.FixtureRequest, app: FastAPI) -> Resolve:
    """Dispatch resolves from the registry's snapshot; without a registry it queries: both must agree."""

    async def resolve(channel: str, to: str) -> list[str]:
        async with app.state.session_factory() as session, session.begin():
            if request.param == "query":
                return await service.routes_for(session, channel, to)
            rules, connections_exist = await service.routing_snapshot(session)
        return service.resolve(rules, connections_exist, channel, to)

    return resolve


async def test_sandbox_is_the_default_route_while_no_carrier_exists(routes: Resolve) -> None:
    assert await routes("sms", "+14155550100") == ["sandbox"]
    assert await routes("mms", "+442079460958") == ["sandbox"]


async def test_longest_prefix_then_priority_then_channel(
    routes: Resolve, add_carrier: AddCarrier, add_route: AddRoute
) -> None:
    for name in ("uk-a", "uk-b", "london", "world", "mms-only"):
        await add_carrier(name, 1, type="smpp")
    await add_route("world", "")
    await add_route("uk-b", "+44", priority=20)
    await add_route("uk-a", "44", priority=10)
    await add_route("london", "4420", channel="sms")
    await add_route("mms-only", "44", channel="mms", priority=0)
    await add_route("sandbox", "1500555", priority=5)
    await add_route("world", "1500555", priority=1)

    # London numbers: the 4-digit prefix first, then the UK routes by priority, then the catch-all.
    assert await routes("sms", "+442079460958") == ["london", "uk-a", "uk-b", "world"]
    # Other UK numbers on sms: the mms-only route does not apply.
    assert await routes("sms", "+447700900123") == ["uk-a", "uk-b", "world"]
    # On mms the sms-only London route does not apply; the mms route has the best priority among "44".
    assert await routes("mms", "+442079460958") == ["mms-only", "uk-a", "uk-b", "world"]
    # A carrier appears once, at its best position; sandbox may be routed to explicitly.
    assert await routes("sms", "+15005550006") == ["world", "sandbox"]
    assert await routes("sms", "+14155550100") == ["world"]
    # An alphanumeric or otherwise non-numeric address only matches the catch-all.
    assert await routes("sms", "MyBrand") == ["world"]


async def test_no_matching_route_when_carriers_exist_is_no_route(
    routes: Resolve, add_carrier: AddCarrier, add_route: AddRoute
) -> None:
    await add_carrier("uk", 1, type="smpp", enabled=False)
    # A configured carrier (even a disabled one) means routing is in charge: no silent sandbox.
    assert await routes("sms", "+14155550100") == []
    await add_route("uk", "44", channel="sms")
    assert await routes("sms", "+442079460958") == ["uk"]
    assert await routes("mms", "+442079460958") == []
    assert await routes("sms", "+14155550100") == []


async def test_same_prefix_and_priority_prefers_the_channel_specific_route(
    routes: Resolve, add_carrier: AddCarrier, add_route: AddRoute
) -> None:
    await add_carrier("any", 1, type="smpp")
    await add_carrier("specific", 1, type="smpp")
    await add_route("any", "1", channel="*", priority=0)
    await add_route("specific", "1", channel="sms", priority=0)
    assert await routes("sms", "+14155550100") == ["specific", "any"]
    assert await routes("mms", "+14155550100") == ["any"]

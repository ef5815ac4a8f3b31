"""The carrier registry follows the carrier_connections table without a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from message_exchange.carriers import registry as carrier_registry
from message_exchange.carriers import service
from message_exchange.carriers.registry import CarrierRegistry
from tests.carriers import line_carrier
from tests.carriers.conftest import AddCarrier
from tests.carriers.helpers import eventually
from tests.carriers.line_carrier import LinePeer

StartPeer = Callable[..., Awaitable[LinePeer]]


async def _update(app: FastAPI, name: str, **changes: Any) -> None:
    async with app.state.session_factory() as session, session.begin():
        row = await service.get_connection(session, name)
        await service.update_connection(session, app.state.secret_box, row, changes)


async def _remove(app: FastAPI, name: str) -> None:
    async with app.state.session_factory() as session, session.begin():
        await service.remove_connection(session, await service.get_connection(session, name))


async def test_start_change_disable_enable_remove(
    app: FastAPI, carriers: CarrierRegistry, peers: StartPeer, add_carrier: AddCarrier
) -> None:
    assert carrier_registry.current() is carriers and carriers.names() == []
    first, second = await peers(), await peers()

    await add_carrier("a", first.port)
    await eventually(lambda: (c := carriers.get("a")) is not None and c.is_up(), what="a bound")
    assert first.binds == 1
    connector = carriers.get("a")
    assert isinstance(connector, line_carrier.LineCarrier) and connector.runtime.node_id == "test-node"

    # A changed setting replaces the connector: the old one is stopped, the new one binds to the new port.
    await _update(app, "a", port=second.port)
    await eventually(lambda: carriers.get("a") is not connector, what="a restarted")
    assert connector.stopped
    await eventually(lambda: second.binds == 1, what="a bound to the second peer")
    assert first.binds == 1

    # An update that changes nothing the connector sees keeps it running.
    restarted = carriers.get("a")
    await _update(app, "a", port=second.port)
    await carriers.reload()
    assert carriers.get("a") is restarted

    await _update(app, "a", enabled=False)
    await eventually(lambda: carriers.get("a") is None, what="a stopped")
    assert isinstance(restarted, line_carrier.LineCarrier) and restarted.stopped

    await _update(app, "a", enabled=True)
    await eventually(lambda: (c := carriers.get("a")) is not None and c.is_up(), what="a back")

    running = carriers.get("a")
    await _remove(app, "a")
    await eventually(lambda: carriers.get("a") is None, what="a removed")
    assert isinstance(running, line_carrier.LineCarrier) and running.stopped


async def test_wrong_password_runs_but_is_not_up_and_stop_stops_all(
    app: FastAPI, carriers: CarrierRegistry, peers: StartPeer, add_carrier: AddCarrier
) -> None:
    peer = await peers(password="right")
    await add_carrier("refused", peer.port, password="wrong")
    await add_carrier("fine", peer.port, password="right")
    await eventually(lambda: (c := carriers.get("fine")) is not None and c.is_up(), what="fine bound")
    refused = carriers.get("refused")
    assert refused is not None and not refused.is_up()
    # Fixing the password through the service reaches the connector without a restart.
    await _update(app, "refused", password="right")
    await eventually(lambda: (c := carriers.get("refused")) is not None and c.is_up(), what="refused fixed")

    started = list(line_carrier.STARTED)
    await carriers.stop()
    assert carrier_registry.current() is None and carriers.names() == []
    assert all(c.stopped for c in started)


async def test_a_connection_of_an_unknown_type_is_not_started(
    app: FastAPI, carriers: CarrierRegistry, add_carrier: AddCarrier, peers: StartPeer
) -> None:
    peer = await peers()
    await add_carrier("later", peer.port)
    await eventually(lambda: carriers.get("later") is not None, what="later started")
    carrier_registry.unregister_carrier_type("line")  # e.g. a node running an older build
    await carriers.reload()
    assert carriers.get("later") is None


async def test_route_changes_reach_the_snapshot_dispatch_resolves_from(
    app: FastAPI, carriers: CarrierRegistry, add_carrier: AddCarrier
) -> None:
    assert carriers.routes_for("sms", "+442079460958") == ["sandbox"]
    await add_carrier("uk", 1, enabled=False)
    await eventually(lambda: carriers.routes_for("sms", "+442079460958") == [], what="no route once a carrier exists")
    async with app.state.session_factory() as session, session.begin():
        await service.add_route(session, carrier="uk", prefix="44")
    await eventually(lambda: carriers.routes_for("sms", "+442079460958") == ["uk"], what="the route applies")

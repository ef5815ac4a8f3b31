"""Sessions: a dropped connection mid-window, a refused bind, unbind, TPS, bind slots across nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from message_exchange.carriers.base import CarrierUnavailable, OutboundMessage
from message_exchange.carriers.repository import PresenceRepository
from message_exchange.carriers.smpp.models import SmppBindLease, SmppPart
from message_exchange.db.base import utcnow
from tests.carriers.conftest import StartSmsc
from tests.carriers.helpers import eventually
from tests.carriers.smpp.conftest import StartCarrier, send, wait_status
from tests.support.accounts import Creds

AddSmpp = Callable[..., Awaitable[None]]


async def test_a_connection_dropped_mid_window_loses_nothing_and_repeats_no_part(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    # The 6th submit_sm kills the connection with the ones after it in flight, unanswered.
    fake = await smsc({"drop_after": 6, "resp_delay_ms": 80, "receipts": {"mode": "none"}})
    await smpp_route(fake, window=8)
    sids = [await send(client, sender, f"+1555123{n:04d}", "w" * 300) for n in range(6)]  # 2 parts each

    for sid in sids:
        await wait_status(app, sid, "sent", timeout=20)
    assert fake.of("drop"), "the connection was not dropped"
    everything = {(f"1555123{n:04d}", p) for n in range(6) for p in (1, 2)}
    answered = [(r["destination_addr"], r["part"]) for r in fake.of("submit_sm_resp", status=0)]
    assert sorted(answered) == sorted(everything)  # no loss, and no part acknowledged twice
    lost = {(r["destination_addr"], r["part"]) for r in fake.of("resp_lost")}
    assert lost, "nothing was in flight when the connection dropped"
    # A part is sent again only if its submit_sm_resp never reached us (lost with the connection).
    first_answer: dict[tuple[str, int], int] = {}
    for r in fake.of("submit_sm_resp", status=0):
        first_answer.setdefault((r["destination_addr"], r["part"]), r["n"])
    for s in fake.of("submit_sm"):
        key = (s["destination_addr"], s["part"])
        assert s["n"] <= first_answer[key], f"{key} was sent again after its response was received"
    assert len(fake.of("bind", ok=True)) >= 2  # it reconnected
    async with app.state.session_factory() as session:
        parts = list((await session.execute(select(SmppPart))).scalars())
    assert len(parts) == 12 and {p.state for p in parts} == {"sent"}


async def test_a_refused_bind_keeps_the_carrier_down_and_retries_with_backoff(
    smsc: StartSmsc, start_carrier: StartCarrier
) -> None:
    fake = await smsc({"refuse_bind": True})
    carrier = await start_carrier(fake.config("refused", response_timeout_seconds=0.5), wait_up=False)

    await fake.wait_for("bind", count=2, timeout=10)
    assert not carrier.is_up()
    with pytest.raises(CarrierUnavailable):
        await carrier.submit(OutboundMessage("SM" + "0" * 32, "AC" + "0" * 32, "sms", "+1555", "+1666", "hi"))
    assert not fake.of("submit_sm")


async def test_stop_unbinds_gracefully(smsc: StartSmsc, start_carrier: StartCarrier) -> None:
    fake = await smsc()
    carrier = await start_carrier(fake.config("leaving", bind_mode="transmitter_receiver"))
    binds = await fake.wait_for("bind", count=2)
    assert {b["kind"] for b in binds} == {"bind_transmitter", "bind_receiver"}

    await carrier.stop()
    await fake.wait_for("unbind", count=2)
    assert not carrier.is_up()


async def test_tps_counts_parts(app: FastAPI, smsc: StartSmsc, start_carrier: StartCarrier) -> None:
    fake = await smsc({"receipts": {"mode": "none"}})
    carrier = await start_carrier(fake.config("paced", tps=20.0))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    body = "p" * 700  # 5 parts
    await asyncio.gather(
        *(
            carrier.submit(OutboundMessage(f"SM{n:032d}", "AC" + "0" * 32, "sms", "+1555", "+1666", body))
            for n in range(8)
        )
    )
    elapsed = time.monotonic() - started
    assert len(fake.accepted()) == 40
    assert elapsed >= (40 - 20) / 20 * 0.9  # one second's burst, then 20 parts a second


async def _publish(app: FastAPI, node: str, carrier: str, *, seconds: float = 60) -> None:
    """What a node's carrier registry publishes: it runs ``carrier`` (bound or not)."""
    now = utcnow()
    async with app.state.session_factory() as session, session.begin():
        await PresenceRepository(session).publish(
            node, {carrier: False}, now=now, until=now + timedelta(seconds=seconds)
        )


async def test_nodes_running_a_carrier_share_its_binds_fairly(
    app: FastAPI, smsc: StartSmsc, start_carrier: StartCarrier
) -> None:
    fake = await smsc()
    config = fake.config("fair", binds=2, bind_lease_seconds=1.5)
    await _publish(app, "node-a", "fair")
    first = await start_carrier(config, node="node-a")
    await eventually(lambda: len(first.leases.held) == 2, timeout=10, what="alone, node-a holds both slots")
    # node-b starts running the carrier: node-a gives one slot back, node-b takes it.
    await _publish(app, "node-b", "fair")
    second = await start_carrier(config, node="node-b", wait_up=False)
    await eventually(lambda: len(second.leases.held) == 1 and second.is_up(), timeout=10, what="node-b binds one")
    assert len(first.leases.held) == 1 and first.leases.held.isdisjoint(second.leases.held)
    async with app.state.session_factory() as session:
        holders = sorted(row.holder for row in (await session.execute(select(SmppBindLease))).scalars())
    assert holders == sorted([first.holder, second.holder])
    # Never more than ``binds`` sessions bound at once, as the SMSC saw them come and go.
    bound: set[object] = set()
    most = 0
    for event in list(fake.events):
        if event.get("event") == "bind" and event.get("ok"):
            bound.add(event["session"])
        elif event.get("event") in ("closed", "unbind"):
            bound.discard(event["session"])
        most = max(most, len(bound))
    assert most == 2, most

    # node-b dies: it stops renewing and its presence runs out; node-a's share grows back to
    # both slots and it takes node-b's once that lease has expired.
    assert second.leases._task is not None
    second.leases._task.cancel()
    await _publish(app, "node-b", "fair", seconds=0.5)
    await eventually(lambda: len(first.leases.held) == 2, timeout=10, what="node-a takes node-b's slot over")
    async with app.state.session_factory() as session:
        holders = sorted(row.holder for row in (await session.execute(select(SmppBindLease))).scalars())
    assert holders == [first.holder, first.holder]


async def test_bind_slots_are_shared_across_nodes_and_taken_over_from_a_dead_one(
    app: FastAPI, smsc: StartSmsc, start_carrier: StartCarrier
) -> None:
    fake = await smsc()
    config = fake.config("shared", binds=2, bind_lease_seconds=1.5)
    first = await start_carrier(config, node="node-a")
    await eventually(lambda: len(first.leases.held) == 2, timeout=10, what="node-a holds both slots")
    second = await start_carrier(config, node="node-b", wait_up=False)
    await asyncio.sleep(1.0)
    assert not second.is_up() and second.leases.held == frozenset()
    assert len(fake.of("bind", ok=True)) == 2  # never more than binds

    # node-a dies: it stops renewing without unbinding or releasing anything. It stops between
    # two renewals (right after one, while it sleeps), as a killed process would: a task
    # cancelled inside its SQLite write transaction is not what a dead node leaves behind.
    assert first.leases._task is not None
    renewed = first.leases._last_ok
    await eventually(lambda: first.leases._last_ok != renewed, timeout=10, what="node-a renews")
    first.leases._task.cancel()
    await eventually(second.is_up, timeout=10, what="node-b takes the slots over")
    await eventually(lambda: len(second.leases.held) == 2, timeout=5, what="both slots")
    async with app.state.session_factory() as session:
        holders = {row.holder for row in (await session.execute(select(SmppBindLease))).scalars()}
    assert holders == {second.holder}

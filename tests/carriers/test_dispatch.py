"""Dispatch through routes with failover, against real connector classes over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, event, select

from message_exchange.carriers.models import CarrierPresence
from message_exchange.carriers.registry import CarrierRegistry
from message_exchange.db.base import utcnow
from message_exchange.jobs.models import Job, JobAttempt
from message_exchange.jobs.service import enqueue
from message_exchange.jobs.worker import Worker
from message_exchange.messages.models import Message
from message_exchange.messages.service import DISPATCH_JOB
from tests.carriers.conftest import AddCarrier, AddRoute
from tests.carriers.helpers import eventually
from tests.carriers.line_carrier import LinePeer
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import drain

StartPeer = Callable[..., Awaitable[LinePeer]]
SENDER = "+19876543210"


@pytest.fixture
async def sender(root: Creds, own_number: OwnNumber) -> Creds:
    await own_number(root, SENDER)
    return root


async def _send(client: httpx.AsyncClient, account: Creds, to: str, channel: str = "sms") -> str:
    data = {"from": f"{channel}:{SENDER}", "to": f"{channel}:{to}", "body": "Hello"}
    response = await client.post(f"/api/2012-04-24/Accounts/{account.sid}/Messages", data=data, auth=account.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["sid"])


async def _message(app: FastAPI, sid: str) -> Message:
    async with app.state.session_factory() as session:
        message: Message | None = await session.get(Message, sid)
        assert message is not None
        return message


async def _bound(carriers: CarrierRegistry, *names: str) -> None:
    def all_up() -> bool:
        return all((carrier := carriers.get(name)) is not None and carrier.is_up() for name in names)

    await eventually(all_up, what=f"{names} bound")


async def test_a_down_carrier_fails_over_to_the_next_route(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    peers: StartPeer,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    down = await peers()
    up = await peers()
    await down.stop()  # its port now refuses connections
    await add_carrier("primary", down.port)
    await add_carrier("backup", up.port)
    await add_route("primary", "44", priority=0)
    await add_route("backup", "44", priority=1)
    await carriers.reload()
    await _bound(carriers, "backup")

    sids = [await _send(client, sender, f"+4477009001{n:02d}") for n in range(5)]
    await drain(app)
    for sid in sids:
        message = await _message(app, sid)
        assert (message.status, message.carrier) == ("sent", "backup")
        assert message.carrier_message_id and message.carrier_message_id.startswith(f"L{up.port}-")
    assert sorted(sid for sid, _ in up.submits) == sorted(sids)  # each exactly once

    # The primary comes back: new messages take the preferred route again.
    revived = await LinePeer().start(port=down.port)
    try:
        await _bound(carriers, "primary")
        sid = await _send(client, sender, "+447700900200")
        await drain(app)
        assert (await _message(app, sid)).carrier == "primary"
        assert [s for s, _ in revived.submits] == [sid]
    finally:
        await revived.stop()


async def test_busy_and_broken_are_skipped_and_reject_is_final(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    peers: StartPeer,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    busy = await peers(busy=True)
    broken = await peers(garble=True)
    strict = await peers(reject={"+33612345678": (21211, "Invalid number")})
    spare = await peers()
    for name, peer in (("busy", busy), ("broken", broken), ("strict", strict), ("spare", spare)):
        await add_carrier(name, peer.port)
    await add_route("busy", "", priority=0)
    await add_route("broken", "", priority=1)  # its connector raises ValueError: skipped like a down carrier
    await add_route("strict", "", priority=2)
    await add_route("spare", "", priority=3)
    await carriers.reload()
    await _bound(carriers, "busy", "broken", "strict", "spare")

    accepted = await _send(client, sender, "+33699999999")
    refused = await _send(client, sender, "+33612345678")
    await drain(app)
    ok = await _message(app, accepted)
    assert (ok.status, ok.carrier) == ("sent", "strict")
    failed = await _message(app, refused)
    assert (failed.status, failed.error_code, failed.error_message) == ("failed", 21211, "Invalid number")
    assert spare.submits == []  # a permanent refusal is not offered elsewhere


async def test_every_carrier_unavailable_retries_then_fails_30008(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    peers: StartPeer,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    busy = await peers(busy=True)
    await add_carrier("busy", busy.port)
    await add_carrier("nowhere", 1)  # nothing listens on port 1
    await add_route("busy", "")
    await add_route("nowhere", "", priority=1)
    await carriers.reload()
    await _bound(carriers, "busy")

    sid = await _send(client, sender, "+14155550100")
    await drain(app)
    message = await _message(app, sid)
    assert (message.status, message.error_code) == ("failed", 30008)
    assert message.error_message and "busy" in message.error_message and "nowhere" in message.error_message
    async with app.state.session_factory() as session:
        job = (await session.execute(select(Job).where(Job.kind == "message.dispatch"))).scalar_one()
        attempts = (await session.execute(select(JobAttempt).where(JobAttempt.job_id == job.id))).scalars().all()
    assert job.status == "succeeded" and len(attempts) == app.state.settings.job_max_attempts
    assert [a.outcome for a in attempts][:-1] == ["failed"] * (len(attempts) - 1)


async def test_no_route_fails_at_once_and_no_carrier_means_sandbox(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    before = await _send(client, sender, "+14155550100")
    await drain(app)
    sandboxed = await _message(app, before)
    assert (sandboxed.status, sandboxed.carrier) == ("delivered", "sandbox")

    await add_carrier("uk", 1)
    await add_route("uk", "44")
    await add_route("sandbox", "1500555")
    await carriers.reload()
    unrouted = await _send(client, sender, "+14155550100")
    test_range = await _send(client, sender, "+15005550006")
    await drain(app)
    message = await _message(app, unrouted)
    assert (message.status, message.error_code, message.carrier) == ("failed", 21612, None)
    assert "No carrier route" in (message.error_message or "")
    assert (await _message(app, test_range)).status == "delivered"


async def test_a_down_carrier_fails_over_to_the_sandbox_route(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    await add_carrier("down", 1)
    await add_route("down", "", priority=0)
    await add_route("sandbox", "", priority=9)
    await carriers.reload()
    sid = await _send(client, sender, "+14155550100")
    await drain(app)
    message = await _message(app, sid)
    assert (message.status, message.carrier) == ("delivered", "sandbox")


async def test_a_recorded_submission_is_never_offered_again(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    peers: StartPeer,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    peer = await peers()
    await add_carrier("only", peer.port)
    await add_route("only", "")
    await carriers.reload()
    await _bound(carriers, "only")
    sid = await _send(client, sender, "+14155550100")
    await drain(app)
    assert (await _message(app, sid)).status == "sent"
    # The same dispatch job again (a duplicate, or a re-run after a lost lease): nothing is resubmitted.
    async with app.state.session_factory() as session, session.begin():
        await enqueue(session, DISPATCH_JOB, {"sid": sid})
    await drain(app)
    assert [s for s, _ in peer.submits] == [sid]


async def test_the_database_is_not_locked_while_a_carrier_answers(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    peers: StartPeer,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    """On SQLite a transaction holds the only write lock: dispatch must not wait on the network inside one."""
    gate = asyncio.Event()
    peer = await peers(gate=gate)
    await add_carrier("slow", peer.port)
    await add_route("slow", "")
    await carriers.reload()
    await _bound(carriers, "slow")
    sid = await _send(client, sender, "+14155550100")
    dispatching = asyncio.create_task(drain(app))
    try:
        await asyncio.wait_for(peer.arrived.wait(), 5)
        # While the carrier has not answered, another request can write (and commit) at once.
        other = await asyncio.wait_for(_send(client, sender, "+14155550101"), 2)
        assert (await _message(app, sid)).status == "queued"
    finally:
        gate.set()
    await dispatching
    await drain(app)
    assert (await _message(app, sid)).status == "sent" and (await _message(app, other)).status == "sent"


async def test_a_batch_of_dispatches_commits_once_with_its_network_submits_made_outside_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    peers: StartPeer,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    peer = await peers()
    await add_carrier("uk", peer.port)
    await add_route("uk", "44")
    await add_route("sandbox", "1")
    await carriers.reload()
    await _bound(carriers, "uk")
    sandboxed = [await _send(client, sender, f"+1415555{n:04d}") for n in range(20)]
    rejected = await _send(client, sender, "+15005550001")  # the sandbox refuses it at submit
    unrouted = await _send(client, sender, "+33612345678")
    networked = await _send(client, sender, "+447700900123")

    updates: list[int] = []  # rows per UPDATE of messages (an executemany counts once)

    def count(_conn: object, _cursor: object, statement: str, params: object, _ctx: object, many: bool) -> None:
        if statement.startswith("UPDATE messages"):
            updates.append(len(params) if many and isinstance(params, list | tuple) else 1)

    engine = app.state.session_factory.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert await Worker(app.state.settings, app.state.session_factory).run_pending(limit=100) == 23
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # One batch: the network submit happens outside it (its read is rolled back first), and
    # every status change — sandbox, refusals, the network carrier's answer — goes out in a
    # few executemany UPDATEs (one per run of messages with the same changed columns; one
    # job at a time it would be 23 or more), committed once.
    assert sum(updates) == 23 and len(updates) <= 6, updates
    for sid in sandboxed:
        message = await _message(app, sid)
        assert (message.status, message.carrier) == ("sent", "sandbox")
        assert message.carrier_message_id and message.date_sent is not None
    refused = await _message(app, rejected)
    assert (refused.status, refused.error_code) == ("failed", 21211)
    assert (await _message(app, unrouted)).error_code == 21612
    assert (await _message(app, networked)).carrier == "uk"
    assert [s for s, _ in peer.submits] == [networked]
    await drain(app)
    assert {(await _message(app, sid)).status for sid in sandboxed} == {"delivered"}


async def test_steering_needs_the_carrier_up_on_another_node_and_keeps_the_job_kind(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    await add_carrier("far", 1)  # nothing listens: never up in this process
    await add_route("far", "")
    await carriers.reload()
    # Down everywhere: not steered (a queue nobody serves would only add delay), retried as usual.
    await _send(client, sender, "+14155550100")
    worker = Worker(app.state.settings, app.state.session_factory)
    await worker.run_pending(limit=10)
    async with app.state.session_factory() as session:
        jobs = (await session.execute(select(Job).where(Job.kind == "message.dispatch"))).scalars().all()
    assert [(job.status, job.queue) for job in jobs] == [("pending", None)]

    # Another node says it is up there: the next message is handed to that carrier's queue,
    # as the same kind of job (a wrapper such as the Messaging API's expiry check runs again).
    async with app.state.session_factory() as session, session.begin():
        session.add(CarrierPresence(carrier="far", node="other-node", up_until=utcnow() + timedelta(minutes=1)))
    await carriers.reload()
    assert carriers.up_elsewhere("far")
    other = await _send(client, sender, "+14155550101")
    async with app.state.session_factory() as session, session.begin():
        await session.execute(delete(Job).where(Job.payload["sid"].as_string() == other))
        await enqueue(session, "connect.dispatch", {"sid": other})
    await worker.run_pending(limit=10)
    async with app.state.session_factory() as session:
        steered = (await session.execute(select(Job).where(Job.queue.is_not(None)))).scalars().all()
    # (The first message's retry may be due by now and steered too: only ``other`` is looked at.)
    assert [(job.kind, job.queue, job.payload) for job in steered if job.payload["sid"] == other] == [
        ("connect.dispatch", "carrier:far", {"sid": other, "steered_to": "far"})
    ]
    assert (await _message(app, other)).status == "queued"


async def test_a_shared_job_finishes_whole_and_what_no_carrier_takes_gets_a_job_of_its_own(
    app: FastAPI,
    client: httpx.AsyncClient,
    sender: Creds,
    carriers: CarrierRegistry,
    peers: StartPeer,
    add_carrier: AddCarrier,
    add_route: AddRoute,
) -> None:
    """Sends accepted together share a dispatch job; a message no carrier can take now is retried alone."""
    busy = await peers(busy=True)
    up = await peers()
    await add_carrier("busy", busy.port)
    await add_carrier("up", up.port)
    await add_route("busy", "44")
    await add_route("up", "33")
    await carriers.reload()
    await _bound(carriers, "busy", "up")
    sids = [await _send(client, sender, to) for to in ("+447700900001", "+33612345001", "+447700900002")]
    async with app.state.session_factory() as session, session.begin():  # as if accepted in one transaction
        await session.execute(delete(Job))
        shared = await enqueue(session, DISPATCH_JOB, {"sids": sids})

    await drain(app)
    uk1, fr, uk2 = [await _message(app, sid) for sid in sids]
    assert (fr.status, fr.carrier) == ("sent", "up") and [s for s, _ in up.submits] == [fr.sid]
    assert {(m.status, m.error_code) for m in (uk1, uk2)} == {("failed", 30008)}
    async with app.state.session_factory() as session:
        jobs = {job.id: job for job in (await session.execute(select(Job))).scalars()}
    assert jobs.pop(shared).status == "succeeded"
    assert sorted(job.payload["sid"] for job in jobs.values()) == sorted([uk1.sid, uk2.sid])
    assert {job.attempts for job in jobs.values()} == {app.state.settings.job_max_attempts}

"""Send → dispatch → sandbox carrier → receipt → signed status callbacks, through a real worker."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from message_exchange.db.base import utcnow
from message_exchange.jobs.models import Job
from message_exchange.jobs.service import enqueue
from message_exchange.messages.models import Message
from tests.fakes.callback_sink import CallbackSink
from tests.support.accounts import Creds
from tests.support.pipeline import drain

pytestmark = pytest.mark.usefixtures("root_numbers")

FINAL = {"delivered", "undelivered", "failed"}


async def _send(client: httpx.AsyncClient, root: Creds, to: str, callback: str, **extra: str) -> str:
    data = {"from": "sms:+19876543210", "to": f"sms:{to}", "body": "Hello", "status_callback": callback}
    data.update(extra)
    response = await client.post(f"/api/2012-04-24/Accounts/{root.sid}/Messages", data=data, auth=root.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["sid"])


async def _message(client: httpx.AsyncClient, root: Creds, sid: str) -> dict[str, object]:
    response = await client.get(f"/api/2012-04-24/Accounts/{root.sid}/Messages/{sid}.json", auth=root.auth)
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize(
    "to,statuses,error_code",
    [
        ("+13216540987", ["sending", "sent", "delivered"], None),
        ("+15005550002", ["sending", "sent", "undelivered"], 30003),
        ("+15005550001", ["sending", "failed"], 21211),
        ("+15005550003", ["sending", "failed"], 30007),
    ],
)
async def test_status_callbacks_in_order_and_signed(
    client: httpx.AsyncClient,
    app: FastAPI,
    root: Creds,
    sink: CallbackSink,
    to: str,
    statuses: list[str],
    error_code: int | None,
) -> None:
    sid = await _send(client, root, to, sink.url("/status"), status_callback_method="POST")
    await drain(app)
    message = await _message(client, root, sid)
    assert message["status"] == statuses[-1]
    assert message["error_code"] == error_code
    if "sent" in statuses:
        assert message["date_sent"] is not None
    received = await sink.wait_for(len(statuses), path="/status")
    assert [r.form["MessageStatus"] for r in received] == statuses
    validator = RequestValidator(root.token)
    for request in received:
        assert request.method == "POST"
        form = request.form
        assert form["MessageSid"] == sid == form["SmsSid"] and form["AccountSid"] == root.sid
        assert form["From"] == "sms:+19876543210" and form["To"] == f"sms:{to}" and form["Body"] == "Hello"
        assert form["SmsStatus"] == form["MessageStatus"] and form["ApiVersion"] == "2012-04-24"
        assert validator.validate(request.url, form, request.headers["x-twilio-signature"])
    assert ("ErrorCode" in received[-1].form) == (error_code is not None)
    if error_code is not None:
        assert received[-1].form["ErrorCode"] == str(error_code)


async def test_callback_by_get_is_the_default(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    sid = await _send(client, root, "+13216540987", sink.url("/get"))
    await drain(app)
    received = await sink.wait_for(3, path="/get")
    assert {r.method for r in received} == {"GET"}
    assert [dict(r.query)["MessageStatus"] for r in received] == ["sending", "sent", "delivered"]
    assert all(dict(r.query)["MessageSid"] == sid for r in received)


async def test_a_failing_callback_target_still_gets_every_event_once_in_order(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    sink.respond("/flaky", status=500, times=2)
    sid = await _send(client, root, "+13216540987", sink.url("/flaky"), status_callback_method="POST")
    await drain(app)
    received = sink.requests_to("/flaky")
    ok = [r.form["MessageStatus"] for r in received[2:]]
    assert [r.form["MessageStatus"] for r in received[:2]] == ["sending", "sending"]
    assert ok == ["sending", "sent", "delivered"]
    deliveries = await client.get(
        f"/restcomm/2012-04-24/Accounts/{root.sid}/WebhookDeliveries.json", params={"ResourceSid": sid}, auth=root.auth
    )
    assert deliveries.status_code == 200
    assert deliveries.json()["total"] == 3


async def test_media_on_sms_fails_and_dispatch_runs_once(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    sid = await _send(client, root, "+13216540987", sink.url("/m"), media_list='[{"url": "https://example.com/a.png"}]')
    await drain(app)
    message = await _message(client, root, sid)
    assert message["status"] == "failed" and message["error_code"] == 21620
    async with app.state.session_factory() as session:
        kinds = dict((await session.execute(select(Job.kind, func.count()).group_by(Job.kind))).all())
    assert kinds.get("message.dispatch") == 1 and "sandbox.receipt" not in kinds


async def test_no_callback_url_means_no_deliveries(client: httpx.AsyncClient, app: FastAPI, root: Creds) -> None:
    response = await client.post(
        f"/api/2012-04-24/Accounts/{root.sid}/Messages",
        data={"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "hi"},
        auth=root.auth,
    )
    await drain(app)
    assert (await _message(client, root, response.json()["sid"]))["status"] == "delivered"
    async with app.state.session_factory() as session:
        kinds = [k for (k,) in (await session.execute(select(Job.kind))).all()]
    assert sorted(kinds) == ["message.dispatch", "sandbox.receipt"]


async def test_messages_dispatched_together_share_one_receipt_job(
    client: httpx.AsyncClient, app: FastAPI, root: Creds
) -> None:
    sids = []
    for n in range(5):
        response = await client.post(
            f"/api/2012-04-24/Accounts/{root.sid}/Messages",
            data={"from": "sms:+19876543210", "to": f"sms:+1321654{n:04d}", "body": "hi"},
            auth=root.auth,
        )
        sids.append(response.json()["sid"])
    await drain(app)
    assert {(await _message(client, root, sid))["status"] for sid in sids} == {"delivered"}
    async with app.state.session_factory() as session:
        payloads = (await session.execute(select(Job.payload).where(Job.kind == "sandbox.receipt"))).scalars().all()
    assert [len(payload["receipts"]) for payload in payloads] == [5]  # one dispatch batch, one receipt job


async def test_a_receipt_job_of_the_earlier_one_receipt_shape_still_applies(
    client: httpx.AsyncClient, app: FastAPI, root: Creds
) -> None:
    async with app.state.session_factory() as session, session.begin():
        # Sent earlier by the sandbox, its receipt job queued by a version before bundling.
        message = await _sent_message(session, root.sid, carrier_message_id="SBXold")
        await enqueue(session, "sandbox.receipt", {"carrier_message_id": "SBXold", "status": "delivered"})
    await drain(app)
    assert (await _message(client, root, message))["status"] == "delivered"


async def _sent_message(session: AsyncSession, account_sid: str, *, carrier_message_id: str) -> str:
    now = utcnow()
    message = Message(
        sid="SM" + "0" * 31 + "1", account_sid=account_sid, direction="outbound-api", channel="sms",
        from_address="+19876543210", to_address="+13216540987", body="hi", media=[], num_segments=1,
        status="sent", price_unit="USD", status_callback_method="POST", api_version="2012-04-24",
        created_via="messages", carrier="sandbox", carrier_message_id=carrier_message_id,
        date_created=now, date_updated=now, date_sent=now,
    )  # fmt: skip
    session.add(message)
    return message.sid

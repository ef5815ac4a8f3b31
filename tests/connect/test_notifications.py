"""deliveryInfoNotification to notifyurl at each status change, through a real worker and sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from message_exchange.jobs.models import Job
from message_exchange.messages.models import Message
from message_exchange.webhooks.models import WebhookDelivery
from tests.connect.conftest import Send, Service, sms_body
from tests.fakes.callback_sink import CallbackSink
from tests.support.pipeline import drain


def _infos(sink: CallbackSink, path: str) -> list[dict[str, Any]]:
    out = []
    for request in sink.requests_to(path):
        assert request.headers["content-type"] == "application/json"
        out.append(orjson.loads(request.body)["deliveryInfoNotification"])
    return out


@pytest.mark.parametrize(
    "to,expected",
    [
        ("+14155550100", [("7501", "Submitted", "Submitted"), ("7500", "Delivered", "Delivered")]),
        ("+15005550002", [("7501", "Submitted", "Submitted"), ("7207", "Undelivered", None)]),
        ("+15005550004", [("7501", "Submitted", "Submitted"), ("7203", "Undelivered", None)]),
        ("+15005550001", [("7102", "Failed", "Invalid address")]),
        ("+15005550003", [("7201", "Failed", "Delivery failed at Operator")]),
    ],
)
async def test_notifications_in_order_and_shape(
    send: Send, app: FastAPI, sink: CallbackSink, service: Service, to: str, expected: list[tuple[str, str, str | None]]
) -> None:
    body = sms_body(to, notifyurl=sink.url("/notify"), callbackData="campaign-42", correlationid="c-1")
    transid = (await send(body))["response"][0]["transid"]
    await drain(app)
    await sink.wait_for(len(expected), path="/notify")
    infos = _infos(sink, "/notify")
    assert [(i["deliveryInfo"]["code"], i["deliveryInfo"]["deliveryStatus"]) for i in infos] == [
        (code, status) for code, status, _ in expected
    ]
    for info, (_, _, description) in zip(infos, expected, strict=True):
        assert set(info) == {"deliveryInfo", "correlationid", "callbackData", "transid"}
        assert info["transid"] == transid and info["callbackData"] == "campaign-42" and info["correlationid"] == "c-1"
        delivery = info["deliveryInfo"]
        assert set(delivery) == {
            "deliveryChannel",
            "Description",
            "destinationType",
            "timeStamp",
            "code",
            "deliveryStatus",
            "destination",
        }
        assert delivery["deliveryChannel"] == "SMS" and delivery["destinationType"] == "msisdn"
        assert delivery["destination"] == to
        datetime.strptime(delivery["timeStamp"], "%Y-%m-%dT%H:%M:%S.%f")
        if description:
            assert delivery["Description"] == description
    validator = RequestValidator(service.account.token)
    for request in sink.requests_to("/notify"):
        # Twilio's validator checks the signature over the URL and the body against bodySHA256.
        assert validator.validate(request.url, request.body.decode(), request.headers["x-twilio-signature"])
        assert not validator.validate(request.url, request.body.decode() + " ", request.headers["x-twilio-signature"])
        assert "bodySHA256=" in request.url


async def test_service_default_notify_url_and_retries(
    send: Send, app: FastAPI, sink: CallbackSink, client: httpx.AsyncClient, service: Service
) -> None:
    await client.post(service.admin(), json={"notify_url": sink.url("/default")}, auth=service.account.auth)
    sink.respond("/default", status=503, times=1)
    await send(sms_body("+14155550100"))
    await drain(app)
    infos = _infos(sink, "/default")
    # The first attempt got a 503 and was retried; every status still arrives, in order.
    assert [i["deliveryInfo"]["code"] for i in infos] == ["7501", "7501", "7500"]


async def test_no_notify_url_means_no_deliveries(send: Send, app: FastAPI, sink: CallbackSink) -> None:
    accepted = await send(sms_body("+14155550100"))
    assert [r["code"] for r in accepted["response"]] == ["1001"]  # queued: not an error answer
    await drain(app)
    async with app.state.session_factory() as session:
        kinds = dict((await session.execute(select(Job.kind, func.count()).group_by(Job.kind))).all())
        statuses = list((await session.execute(select(Message.status))).scalars())
    assert "webhook.deliver" not in kinds and sink.requests == []
    assert statuses == ["delivered"]  # the message went through: only its notifications are missing


async def test_expired_messages_are_not_sent_and_are_notified(send: Send, app: FastAPI, sink: CallbackSink) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000+5:30")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await send(sms_body("+14155550100", notifyurl=sink.url("/old"), expiry=past))
    await send(sms_body("+14155550101", notifyurl=sink.url("/new"), expiry=future))
    await drain(app)
    [expired] = _infos(sink, "/old")
    assert expired["deliveryInfo"]["code"] == "7208" and expired["deliveryInfo"]["Description"] == "Message expired"
    assert [i["deliveryInfo"]["code"] for i in _infos(sink, "/new")] == ["7501", "7500"]
    async with app.state.session_factory() as session:
        statuses = dict((await session.execute(select(Message.to_address, Message.status))).all())
        receipts = (
            await session.execute(select(func.count()).select_from(Job).where(Job.kind == "sandbox.receipt"))
        ).scalar_one()
    assert statuses == {"+14155550100": "failed", "+14155550101": "delivered"}
    assert receipts == 1  # only the unexpired one reached the carrier


async def test_request_notifyurl_overrides_the_services(
    send: Send, app: FastAPI, sink: CallbackSink, client: httpx.AsyncClient, service: Service
) -> None:
    await client.post(service.admin(), json={"notify_url": sink.url("/default")}, auth=service.account.auth)
    await send(sms_body("+14155550100", notifyurl=sink.url("/own")))
    await drain(app)
    assert [i["deliveryInfo"]["code"] for i in _infos(sink, "/own")] == ["7501", "7500"]
    assert sink.requests_to("/default") == []


async def test_invalid_notifyurl_is_accepted_but_never_retried(
    send: Send, app: FastAPI, client: httpx.AsyncClient, service: Service
) -> None:
    # The document: a request with an invalid notifyurl is not eligible for retries.
    transid = (await send(sms_body("+14155550100", notifyurl="not a url")))["response"][0]["transid"]
    await drain(app)
    async with app.state.session_factory() as session:
        deliveries = (await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.created_at))).scalars()
        outcomes = [(d.status, d.attempts) for d in deliveries]
    assert outcomes == [("failed", 1), ("failed", 1)]  # Submitted, Delivered: one refused attempt each
    status = await client.get(f"/resources/v1/messaging/status/{transid}", headers={"key": service.key})
    assert status.json()[0]["status"] == "delivered"

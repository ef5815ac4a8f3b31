"""Inbound → stored → the number's SmsUrl (signed), dedupe, drops, fallback; through a real worker."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from message_exchange.accounts import service as accounts
from message_exchange.inbound.models import InboundReceipt
from message_exchange.inbound.service import InboundMedia, InboundMessage
from message_exchange.jobs.models import Job
from message_exchange.webhooks.models import WebhookDelivery
from tests.fakes.callback_sink import CallbackSink, ReceivedRequest
from tests.inbound.conftest import Deliver, Messages
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import drain

OURS = "+15557770001"
HANDSET = "+13216540987"


class MultiParams:
    """Repeated form names as the twilio RequestValidator reads them (``getall``)."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def __iter__(self) -> Any:
        return iter({k for k, _ in self._items})

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self._items if k == name]


def _valid(request: ReceivedRequest, token: str) -> bool:
    signature = request.signature or ""
    if request.method == "GET":
        return RequestValidator(token).validate(request.url, {}, signature)
    return RequestValidator(token).validate(request.url, MultiParams(request.form_items), signature)


def inbound(body: str = "Hello there", carrier_id: str = "smsc-1", **extra: Any) -> InboundMessage:
    return InboundMessage(
        carrier="test-smsc", carrier_message_id=carrier_id, from_address=HANDSET, to_address=OURS, body=body, **extra
    )


async def test_post_to_sms_url_is_signed_and_carries_every_param(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver, stored: Messages
) -> None:
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    media = (
        InboundMedia("https://cdn.example.com/a.jpg", "image/jpeg"),
        InboundMedia("https://cdn.example.com/b.gif", "image/gif"),
    )
    sid = await deliver(inbound(media=media))
    assert sid is not None
    await drain(app)
    [request] = await sink.wait_for(1, path="/sms")
    assert request.method == "POST"
    assert _valid(request, root.token)
    form = request.form
    assert form["MessageSid"] == form["SmsSid"] == sid
    assert form["AccountSid"] == root.sid
    assert (form["From"], form["To"], form["Body"]) == (HANDSET, OURS, "Hello there")
    assert form["NumMedia"] == "2"
    assert (form["MediaUrl0"], form["MediaContentType0"]) == ("https://cdn.example.com/a.jpg", "image/jpeg")
    assert (form["MediaUrl1"], form["MediaContentType1"]) == ("https://cdn.example.com/b.gif", "image/gif")
    items = request.form_items
    assert [v for k, v in items if k == "MediaUrl"] == [
        "https://cdn.example.com/a.jpg",
        "https://cdn.example.com/b.gif",
    ]
    assert [v for k, v in items if k == "MediaType"] == ["image/jpeg", "image/gif"]
    [message] = await stored()
    assert (message.sid, message.direction, message.status, message.created_via) == (
        sid,
        "inbound",
        "received",
        "inbound",
    )
    assert message.account_sid == root.sid and message.channel == "mms" and len(message.media) == 2


async def test_get_method_puts_params_in_the_query(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver
) -> None:
    await own_number(root, OURS, sms_url=sink.url("/get"), sms_method="GET")
    sid = await deliver(inbound(body="plain"))
    await drain(app)
    [request] = await sink.wait_for(1, path="/get")
    assert request.method == "GET" and request.body == b""
    params = request.params
    assert params["MessageSid"] == sid and params["Body"] == "plain" and params["NumMedia"] == "0"
    assert params["From"] == HANDSET and params["To"] == OURS
    assert "MediaUrl0" not in params
    assert _valid(request, root.token)


async def test_a_repeated_provider_id_is_stored_and_delivered_once(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver, stored: Messages
) -> None:
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    first = await deliver(inbound(carrier_id="dup-1"))
    second = await deliver(inbound(carrier_id="dup-1"))
    other_carrier = await deliver(InboundMessage("other-smsc", "dup-1", HANDSET, OURS, "same id, other carrier"))
    assert first is not None and second is None and other_carrier is not None
    await drain(app)
    assert [m.sid for m in await stored()] == [first, other_carrier]
    received = sink.requests_to("/sms")
    assert sorted(r.form["MessageSid"] for r in received) == sorted([first, other_carrier])


async def test_unknown_number_or_inactive_owner_stores_nothing(
    app: FastAPI,
    root: Creds,
    make_account: Any,
    own_number: OwnNumber,
    sink: CallbackSink,
    deliver: Deliver,
    stored: Messages,
) -> None:
    assert await deliver(InboundMessage("test-smsc", "x-1", HANDSET, "+15557779999", "nobody's")) is None
    other = await make_account(root)
    await own_number(other, OURS, sms_url=sink.url("/sms"))
    async with app.state.session_factory() as session, session.begin():
        account = await accounts.get_by_sid(session, other.sid)
        account.status = "suspended"
    assert await deliver(inbound(carrier_id="x-2")) is None
    await drain(app)
    assert await stored() == []
    async with app.state.session_factory() as session:
        assert (await session.execute(select(func.count()).select_from(InboundReceipt))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(Job))).scalar_one() == 0
    assert sink.requests == []


async def test_no_sms_url_stores_the_message_and_calls_nobody(
    app: FastAPI, root: Creds, own_number: OwnNumber, deliver: Deliver, stored: Messages
) -> None:
    await own_number(root, OURS)
    sid = await deliver(inbound())
    await drain(app)
    assert [m.sid for m in await stored("inbound")] == [sid]
    async with app.state.session_factory() as session:
        assert (await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar_one() == 0


async def test_fallback_url_gets_the_same_params_when_sms_url_fails(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver, stored: Messages
) -> None:
    sink.respond("/sms", status=500, times=None)
    sink.respond(
        "/fallback",
        body="<Response><Message>From the fallback</Message></Response>",
        content_type="application/xml",
        times=None,
    )
    await own_number(root, OURS, sms_url=sink.url("/sms"), sms_fallback_url=sink.url("/fallback"))
    sid = await deliver(inbound())
    await drain(app)
    failed = sink.requests_to("/sms")
    assert len(failed) == app.state.settings.webhook_max_attempts
    [fallback] = await sink.wait_for(1, path="/fallback")
    assert fallback.form == failed[0].form and fallback.form["MessageSid"] == sid
    assert _valid(fallback, root.token)
    [reply] = await stored("outbound-reply")
    assert (reply.to_address, reply.from_address, reply.body) == (HANDSET, OURS, "From the fallback")


async def test_a_4xx_sms_url_goes_straight_to_the_fallback_once(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver
) -> None:
    sink.respond("/sms", status=404, times=None)
    await own_number(root, OURS, sms_url=sink.url("/sms"), sms_fallback_url=sink.url("/fb"), sms_fallback_method="GET")
    await deliver(inbound())
    await drain(app)
    assert len(sink.requests_to("/sms")) == 1
    [fallback] = sink.requests_to("/fb")
    assert fallback.method == "GET" and fallback.params["Body"] == "Hello there"


async def test_sms_url_success_does_not_touch_the_fallback(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver
) -> None:
    await own_number(root, OURS, sms_url=sink.url("/sms"), sms_fallback_url=sink.url("/fb"))
    await deliver(inbound())
    await drain(app)
    assert len(sink.requests_to("/sms")) == 1 and sink.requests_to("/fb") == []


async def test_jobs_end_without_dead_ones(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver
) -> None:
    sink.respond("/sms", body="<Response><Message>ok</Message></Response>", content_type="text/xml", times=None)
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    await deliver(inbound())
    await drain(app)
    async with app.state.session_factory() as session:
        statuses = dict((await session.execute(select(Job.kind, Job.status))).all())
    assert statuses.get("webhook.deliver") == "succeeded"
    assert "dead" not in statuses.values()


async def test_odd_carrier_input_is_dropped_without_breaking_the_transaction(
    app: FastAPI, root: Creds, own_number: OwnNumber, deliver: Deliver, stored: Messages
) -> None:
    await own_number(root, OURS)
    assert await deliver(InboundMessage("test-smsc", "y" * 200, HANDSET, OURS, "long id")) is None
    assert await deliver(InboundMessage("test-smsc", "ok-1", "+1" + "5" * 40, OURS, "long sender")) is None
    sid = await deliver(InboundMessage("test-smsc", "ok-2", "ACME", OURS, "HELP"))
    assert [(m.sid, m.from_address) for m in await stored()] == [(sid, "ACME")]  # no reply to a sender id

"""RCML replies, opt-out keywords, and a message between two accounts' numbers end to end."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.carriers.sandbox import LOOPBACK_JOB
from message_exchange.jobs.models import Job
from message_exchange.jobs.service import enqueue
from message_exchange.webhooks.models import WebhookDelivery
from tests.fakes.callback_sink import CallbackSink
from tests.inbound.conftest import HELP_TEXT, Deliver, Messages
from tests.inbound.test_router import HANDSET, OURS, inbound
from tests.support.accounts import Creds, MakeAccount, OwnNumber
from tests.support.pipeline import drain

OTHER_HANDSET = "+13216540988"


def _xml(sink: CallbackSink, body: str, path: str = "/sms") -> None:
    sink.respond(path, body=body, content_type="application/xml", times=None)


@pytest.mark.parametrize(
    "rcml,to",
    [
        ('<Response><Message action="{action}">Thanks!</Message></Response>', HANDSET),
        ('<Response><Message action="{action}"><Body>Thanks!</Body></Message></Response>', HANDSET),
        (
            f'<?xml version="1.0"?><Response><Sms to="{OTHER_HANDSET}" from="{OURS}" action="{{action}}" '
            'method="POST">Thanks!</Sms></Response>',
            OTHER_HANDSET,
        ),
    ],
    ids=["Message", "Message-Body", "Sms"],
)
async def test_xml_reply_sends_exactly_one_message_that_gets_delivered(
    app: FastAPI,
    root: Creds,
    own_number: OwnNumber,
    sink: CallbackSink,
    deliver: Deliver,
    stored: Messages,
    rcml: str,
    to: str,
) -> None:
    _xml(sink, rcml.format(action=sink.url("/status")))
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    await deliver(inbound())
    await drain(app)
    [reply] = await stored("outbound-reply")
    assert (reply.to_address, reply.from_address, reply.body) == (to, OURS, "Thanks!")
    assert reply.account_sid == root.sid and reply.status == "delivered"
    statuses = [r.form["MessageStatus"] for r in await sink.wait_for(3, path="/status")]
    assert statuses == ["sending", "sent", "delivered"]
    assert all(r.form["MessageSid"] == reply.sid for r in sink.requests_to("/status"))
    assert len(sink.requests_to("/sms")) == 1


@pytest.mark.parametrize(
    "answer",
    [
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        "<Response><Message>&lol2;</Message></Response>",
        '<!DOCTYPE Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Response><Message>&xxe;</Message></Response>',
        "<Response><Message>unclosed</Response>",
        "Thanks, got it",
        "",
    ],
    ids=["billion-laughs", "external-entity", "malformed", "plain-text", "empty"],
)
async def test_a_bad_answer_sends_nothing_and_fails_nothing(
    app: FastAPI,
    root: Creds,
    own_number: OwnNumber,
    sink: CallbackSink,
    deliver: Deliver,
    stored: Messages,
    answer: str,
) -> None:
    _xml(sink, answer)
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    await deliver(inbound())
    await drain(app)
    assert await stored("outbound-reply") == []
    async with app.state.session_factory() as session:
        [delivery] = (await session.execute(select(WebhookDelivery))).scalars().all()
        dead = (await session.execute(select(func.count()).select_from(Job).where(Job.status == "dead"))).scalar_one()
    assert delivery.status == "delivered" and dead == 0


async def test_a_reply_may_not_send_from_another_accounts_number(
    app: FastAPI,
    root: Creds,
    make_account: MakeAccount,
    own_number: OwnNumber,
    sink: CallbackSink,
    deliver: Deliver,
    stored: Messages,
) -> None:
    other = await make_account()
    await own_number(other, "+15557770002")
    _xml(sink, '<Response><Sms from="+15557770002">spoofed</Sms><Message>fine</Message></Response>')
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    await deliver(inbound())
    await drain(app)
    assert [(m.from_address, m.body) for m in await stored("outbound-reply")] == [(OURS, "fine")]


async def _send(client: httpx.AsyncClient, account: Creds, sender: str, to: str, body: str = "Hi") -> httpx.Response:
    return await client.post(
        f"/api/2012-04-24/Accounts/{account.sid}/Messages",
        data={"from": f"sms:{sender}", "to": f"sms:{to}", "body": body},
        auth=account.auth,
    )


async def test_stop_blocks_later_sends_and_start_lifts_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    root: Creds,
    own_number: OwnNumber,
    sink: CallbackSink,
    deliver: Deliver,
    stored: Messages,
) -> None:
    await own_number(root, OURS, "+15557770003", sms_url=sink.url("/sms"))
    await deliver(inbound(body=" Stop ", carrier_id="k1"))
    await drain(app)
    [webhook] = sink.requests_to("/sms")
    assert webhook.form["Body"] == " Stop "  # the app still hears about it
    [confirmation] = await stored("outbound-reply")
    assert confirmation.to_address == HANDSET and "unsubscribed" in confirmation.body

    refused = await _send(client, root, OURS, HANDSET)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == 21610
    assert await stored("outbound-api") == []
    # Only that pair is blocked: another of our numbers, and another handset, are fine.
    assert (await _send(client, root, "+15557770003", HANDSET)).status_code == 200
    assert (await _send(client, root, OURS, OTHER_HANDSET)).status_code == 200

    await deliver(inbound(body="start", carrier_id="k2"))
    await drain(app)
    allowed = await _send(client, root, OURS, HANDSET)
    assert allowed.status_code == 200, allowed.text
    replies = [m.body for m in await stored("outbound-reply")]
    assert len(replies) == 2 and "re-subscribed" in replies[1]


async def test_stop_also_blocks_rcml_replies(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver, stored: Messages
) -> None:
    _xml(sink, "<Response><Message>Sorry to see you go</Message></Response>")
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    await deliver(inbound(body="UNSUBSCRIBE"))
    await drain(app)
    replies = await stored("outbound-reply")
    assert len(replies) == 1 and "unsubscribed" in replies[0].body  # the confirmation only


async def test_help_gets_the_configured_reply(
    app: FastAPI, root: Creds, own_number: OwnNumber, sink: CallbackSink, deliver: Deliver, stored: Messages
) -> None:
    await own_number(root, OURS, sms_url=sink.url("/sms"))
    await deliver(inbound(body="help"))
    await drain(app)
    [reply] = await stored("outbound-reply")
    assert (reply.to_address, reply.from_address, reply.body, reply.status) == (HANDSET, OURS, HELP_TEXT, "delivered")
    assert len(sink.requests_to("/sms")) == 1


async def test_a_message_between_two_accounts_numbers_reaches_the_webhook(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    own_number: OwnNumber,
    sink: CallbackSink,
    stored: Messages,
) -> None:
    alice, bob = await make_account(), await make_account()
    await own_number(alice, "+15557770010")
    await own_number(bob, "+15557770020", sms_url=sink.url("/bob"))
    response = await _send(client, alice, "+15557770010", "+15557770020", "Hello Bob")
    assert response.status_code == 200, response.text
    await drain(app)
    [request] = await sink.wait_for(1, path="/bob")
    form = request.form
    assert (form["Body"], form["From"], form["To"], form["AccountSid"]) == (
        "Hello Bob",
        "+15557770010",
        "+15557770020",
        bob.sid,
    )
    [sent] = await stored("outbound-api")
    [received] = await stored("inbound")
    assert sent.status == "delivered" and sent.account_sid == alice.sid
    assert received.sid == form["MessageSid"] and received.account_sid == bob.sid and received.carrier == "sandbox"

    # A resubmission to the sandbox (same sid → same provider id) is deduplicated on arrival.
    async with app.state.session_factory() as session, session.begin():
        [payload] = (await session.execute(select(Job.payload).where(Job.kind == LOOPBACK_JOB))).scalars().all()
        await enqueue(session, LOOPBACK_JOB, payload)
    await drain(app)
    assert len(await stored("inbound")) == 1 and len(sink.requests_to("/bob")) == 1


async def test_two_numbers_talking_through_rcml(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    own_number: OwnNumber,
    sink: CallbackSink,
    stored: Messages,
) -> None:
    alice, bob = await make_account(), await make_account()
    await own_number(alice, "+15557770010", sms_url=sink.url("/alice"))
    await own_number(bob, "+15557770020", sms_url=sink.url("/bob"))
    _xml(sink, "<Response><Message>Hi Alice</Message></Response>", path="/bob")
    assert (await _send(client, alice, "+15557770010", "+15557770020", "Hello Bob")).status_code == 200
    await drain(app)
    [at_alice] = await sink.wait_for(1, path="/alice")
    assert (at_alice.form["Body"], at_alice.form["From"], at_alice.form["AccountSid"]) == (
        "Hi Alice",
        "+15557770020",
        alice.sid,
    )
    assert len(await stored("inbound")) == 2 and len(await stored("outbound-reply")) == 1

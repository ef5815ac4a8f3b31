"""Contact policy: consent (API records, inbound STOP/START) and frequency caps, with their notifications."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.inbound.service import InboundMessage, receive
from message_exchange.jobs.models import Job
from message_exchange.messages.models import Message
from tests.connect.conftest import SENDER, Send, Service, sms_body
from tests.fakes.callback_sink import CallbackSink
from tests.support.pipeline import drain

SUBSCRIBER = "+14155550100"


async def _group(client: httpx.AsyncClient, service: Service, **body: Any) -> str:
    response = await client.post(
        f"/restcomm/2012-04-24/Accounts/{service.account.sid}/Connect/PolicyGroups",
        json={"name": "marketing", **body},
        auth=service.account.auth,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _consent(client: httpx.AsyncClient, service: Service, group: str, msisdn: str, consent: str) -> None:
    response = await client.post(
        f"/restcomm/2012-04-24/Accounts/{service.account.sid}/Connect/PolicyGroups/{group}/Consents",
        json={"msisdn": msisdn, "consent": consent},
        auth=service.account.auth,
    )
    assert response.status_code == 201, response.text


def _policy_body(
    group: str, *numbers: str, sink: CallbackSink, check: bool = True, cap: bool = False
) -> dict[str, Any]:
    body = sms_body(*numbers, notifyurl=sink.url("/n"))
    body["channels"]["contactPolicy"] = {
        "contactPolicyGroup": group,
        "channelCheckConsent": check,
        "channelApplyFrequencyCap": cap,
    }
    return body


async def _outcomes(app: FastAPI, sink: CallbackSink) -> dict[str, list[str]]:
    await drain(app)
    out: dict[str, list[str]] = {}
    for request in sink.requests_to("/n"):
        info = orjson.loads(request.body)["deliveryInfoNotification"]["deliveryInfo"]
        out.setdefault(info["destination"], []).append(info["code"])
    return out


async def test_consent_required(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI, sink: CallbackSink
) -> None:
    group = await _group(client, service)
    await _consent(client, service, group, "+14155550101", "opt_in")
    await _consent(client, service, group, "+14155550102", "opt_in")
    await _consent(client, service, group, "+14155550102", "opt_out")
    answer = await send(_policy_body(group, SUBSCRIBER, "+14155550101", "+14155550102", sink=sink))
    assert [e["code"] for e in answer["response"]] == ["1001", "1001", "1001"]
    outcomes = await _outcomes(app, sink)
    assert outcomes == {SUBSCRIBER: ["7701"], "+14155550101": ["7501", "7500"], "+14155550102": ["7701"]}
    async with app.state.session_factory() as session:
        statuses = dict((await session.execute(select(Message.to_address, Message.status))).all())
        dispatched = (
            await session.execute(select(func.count()).select_from(Job).where(Job.kind == "message.dispatch"))
        ).scalar_one()
    assert statuses == {SUBSCRIBER: "failed", "+14155550101": "delivered", "+14155550102": "failed"}
    assert dispatched == 1


async def test_no_policy_flag_means_no_check(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI, sink: CallbackSink
) -> None:
    group = await _group(client, service)
    await send(_policy_body(group, SUBSCRIBER, sink=sink, check=False))
    assert (await _outcomes(app, sink)) == {SUBSCRIBER: ["7501", "7500"]}


async def test_frequency_cap(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI, sink: CallbackSink
) -> None:
    group = await _group(client, service, cap_count=2, cap_period_seconds=3600)
    await send(_policy_body(group, SUBSCRIBER, SUBSCRIBER, sink=sink, check=False, cap=True))
    await send(_policy_body(group, SUBSCRIBER, "+14155550101", sink=sink, check=False, cap=True))
    outcomes = await _outcomes(app, sink)
    assert sorted(outcomes[SUBSCRIBER]) == ["7500", "7500", "7501", "7501", "7702"]
    assert outcomes["+14155550101"] == ["7501", "7500"]


async def test_stop_and_start_keywords_feed_consent(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI, sink: CallbackSink
) -> None:
    group = await _group(client, service)

    async def inbound(body: str, carrier_id: str) -> None:
        async with app.state.session_factory() as session, session.begin():
            await receive(
                session, InboundMessage("test", carrier_id, SUBSCRIBER, SENDER, body), settings=app.state.settings
            )

    history = f"/restcomm/2012-04-24/Accounts/{service.account.sid}/Connect/PolicyGroups/{group}/Consents/{SUBSCRIBER}"
    await inbound("START", "in-1")
    assert (await client.get(history, auth=service.account.auth)).json()["consent"] == "opt_in"
    await send(_policy_body(group, SUBSCRIBER, sink=sink))
    assert (await _outcomes(app, sink)) == {SUBSCRIBER: ["7501", "7500"]}

    sink.reset()
    await inbound(" stop ", "in-2")
    records = (await client.get(history, auth=service.account.auth)).json()
    assert records["consent"] == "opt_out" and records["records"][-1]["source"] == "keyword"
    # Blocked by the inbound pair opt-out (STOP to this sender) even without a consent check.
    await send(_policy_body(group, SUBSCRIBER, sink=sink, check=False))
    assert (await _outcomes(app, sink)) == {SUBSCRIBER: ["7109"]}

    sink.reset()
    await inbound("hello", "in-3")  # not a keyword: no record
    assert len((await client.get(history, auth=service.account.auth)).json()["records"]) == 2


async def test_unknown_group_is_rejected(send: Send, sink: CallbackSink) -> None:
    answer = await send(_policy_body("nope", SUBSCRIBER, sink=sink))
    assert answer["response"]["code"] == "7004"

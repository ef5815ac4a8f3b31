"""POST /resources/v1/messaging: every documented code, the answer's shape, atomic batches."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from message_exchange.accounts.models import Account
from message_exchange.connect.models import ConnectTransaction
from message_exchange.jobs.models import Job
from message_exchange.messages.models import Message
from message_exchange.messages.service import dispatch_sids
from message_exchange.numbers.models import IncomingPhoneNumber
from tests.connect.conftest import ALPHA, SENDER, Counts, Send, Service, sms_body


def _error(answer: Any) -> tuple[str, str]:
    assert isinstance(answer["response"], dict), answer
    uuid.UUID(answer["response"]["transid"])
    return answer["response"]["code"], answer["response"]["description"]


async def test_accepts_and_answers_one_entry_per_destination(send: Send, app: FastAPI, counts: Counts) -> None:
    body = sms_body("+14155550100", "+14155550101", correlationid="batch-7", callbackData="cb")
    body["destination"][1]["correlationid"] = "own-id"
    answer = await send(body)
    entries = answer["response"]
    assert [e["code"] for e in entries] == ["1001", "1001"]
    assert [e["description"] for e in entries] == ["Queued", "Queued"]
    assert [e["correlationid"] for e in entries] == ["batch-7", "own-id"]
    assert len({e["transid"] for e in entries}) == 2
    async with app.state.session_factory() as session:
        rows = (
            await session.execute(
                select(ConnectTransaction, Message).join(Message, Message.sid == ConnectTransaction.message_sid)
            )
        ).all()
    by_transid = {txn.transid: (txn, message) for txn, message in rows}
    for entry in entries:
        txn, message = by_transid[entry["transid"]]
        assert message.status == "queued" and message.from_address == SENDER and message.body == "Hello"
        assert txn.callback_data == "cb" and txn.correlationid == entry["correlationid"]
    assert (await counts()) == {"messages": 2, "message.dispatch": 2}


async def test_msisdn_without_plus_and_default_sender(send: Send, app: FastAPI) -> None:
    body = {"deliverychannel": "sms", "channels": {"sms": {"text": "hi"}}, "destination": [{"msisdn": ["14155550100"]}]}
    answer = await send(body)
    assert answer["response"][0]["code"] == "1001"
    async with app.state.session_factory() as session:
        message = (await session.execute(select(Message))).scalar_one()
    assert message.to_address == "+14155550100" and message.from_address == SENDER


async def test_alphanumeric_sender_of_the_service(send: Send) -> None:
    body = sms_body("+14155550100")
    body["channels"]["sms"]["senderid"] = ALPHA
    assert (await send(body))["response"][0]["code"] == "1001"


@pytest.mark.parametrize(
    "key,code,description",
    [("", "7002", "Service Key Missing"), ("not-a-key", "7001", "Authentication failed")],
)
async def test_keys(client: httpx.AsyncClient, service: Service, key: str, code: str, description: str) -> None:
    headers = {"key": key} if key else {}
    response = await client.post("/resources/v1/messaging", json=sms_body("+14155550100"), headers=headers)
    assert response.status_code == 200
    assert _error(response.json()) == (code, description)


async def test_rotated_key_stops_the_old_one(client: httpx.AsyncClient, service: Service, send: Send) -> None:
    rotated = await client.post(service.admin("/Key"), auth=service.account.auth)
    new_key = rotated.json()["key"]
    assert _error(await send(sms_body("+14155550100")))[0] == "7001"
    assert (await send(sms_body("+14155550100"), key=new_key))["response"][0]["code"] == "1001"


async def test_disabled_service_fails_authentication(client: httpx.AsyncClient, service: Service, send: Send) -> None:
    await client.post(service.admin(), json={"status": "disabled"}, auth=service.account.auth)
    assert _error(await send(sms_body("+14155550100")))[0] == "7001"


def _without(path: str) -> dict[str, Any]:
    body = sms_body("+14155550100")
    node: Any = body
    *parents, last = path.split(".")
    for name in parents:
        node = node[name]
    del node[last]
    return body


@pytest.mark.parametrize(
    "body,code,fragment",
    [
        (_without("deliverychannel"), "7003", "deliverychannel"),
        (_without("channels"), "7003", "channels"),
        (_without("channels.sms"), "7003", "'sms' missing for channel sms"),
        (_without("channels.sms.text"), "7003", "'text' missing for channel sms"),
        (_without("destination"), "7003", "destination"),
        (sms_body(), "7003", "destination"),
        ({**sms_body(), "destination": [{"correlationid": "x"}]}, "7003", "any one of [msisdn] is mandatory"),
        ({**sms_body(), "destination": [{"email": ["a@example.com"]}]}, "7004", "email"),
        ({**sms_body("+14155550100"), "deliverychannel": "voice"}, "7004", "'voice' is not supported"),
        ({**sms_body("+14155550100"), "deliverychannel": "whatsapp"}, "7004", "'whatsapp' is not supported"),
        ({**sms_body("+14155550100"), "deliverychannel": "push"}, "7004", "'push' is not supported"),
        ({**sms_body("+14155550100"), "deliverychannel": "appmessaging"}, "7004", "'appmessaging' is not supported"),
        ({**sms_body("+14155550100"), "deliverychannel": "rt"}, "7004", "'rt' is not supported"),
        ({**sms_body("+14155550100"), "deliverychannel": "fb"}, "7004", "'fb' is not supported"),
        (
            {**sms_body("+14155550100"), "deliverychannel": "AppleBusinessChat"},
            "7004",
            "'AppleBusinessChat' is not supported",
        ),
        ({**sms_body("+14155550100"), "deliverychannel": "pigeon"}, "7004", "pigeon"),
        (sms_body("+14155550100", text="x" * 1025), "7107", "Message too long"),
        (sms_body("+1415"), "7102", "Invalid address"),
        (sms_body("+14155550100", "bogus"), "7102", "Invalid address"),
        ({**sms_body("+14155550100"), "correlationid": "c" * 51}, "7004", "correlationid"),
        ({**sms_body("+14155550100"), "expiry": "next tuesday"}, "7004", "expiry"),
        ({**sms_body("+14155550100"), "message": {"template": "nope"}, "channels": {"sms": {}}}, "7004", "nope"),
        ({**sms_body("+14155550100"), "contactPolicy": {"channelCheckConsent": True}}, "7003", "contactPolicyGroup"),
    ],
)
async def test_documented_errors_store_nothing(
    send: Send, counts: Counts, body: dict[str, Any], code: str, fragment: str
) -> None:
    got_code, description = _error(await send(body))
    assert got_code == code and fragment in description, description
    assert (await counts()) == {"messages": 0}


@pytest.mark.parametrize(
    "sms,code,fragment",
    [
        ({"text": "hi", "senderid": "OTHER"}, "7101", "Invalid Sender ID"),
        ({"text": "hi", "senderid": SENDER, "type": "9"}, "7004", "type"),
        ({"senderid": SENDER, "type": "3"}, "7003", "'body' missing for channel sms"),
        ({"senderid": SENDER, "type": "3", "body": "zz"}, "7004", "hexadecimal"),
        ({"text": "x" * 1025, "senderid": SENDER, "type": "4"}, "7107", "Message too long"),
    ],
)
async def test_sms_block_errors(send: Send, counts: Counts, sms: dict[str, Any], code: str, fragment: str) -> None:
    body = sms_body("+14155550100")
    body["channels"]["sms"] = sms
    got_code, description = _error(await send(body))
    assert got_code == code and fragment in description
    assert (await counts()) == {"messages": 0}


@pytest.mark.parametrize("sms_type", ["1", "2", "4", 2])
async def test_message_types(send: Send, sms_type: Any) -> None:
    body = sms_body("+14155550100", text="Grüße 👋")
    body["channels"]["sms"]["type"] = sms_type
    assert (await send(body))["response"][0]["code"] == "1001"


async def test_binary_body(send: Send, app: FastAPI) -> None:
    body = sms_body("+14155550100")
    body["channels"]["sms"] = {"senderid": SENDER, "type": "3", "body": "0a0b0c", "extras": {"dlt_templateid": "1107"}}
    assert (await send(body))["response"][0]["code"] == "1001"
    async with app.state.session_factory() as session:
        txn, message = (
            await session.execute(
                select(ConnectTransaction, Message).join(Message, Message.sid == ConnectTransaction.message_sid)
            )
        ).one()
    assert message.body == "0A0B0C" and txn.sms_type == "3" and txn.extras == {"dlt_templateid": "1107"}


async def test_status_shows_type_and_extras(send: Send, client: httpx.AsyncClient, service: Service) -> None:
    body = sms_body("+14155550100")
    body["channels"]["sms"].update({"type": "2", "extras": {"dlt_templateid": "1107158158796985790"}})
    transid = (await send(body))["response"][0]["transid"]
    response = await client.get(f"/resources/v1/messaging/status/{transid}", headers={"key": service.key})
    [status] = response.json()
    assert (
        status["type"] == "outbound-api"
        and status["sms_type"] == "2"
        and status["extras"] == {"dlt_templateid": "1107158158796985790"}
    )


async def test_invalid_json(send: Send, counts: Counts) -> None:
    assert _error(await send(None, raw=b'{"deliverychannel": "sms",'))[0] == "7000"
    assert _error(await send(None, raw=b"[1, 2]"))[0] == "7000"


async def test_a_thousand_destinations_in_one_transaction(send: Send, counts: Counts, app: FastAPI) -> None:
    numbers = [f"+1415555{i:04d}" for i in range(1000)]
    answer = await send(sms_body(*numbers))
    assert len(answer["response"]) == 1000 and {e["code"] for e in answer["response"]} == {"1001"}
    assert (await counts()) == {"messages": 1000, "message.dispatch": 1000}
    async with app.state.session_factory() as session:  # sent together: five shared jobs, not a thousand
        jobs = (await session.execute(select(Job.payload).where(Job.kind == "message.dispatch"))).scalars().all()
        sids = (await session.execute(select(Message.sid))).scalars().all()
    assert len(jobs) == 5 and sorted(sid for job in jobs for sid in dispatch_sids(job)) == sorted(sids)


async def test_a_thousand_and_one_are_rejected(send: Send, counts: Counts) -> None:
    numbers = [f"+1415555{i:04d}" for i in range(1001)]
    code, description = _error(await send(sms_body(*numbers)))
    assert code == "7004" and "1000" in description
    assert (await counts()) == {"messages": 0}


async def test_one_bad_destination_rejects_the_batch(send: Send, counts: Counts) -> None:
    numbers = [f"+1415555{i:04d}" for i in range(999)] + ["+1-not-a-number"]
    assert _error(await send(sms_body(*numbers)))[0] == "7102"
    assert (await counts()) == {"messages": 0}


async def test_status_endpoint(send: Send, client: httpx.AsyncClient, service: Service) -> None:
    transid = (await send(sms_body("+14155550100", correlationid="c1")))["response"][0]["transid"]
    response = await client.get(f"/resources/v1/messaging/status/{transid}", headers={"key": service.key})
    [status] = response.json()
    assert status["transactionid"] == transid and status["status"] == "queued" and status["correlationid"] == "c1"
    missing = await client.get(f"/resources/v1/messaging/status/{uuid.uuid4()}", headers={"key": service.key})
    assert _error(missing.json())[0] == "7004"


async def test_status_of_another_services_transaction_is_not_found(
    send: Send, client: httpx.AsyncClient, service: Service
) -> None:
    transid = (await send(sms_body("+14155550100")))["response"][0]["transid"]
    other = await client.post(
        f"/restcomm/2012-04-24/Accounts/{service.account.sid}/Connect/Services",
        json={"name": "other", "sender_ids": [SENDER]},
        auth=service.account.auth,
    )
    assert other.status_code == 201, other.text
    path = f"/resources/v1/messaging/status/{transid}"
    assert _error((await client.get(path, headers={"key": other.json()["key"]})).json())[0] == "7004"
    assert (await client.get(path, headers={"key": service.key})).json()[0]["transactionid"] == transid


async def test_nul_characters_are_refused_not_stored(send: Send, counts: Counts) -> None:
    raw = (
        b'{"deliverychannel": "sms", "channels": {"sms": {"text": "a\\u0000b"}}, '
        b'"destination": [{"msisdn": ["+14155550100"]}]}'
    )
    assert _error(await send(None, raw=raw))[0] == "7004"
    assert (await counts()) == {"messages": 0}


async def test_malformed_ids_are_not_found(client: httpx.AsyncClient, service: Service) -> None:
    assert (await client.get("/l/bad%00code")).status_code == 404
    status = await client.get("/resources/v1/messaging/status/x%00y", headers={"key": service.key})
    assert _error(status.json())[0] == "7004"
    bad = f"/restcomm/2012-04-24/Accounts/{service.account.sid}/Connect/Services/CS%00"
    assert (await client.get(bad, auth=service.account.auth)).status_code == 404


async def test_msisdn_lists_share_their_entry_correlationid(send: Send, app: FastAPI) -> None:
    body = sms_body(correlationid="top")
    body["destination"] = [
        {"msisdn": ["+14155550100", "+14155550101", "14155550102"], "correlationid": "entry-1"},
        {"msisdn": ["+14155550103"]},
    ]
    entries = (await send(body))["response"]
    assert [e["correlationid"] for e in entries] == ["entry-1", "entry-1", "entry-1", "top"]
    async with app.state.session_factory() as session:
        rows = dict((await session.execute(select(ConnectTransaction.transid, ConnectTransaction.destination))).all())
    assert [rows[e["transid"]] for e in entries] == ["+14155550100", "+14155550101", "+14155550102", "+14155550103"]


async def test_a_thousand_msisdns_counted_across_entries(send: Send, counts: Counts) -> None:
    def body(total: int) -> dict[str, Any]:
        numbers = [f"+1415555{i:04d}" for i in range(total)]
        return sms_body(destination=[{"msisdn": numbers[:500]}, {"msisdn": numbers[500:]}])

    code, description = _error(await send(body(1001)))
    assert code == "7004" and "1000" in description and (await counts()) == {"messages": 0}
    assert len((await send(body(1000)))["response"]) == 1000


async def test_suspended_account_key_fails_authentication(send: Send, app: FastAPI, service: Service) -> None:
    async with app.state.session_factory() as session, session.begin():
        await session.execute(update(Account).where(Account.sid == service.account.sid).values(status="suspended"))
    assert _error(await send(sms_body("+14155550100"))) == ("7001", "Authentication failed")


@pytest.mark.parametrize("sms_type,expected", [(None, ("1", 2)), ("", ("1", 2)), ("1", ("1", 2)), ("4", ("4", 3))])
async def test_type_defaults_and_unicode_segments(
    send: Send, app: FastAPI, sms_type: str | None, expected: tuple[str, int]
) -> None:
    # 170 GSM-7 characters: two parts of 153; type 4 (unicode) sends them UCS-2, three parts of 67.
    body = sms_body("+14155550100", text="x" * 170)
    body["channels"]["sms"]["type"] = sms_type
    assert (await send(body))["response"][0]["code"] == "1001"
    async with app.state.session_factory() as session:
        txn, message = (
            await session.execute(
                select(ConnectTransaction, Message).join(Message, Message.sid == ConnectTransaction.message_sid)
            )
        ).one()
    assert (txn.sms_type, message.num_segments) == expected


async def test_sender_numbers_must_be_the_accounts_own(
    client: httpx.AsyncClient, service: Service, make_account: Any, own_number: Any
) -> None:
    other = await make_account()
    await own_number(other, "+15550008888")
    auth = service.account.auth
    for sender in ("+15550008888", "+15550007777"):  # another tenant's number; nobody's number
        response = await client.post(service.admin(), json={"sender_ids": [sender]}, auth=auth)
        assert response.status_code == 400 and response.json()["code"] == 21606, response.text
    short_code = await client.post(service.admin(), json={"sender_ids": ["12345"]}, auth=auth)
    assert short_code.status_code == 400 and "operator" in short_code.json()["message"]
    shown = await client.get(service.admin(), auth=auth)
    assert shown.json()["sender_ids"] == [SENDER, ALPHA]  # unchanged


async def test_a_released_sender_number_is_refused_at_send_time(send: Send, app: FastAPI, counts: Counts) -> None:
    async with app.state.session_factory() as session, session.begin():
        await session.execute(
            update(IncomingPhoneNumber).where(IncomingPhoneNumber.phone_number == SENDER).values(sms_capable=False)
        )
    code, description = _error(await send(sms_body("+14155550100")))
    assert code == "7101" and SENDER in description
    assert (await counts()) == {"messages": 0}

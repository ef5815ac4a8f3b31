"""Sending through the Messages API: validation, what is stored, the response."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.jobs.models import Job
from message_exchange.messages.models import Message
from tests.support.accounts import Creds, MakeAccount, OwnNumber

pytestmark = pytest.mark.usefixtures("root_numbers")


async def _counts(app: FastAPI) -> tuple[int, int]:
    async with app.state.session_factory() as session:
        messages = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
        jobs = (await session.execute(select(func.count()).select_from(Job))).scalar_one()
        return int(messages), int(jobs)


def _url(account: str, prefix: str = "/api/2012-04-24") -> str:
    return f"{prefix}/Accounts/{account}/Messages"


@pytest.mark.parametrize("prefix", ["/api/2012-04-24", "/restcomm/2012-04-24"])
async def test_send_stores_queued_message_and_its_job(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, prefix: str
) -> None:
    response = await client.post(
        _url(root.sid, prefix),
        data={
            "from": "mms:+19876543210",
            "to": "mms:+13216540987",
            "body": "Test Message",
            "status_callback": "http://status.callback.url/cb",
            "media_list": '[{"url":"https://example.com/image.jpeg","content-type":"image/jpeg"}]',
        },
        auth=root.auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert body["status"] == "queued" and body["direction"] == "outbound-api"
    assert body["from"] == "mms:+19876543210" and body["to"] == "mms:+13216540987"
    assert body["account_sid"] == root.sid and body["api_version"] == "2012-04-24"
    assert body["media_list"] == [{"url": "https://example.com/image.jpeg", "content-type": "image/jpeg"}]
    assert body["uri"] == f"{prefix}/Accounts/{root.sid}/Messages/{body['sid']}.json"
    assert body["num_segments"] == 1 and body["error_code"] is None
    assert await _counts(app) == (1, 1)
    fetched = await client.get(f"{_url(root.sid, prefix)}/{body['sid']}.json", auth=root.auth)
    assert fetched.status_code == 200 and fetched.json()["sid"] == body["sid"]


async def test_send_accepts_json_with_a_real_media_array(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.post(
        _url(root.sid),
        json={
            "from": "mms:+19876543210",
            "to": "mms:+13216540987",
            "media_list": [{"url": "https://example.com/a.png", "content_type": "image/png"}],
        },
        auth=root.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_list"][0]["content-type"] == "image/png"


async def test_alphanumeric_sender_and_segments(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.post(
        _url(root.sid), data={"from": "sms:Acme Shop", "to": "sms:+13216540987", "body": "x" * 161}, auth=root.auth
    )
    assert response.status_code == 200, response.text
    assert response.json()["from"] == "sms:Acme Shop"
    assert response.json()["num_segments"] == 2
    emoji = await client.post(
        _url(root.sid), data={"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "😀" * 35}, auth=root.auth
    )
    assert emoji.json()["num_segments"] == 1  # 70 UCS-2 units fit one segment
    emoji = await client.post(
        _url(root.sid), data={"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "😀" * 36}, auth=root.auth
    )
    assert emoji.json()["num_segments"] == 2


BAD_SENDS = [
    ({"to": "sms:+13216540987", "body": "x"}, "from"),
    ({"from": "sms:+19876543210", "body": "x"}, "to"),
    ({"from": "sms:+19876543210", "to": "sms:+13216540987"}, "body"),
    ({"from": "fax:+19876543210", "to": "sms:+13216540987", "body": "x"}, "from"),
    ({"from": "sms:+19876543210", "to": "+13216540987", "body": "x"}, "to"),
    ({"from": "sms:+19876543210", "to": "sms:13216540987", "body": "x"}, "to"),
    ({"from": "sms:+19876543210", "to": "sms:+1", "body": "x"}, "to"),
    ({"from": "sms:TooLongSenderId", "to": "sms:+13216540987", "body": "x"}, "from"),
    ({"from": "sms:Bad-Chars!", "to": "sms:+13216540987", "body": "x"}, "from"),
    ({"from": "sms:+19876543210", "to": "mms:+13216540987", "body": "x"}, "to"),
    ({"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "x" * 1601}, "body"),
    ({"from": "mms:+19876543210", "to": "mms:+13216540987", "media_list": "not json"}, "media_list"),
    ({"from": "mms:+19876543210", "to": "mms:+13216540987", "media_list": '{"url": "x"}'}, "media_list"),
    ({"from": "mms:+19876543210", "to": "mms:+13216540987", "media_list": '[{"url": "ftp://x/y"}]'}, "media_list"),
    ({"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "x", "status_callback": "nope"}, "status_callback"),
    (
        {"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "x", "status_callback_method": "PUT"},
        "status_callback_method",
    ),
]


@pytest.mark.parametrize("data,param", BAD_SENDS)
async def test_bad_send_is_400_and_stores_nothing(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, data: dict[str, str], param: str
) -> None:
    response = await client.post(_url(root.sid), data=data, auth=root.auth)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and param in body["message"]
    assert await _counts(app) == (0, 0)


async def test_other_tenants_account_is_404(client: httpx.AsyncClient, root: Creds, make_account: MakeAccount) -> None:
    stranger = await make_account()
    data = {"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "x"}
    assert (await client.post(_url(stranger.sid), data=data, auth=root.auth)).status_code == 404
    mine = (await client.post(_url(root.sid), data=data, auth=root.auth)).json()
    assert (await client.get(f"{_url(root.sid)}/{mine['sid']}", auth=stranger.auth)).status_code == 404
    assert (await client.get(f"{_url(stranger.sid)}/{mine['sid']}", auth=stranger.auth)).status_code == 404


async def test_parent_sends_for_child(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount, own_number: OwnNumber
) -> None:
    child = await make_account(root)
    data = {"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "x"}
    not_the_childs = await client.post(_url(child.sid), data=data, auth=root.auth)
    assert not_the_childs.status_code == 400 and not_the_childs.json()["code"] == 21606
    await own_number(child, "+19876500000")
    data["from"] = "sms:+19876500000"
    sent = await client.post(_url(child.sid), data=data, auth=root.auth)
    assert sent.status_code == 200 and sent.json()["account_sid"] == child.sid
    assert (await client.get(f"{_url(child.sid)}/{sent.json()['sid']}.json", auth=child.auth)).status_code == 200


async def test_xml_send(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.post(
        f"{_url(root.sid)}.xml",
        data={"from": "sms:+19876543210", "to": "sms:+13216540987", "body": "a<b"},
        auth=root.auth,
    )
    assert response.status_code == 200
    assert b"<Message><Sid>SM" in response.content and b"<Body>a&lt;b</Body>" in response.content


async def test_sender_must_be_an_owned_capable_number(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount, own_number: OwnNumber
) -> None:
    stranger = await make_account()
    await own_number(stranger, "+19876511111")
    await own_number(root, "+19876522222", mms_capable=False)
    for sender in ("sms:+19876599999", "sms:+19876511111", "mms:+19876522222"):
        recipient = sender.split(":")[0] + ":+13216540987"
        response = await client.post(
            _url(root.sid), data={"from": sender, "to": recipient, "body": "x"}, auth=root.auth
        )
        assert response.status_code == 400, sender
        assert response.json()["code"] == 21606 and "from" in response.json()["message"]
    assert await _counts(app) == (0, 0)
    ok = await client.post(
        _url(root.sid), data={"from": "sms:+19876522222", "to": "sms:+13216540987", "body": "x"}, auth=root.auth
    )
    assert ok.status_code == 200

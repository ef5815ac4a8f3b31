"""Restcomm's classic SMS API: /Accounts/{sid}/SMS/Messages[.json|.xml]."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
import pytest
from fastapi import FastAPI

from tests.fakes.callback_sink import CallbackSink
from tests.support.accounts import Creds
from tests.support.pipeline import drain

pytestmark = pytest.mark.usefixtures("root_numbers")


def _url(account: str, suffix: str = ".json") -> str:
    return f"/restcomm/2012-04-24/Accounts/{account}/SMS/Messages{suffix}"


async def test_send_get_list(client: httpx.AsyncClient, root: Creds) -> None:
    sent = await client.post(
        _url(root.sid), data={"From": "+19876543210", "To": "+13216540987", "Body": "Hi"}, auth=root.auth
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["from"] == "+19876543210" and body["to"] == "+13216540987" and body["status"] == "queued"
    assert body["uri"] == f"/restcomm/2012-04-24/Accounts/{root.sid}/SMS/Messages/{body['sid']}.json"
    one = await client.get(f"{_url(root.sid, '')}/{body['sid']}.json", auth=root.auth)
    assert one.json() == body
    listed = (await client.get(_url(root.sid), auth=root.auth)).json()
    assert listed["total"] == 1 and listed["num_pages"] == 1 and listed["next_page_uri"] == "null"
    assert listed["last_page_uri"] == f"{_url(root.sid)}?Page=0&PageSize=50"
    assert [m["sid"] for m in listed["messages"]] == [body["sid"]]


async def test_xml(client: httpx.AsyncClient, root: Creds) -> None:
    sent = await client.post(
        _url(root.sid, ".xml"), data={"From": "+19876543210", "To": "+13216540987", "Body": "Hi"}, auth=root.auth
    )
    doc = ET.fromstring(sent.content)
    assert doc.find("SMSMessage/From") is not None and doc.findtext("SMSMessage/From") == "+19876543210"
    listed = ET.fromstring((await client.get(_url(root.sid, ".xml"), auth=root.auth)).content)
    messages = listed.find("SMSMessages")
    assert messages is not None and messages.get("total") == "1"
    assert len(messages.findall("SMSMessage")) == 1


@pytest.mark.parametrize(
    "data,code",
    [
        ({"From": "+19876543210", "Body": "x"}, 21604),
        ({"To": "+13216540987", "Body": "x"}, 21603),
        ({"From": "+19876543210", "To": "12345", "Body": "x"}, 21211),
        ({"From": "+19876543210", "To": "+13216540987"}, 21602),
        ({"From": "+19876543210", "To": "+13216540987", "Body": "é" * 1601}, 21617),
        ({"From": "+19876543210", "To": "+13216540987", "Body": "x", "StatusCallback": "ftp://x"}, 21609),
    ],
)
async def test_bad_send(client: httpx.AsyncClient, root: Creds, data: dict[str, str], code: int) -> None:
    response = await client.post(_url(root.sid), data=data, auth=root.auth)
    assert response.status_code == 400 and response.json()["code"] == code
    assert (await client.get(_url(root.sid), auth=root.auth)).json()["total"] == 0


async def test_classic_callbacks_use_plain_numbers(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    await client.post(
        _url(root.sid),
        data={"From": "+19876543210", "To": "+13216540987", "Body": "Hi", "StatusCallback": sink.url("/cb")},
        auth=root.auth,
    )
    await drain(app)
    received = await sink.wait_for(3, path="/cb")
    assert {r.method for r in received} == {"POST"}  # classic default, as Twilio
    assert received[-1].form["From"] == "+19876543210" and received[-1].form["MessageStatus"] == "delivered"

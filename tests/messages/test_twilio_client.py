"""The official ``twilio`` Python client, unchanged, against our Twilio-shaped routes over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.fakes.loopback import LoopbackServer
from tests.support.accounts import Creds, MakeAccount

pytestmark = pytest.mark.usefixtures("root_numbers")


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[LoopbackServer]:
    # The app's lifespan already ran (the `app` fixture); the server only serves it.
    loopback = LoopbackServer(app)
    await loopback.start()
    yield loopback
    await loopback.stop()


def _client(server: LoopbackServer, creds: Creds) -> Client:
    client = Client(creds.sid, creds.token)
    client.api.base_url = server.base_url
    return client


async def test_create_fetch_and_list_across_pages(server: LoopbackServer, root: Creds) -> None:
    client = _client(server, root)

    def create(n: int) -> str:
        message = client.messages.create(to="+13216540987", from_="+19876543210", body=f"hello {n}")
        assert message.status == "queued" and message.direction == "outbound-api"
        assert message.account_sid == root.sid and message.body == f"hello {n}"
        assert message.num_segments == "1" and message.to == "+13216540987"
        return str(message.sid)

    sids = [await asyncio.to_thread(create, n) for n in range(5)]
    fetched = await asyncio.to_thread(lambda: client.messages(sids[2]).fetch())
    assert fetched.sid == sids[2] and fetched.body == "hello 2" and fetched.from_ == "+19876543210"
    listed = await asyncio.to_thread(lambda: client.messages.list(page_size=2))
    assert sorted(m.sid for m in listed) == sorted(sids)  # three pages followed through next_page_uri
    only_to = await asyncio.to_thread(lambda: client.messages.list(to="+13216540987", page_size=50))
    assert len(only_to) == 5


async def test_media_url_makes_mms(server: LoopbackServer, root: Creds) -> None:
    client = _client(server, root)
    message = await asyncio.to_thread(
        lambda: client.messages.create(
            to="+13216540987", from_="+19876543210", media_url=["https://example.com/cat.png"]
        )
    )
    assert message.num_media == "1"


@pytest.mark.parametrize(
    "kwargs,code,status",
    [
        ({"to": "not-a-number", "from_": "+19876543210", "body": "x"}, 21211, 400),
        ({"to": "+13216540987", "from_": "???", "body": "x"}, 21212, 400),
        ({"to": "+13216540987", "from_": "+19876543210"}, 21602, 400),
        ({"to": "+13216540987", "from_": "+19876599999", "body": "x"}, 21606, 400),
        ({"to": "+13216540987", "from_": "+19876543210", "body": "x" * 1601}, 21617, 400),
    ],
)
async def test_error_codes(server: LoopbackServer, root: Creds, kwargs: dict[str, str], code: int, status: int) -> None:
    client = _client(server, root)
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(lambda: client.messages.create(**kwargs))
    assert caught.value.code == code and caught.value.status == status


async def test_missing_to_is_21604(server: LoopbackServer, root: Creds) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, auth=root.auth) as http:
        response = await http.post(
            f"/2010-04-01/Accounts/{root.sid}/Messages.json", data={"From": "+19876543210", "Body": "x"}
        )
    assert response.status_code == 400
    assert response.json()["code"] == 21604 and response.json()["more_info"].endswith("21604")


async def test_auth_and_not_found(server: LoopbackServer, root: Creds, make_account: MakeAccount) -> None:
    client = _client(server, root)
    sent = await asyncio.to_thread(lambda: client.messages.create(to="+13216540987", from_="+19876543210", body="mine"))
    wrong = Client(root.sid, "0" * 32)
    wrong.api.base_url = server.base_url
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(wrong.messages(sent.sid).fetch)
    assert caught.value.status == 401 and caught.value.code == 20003
    with pytest.raises(TwilioRestException) as missing:
        await asyncio.to_thread(client.messages("SM" + "0" * 32).fetch)
    assert missing.value.status == 404 and missing.value.code == 20404
    stranger = await make_account()
    other = Client(stranger.sid, stranger.token)
    other.api.base_url = server.base_url
    # someone else's account in the path, and someone else's message in our own path: both unknown
    with pytest.raises(TwilioRestException) as foreign:
        await asyncio.to_thread(other.api.v2010.accounts(root.sid).messages(sent.sid).fetch)
    assert foreign.value.status == 404
    with pytest.raises(TwilioRestException) as not_ours:
        await asyncio.to_thread(other.messages(sent.sid).fetch)
    assert not_ours.value.status == 404

"""Users see every callback delivery and attempt through the REST API; tenants only their own."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
from fastapi import FastAPI

from tests.fakes.callback_sink import CallbackSink
from tests.support.accounts import Creds, MakeAccount
from tests.webhooks.helpers import enqueue, run_until_settled

BASE = "/restcomm/2012-04-24/Accounts"
MESSAGE = "SM" + "5" * 32


async def _two_deliveries(app: FastAPI, account: Creds, sink: CallbackSink) -> tuple[str, str]:
    sink.respond("/ok", status=500)
    sink.respond("/bad", status=410)
    ok = await enqueue(app, account_sid=account.sid, url=sink.url("/ok"), resource_sid=MESSAGE)
    bad = await enqueue(
        app, account_sid=account.sid, url=sink.url("/bad"), resource_sid="SM" + "6" * 32, purpose="sms_url"
    )
    await run_until_settled(app, [ok, bad])
    return ok, bad


async def test_get_shows_the_delivery_and_every_attempt(
    app: FastAPI, client: httpx.AsyncClient, root: Creds, sink: CallbackSink
) -> None:
    ok, _ = await _two_deliveries(app, root, sink)
    response = await client.get(f"{BASE}/{root.sid}/WebhookDeliveries/{ok}.json", auth=root.auth)
    assert response.status_code == 200
    body = response.json()
    assert body["sid"] == ok and body["status"] == "delivered" and body["attempts"] == 2
    assert body["resource_sid"] == MESSAGE and body["purpose"] == "status_callback"
    assert body["url"] == sink.url("/ok") and body["method"] == "POST"
    assert body["params"] == {"MessageSid": MESSAGE, "MessageStatus": "sent"}
    assert [(a["attempt"], a["status_code"], a["error"]) for a in body["attempt_list"]] == [
        (1, 500, "HTTP 500"),
        (2, 200, None),
    ]
    assert body["uri"] == f"{BASE}/{root.sid}/WebhookDeliveries/{ok}.json"
    xml = await client.get(f"{BASE}/{root.sid}/WebhookDeliveries/{ok}.xml", auth=root.auth)
    assert xml.status_code == 200
    assert ET.fromstring(xml.content).findtext("WebhookDelivery/Sid") == ok


async def test_list_filters_and_pages(app: FastAPI, client: httpx.AsyncClient, root: Creds, sink: CallbackSink) -> None:
    ok, bad = await _two_deliveries(app, root, sink)
    url = f"{BASE}/{root.sid}/WebhookDeliveries.json"
    everything = (await client.get(url, auth=root.auth)).json()
    assert everything["total"] == 2
    assert [d["sid"] for d in everything["webhook_deliveries"]] == [bad, ok]  # newest first
    for params, expected in [
        ({"ResourceSid": MESSAGE}, [ok]),
        ({"Purpose": "sms_url"}, [bad]),
        ({"Status": "failed"}, [bad]),
        ({"Status": "pending"}, []),
    ]:
        page = (await client.get(url, params=params, auth=root.auth)).json()
        assert [d["sid"] for d in page["webhook_deliveries"]] == expected, params
    first = (await client.get(url, params={"PageSize": 1}, auth=root.auth)).json()
    assert [d["sid"] for d in first["webhook_deliveries"]] == [bad] and first["num_pages"] == 2
    second = (await client.get(first["next_page_uri"], auth=root.auth)).json()
    assert [d["sid"] for d in second["webhook_deliveries"]] == [ok]
    assert (await client.get(url, params={"Status": "lost"}, auth=root.auth)).status_code == 400
    assert (await client.get(url, params={"Page": 5}, auth=root.auth)).status_code == 400


async def test_other_tenants_get_404_and_parents_see_children(
    app: FastAPI, client: httpx.AsyncClient, root: Creds, make_account: MakeAccount, sink: CallbackSink
) -> None:
    child = await make_account(root)
    stranger = await make_account()
    ok, _ = await _two_deliveries(app, child, sink)
    one = f"{BASE}/{child.sid}/WebhookDeliveries/{ok}.json"
    many = f"{BASE}/{child.sid}/WebhookDeliveries.json"
    assert (await client.get(one, auth=stranger.auth)).status_code == 404
    assert (await client.get(many, auth=stranger.auth)).status_code == 404
    # The sid under the stranger's own account is not found either.
    own = f"{BASE}/{stranger.sid}/WebhookDeliveries/{ok}.json"
    assert (await client.get(own, auth=stranger.auth)).status_code == 404
    assert (await client.get(one, auth=child.auth)).status_code == 200
    assert (await client.get(one, auth=root.auth)).status_code == 200
    assert (await client.get(many, auth=root.auth)).json()["total"] == 2
    assert (await client.get(one)).status_code == 401

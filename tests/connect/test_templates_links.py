"""Templates ({{name}} parameters) and smart links (short URL per destination, redirect, clicks, expiry)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from message_exchange.connect.models import ConnectShortLink
from message_exchange.messages.models import Message
from tests.connect.conftest import Counts, Send, Service, sms_body


async def _bodies(app: FastAPI) -> dict[str, str]:
    async with app.state.session_factory() as session:
        return dict((await session.execute(select(Message.to_address, Message.body))).all())


async def test_template_with_parameters(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI, counts: Counts
) -> None:
    put = await client.put(
        service.admin("/Templates/otp"),
        json={"text": "Hi {{name}}, your code is {{ code }}."},
        auth=service.account.auth,
    )
    assert put.status_code == 200 and put.json()["parameters"] == ["name", "code"]
    listed = await client.get(service.admin("/Templates"), auth=service.account.auth)
    assert [t["template_id"] for t in listed.json()["templates"]] == ["otp"]

    body = sms_body(
        "+14155550100", "+14155550101", message={"template": "otp", "parameters": {"name": "Ann", "code": 7}}
    )
    del body["channels"]["sms"]["text"]
    body["destination"][1]["parameters"] = {"name": "Bob"}  # a personalised destination
    assert [e["code"] for e in (await send(body))["response"]] == ["1001", "1001"]
    assert await _bodies(app) == {"+14155550100": "Hi Ann, your code is 7.", "+14155550101": "Hi Bob, your code is 7."}

    missing = sms_body("+14155550102", message={"template": "otp", "parameters": {"name": "Ann"}})
    del missing["channels"]["sms"]["text"]
    answer = (await send(missing))["response"]
    assert answer["code"] == "7003" and "'code'" in answer["description"] and "otp" in answer["description"]
    assert (await counts())["messages"] == 2


async def test_channel_text_overrides_the_template(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI
) -> None:
    await client.put(service.admin("/Templates/t"), json={"text": "template {{x}}"}, auth=service.account.auth)
    body = sms_body("+14155550100", text="channel {{x}}", message={"template": "t", "parameters": {"x": "1"}})
    await send(body)
    assert await _bodies(app) == {"+14155550100": "channel 1"}


async def test_template_too_long_after_substitution(client: httpx.AsyncClient, service: Service, send: Send) -> None:
    await client.put(service.admin("/Templates/t"), json={"text": "{{x}}"}, auth=service.account.auth)
    body = sms_body("+14155550100", message={"template": "t", "parameters": {"x": "y" * 1100}})
    del body["channels"]["sms"]["text"]
    assert (await send(body))["response"]["code"] == "7107"


async def test_smart_links_redirect_count_and_expire(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI
) -> None:
    auth = service.account.auth
    assert (
        await client.put(service.admin("/SmartLinks/5"), json={"url": "https://shop.example.com/app"}, auth=auth)
    ).status_code == 200
    body = sms_body("+14155550100", "+14155550101", text="Get the app {{link_5}} now")
    body["channels"]["smartlinks"] = [{"linkid": 5, "validity": 30}]
    transids = [e["transid"] for e in (await send(body))["response"]]
    texts = await _bodies(app)
    urls = {}
    for number, text in texts.items():
        match = re.fullmatch(r"Get the app (https://go\.example\.com/l/([A-Za-z0-9_-]+)) now", text)
        assert match, text
        urls[number] = match.group(2)
    assert len(set(urls.values())) == 2  # unique per destination

    code = urls["+14155550100"]
    for _ in range(2):
        followed = await client.get(f"/l/{code}")
        assert followed.status_code == 302 and followed.headers["location"] == "https://shop.example.com/app"
    assert (await client.get("/l/no-such-code")).status_code == 404

    status = await client.get(f"/resources/v1/messaging/status/{transids[0]}", headers={"key": service.key})
    [link] = status.json()[0]["links"]
    assert link["clicks"] == 2 and link["code"] == code and link["url"] == f"https://go.example.com/l/{code}"
    listed = await client.get(service.admin("/ShortLinks"), params={"link_id": "5"}, auth=auth)
    assert sorted(x["clicks"] for x in listed.json()["short_links"]) == [0, 2]
    totals = await client.get(service.admin("/SmartLinks"), auth=auth)
    assert totals.json()["smart_links"] == [
        {"link_id": "5", "url": "https://shop.example.com/app", "short_links": 2, "clicks": 2}
    ]

    async with app.state.session_factory() as session, session.begin():
        await session.execute(
            update(ConnectShortLink)
            .where(ConnectShortLink.code == code)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await client.get(f"/l/{code}")).status_code == 410


async def test_smart_link_validity_window(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI
) -> None:
    await client.put(service.admin("/SmartLinks/a"), json={"url": "https://example.com/a"}, auth=service.account.auth)
    body = sms_body("+14155550100", text="{{link_a}}")
    body["channels"]["smartlinks"] = [{"linkid": "a", "validity": 2}]
    await send(body)
    async with app.state.session_factory() as session:
        link = (await session.execute(select(ConnectShortLink))).scalar_one()
    assert timedelta(days=2) - timedelta(minutes=1) < link.expires_at - link.created_at <= timedelta(days=2)


async def test_unknown_smart_link_and_bad_validity(client: httpx.AsyncClient, service: Service, send: Send) -> None:
    body = sms_body("+14155550100", text="{{link_9}}")
    body["channels"]["smartlinks"] = [{"linkid": 9}]
    assert (await send(body))["response"]["code"] == "7004"
    await client.put(service.admin("/SmartLinks/9"), json={"url": "https://example.com/"}, auth=service.account.auth)
    body["channels"]["smartlinks"] = [{"linkid": 9, "validity": 0}]
    assert (await send(body))["response"]["code"] == "7004"


async def test_admin_api_is_tenant_scoped(client: httpx.AsyncClient, service: Service, make_account: object) -> None:
    other = await make_account()  # type: ignore[operator]
    response = await client.get(
        f"/restcomm/2012-04-24/Accounts/{service.account.sid}/Connect/Services/{service.sid}", auth=other.auth
    )
    assert response.status_code == 404
    own = await client.get(service.admin(), auth=service.account.auth)
    assert own.status_code == 200 and own.json()["key"].startswith("****") and service.key not in own.text


async def test_only_the_links_a_text_uses_get_short_links(
    client: httpx.AsyncClient, service: Service, send: Send, app: FastAPI
) -> None:
    auth = service.account.auth
    await client.put(service.admin("/SmartLinks/a"), json={"url": "https://example.com/a"}, auth=auth)
    await client.put(service.admin("/SmartLinks/b"), json={"url": "https://example.com/b"}, auth=auth)
    body = sms_body("+14155550100", text="only {{ link_a }}")
    body["smartlinks"] = [{"linkid": "a"}, {"linkid": "b"}]  # top-level form, as the document also shows
    await send(body)
    async with app.state.session_factory() as session:
        made = list((await session.execute(select(ConnectShortLink.link_id))).scalars())
    assert made == ["a"]
    assert re.fullmatch(r"only https://go\.example\.com/l/[A-Za-z0-9_-]+", (await _bodies(app))["+14155550100"])


async def test_link_placeholders_without_smartlinks_stay_as_written(service: Service, send: Send, app: FastAPI) -> None:
    await send(sms_body("+14155550100", text="see {{link_5}}"))
    assert await _bodies(app) == {"+14155550100": "see {{link_5}}"}

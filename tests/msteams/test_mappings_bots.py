"""Bot details (secret encrypted and masked) and mappings (Graph-validated users, SMS-enabled numbers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from message_exchange.msteams.models import BotDetails, TeamsMapping
from message_exchange.numbers.models import IncomingPhoneNumber
from tests.fakes.botframework import FakeBotFramework, User
from tests.msteams.conftest import APP_SECRET, OTHER_TENANT, TENANT, admin_body, bot_body
from tests.support.accounts import Creds, MakeAccount, OwnNumber
from tests.webex.conftest import Api, data, error

BOT_FIELDS = {
    "sid",
    "enterpriseSid",
    "enterpriseName",
    "accountSid",
    "accountEmail",
    "dateCreated",
    "dateUpdated",
    "applicationId",
    "tenantId",
    "clientSecret",
    "clientsecret",
    "botAppId",
    "uri",
}
MAPPING_FIELDS = {
    "sid",
    "dateUpdated",
    "dateCreated",
    "accountSid",
    "accountEmail",
    "uri",
    "microsoftAddress",
    "externalAddress",
    "name",
    "enterpriseSid",
    "enterpriseName",
}


async def _enterprise(api: Api, creds: Creds, name: str = "Acme") -> str:
    body = admin_body(name, f"{name.lower()}-{creds.sid[-6:]}@corp.example")
    return str(data(await api(creds, "POST", "/msteams/enterprises", json=body), 201)["sid"])


async def _count(app: FastAPI, model: Any) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _map(api: Api, creds: Creds, enterprise: str, address: str, number: str, **extra: str) -> httpx.Response:
    body = {"microsoftAddress": address, "externalAddress": number, "enterpriseSid": enterprise, **extra}
    return await api(creds, "POST", "/msteams/mappings", json=body)


# Bot details


async def test_bot_details_crud_with_the_secret_encrypted_and_masked(api: Api, root: Creds, app: FastAPI) -> None:
    enterprise = await _enterprise(api, root)
    created = data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(enterprise)))
    assert set(created) == BOT_FIELDS
    assert created["sid"].startswith("BE") and created["enterpriseName"] == "Acme"
    assert created["clientSecret"] == created["clientsecret"] != APP_SECRET
    assert created["clientSecret"].endswith(APP_SECRET[-4:]) and created["clientSecret"].startswith("****")
    async with app.state.session_factory() as session:
        row = await session.get(BotDetails, created["sid"])
        assert row is not None and APP_SECRET not in row.client_secret_encrypted
    sid = created["sid"]
    for path in (f"/msteams/teamsbot/search/{sid}", f"/msteams/teamsbot/details/search/{sid}"):
        assert data(await api(root, "GET", path)) == created
    updated = data(
        await api(
            root, "PUT", f"/msteams/teamsbot/{sid}", json={"clientSecret": "new-secret-value-1234", "botAppId": "b2"}
        )
    )
    assert updated["clientsecret"].endswith("1234") and updated["botAppId"] == "b2"
    assert updated["applicationId"] == created["applicationId"]
    # The document's update example POSTs to /mxteams/teamsbot/details/{sid}.
    posted = await api(root, "POST", f"/mxteams/teamsbot/details/{sid}", json={"tenantId": "t-2"})
    assert data(posted)["tenantId"] == "t-2"
    deleted = data(await api(root, "DELETE", f"/msteams/teamsbot/details/{sid}"))
    assert deleted["sid"] == sid
    assert await _count(app, BotDetails) == 0
    # Created again through the curl line's path.
    again = await api(root, "POST", "/mxteams/teamsbot/details", json=bot_body(enterprise))
    assert data(again)["enterpriseSid"] == enterprise


async def test_bot_details_errors_451_4051_481_and_one_per_business_customer(
    api: Api, root: Creds, make_account: MakeAccount, app: FastAPI
) -> None:
    body = error(await api(root, "POST", "/msteams/teamsbot", json={}), 400, "451")
    assert body["message"] == (
        "Mandatory parameter applicationId, tenantId, clientSecret, botAppId, enterpriseSid is missing."
    )
    body = error(await api(root, "POST", "/msteams/teamsbot", json={"applicationId": "a", "tenantId": "t"}), 400, "451")
    assert body["data"] == "clientSecret, botAppId, enterpriseSid"
    error(await api(root, "POST", "/msteams/teamsbot", json=bot_body("EN" + "0" * 32)), 409, "4051")
    other = await make_account()
    theirs = await _enterprise(api, other, "Theirs")
    error(await api(root, "POST", "/msteams/teamsbot", json=bot_body(theirs)), 409, "4051")
    their_bot = data(await api(other, "POST", "/msteams/teamsbot", json=bot_body(theirs)))["sid"]
    for method, path in (
        ("PUT", f"/msteams/teamsbot/{their_bot}"),
        ("DELETE", f"/msteams/teamsbot/{their_bot}"),
        ("GET", f"/msteams/teamsbot/search/{their_bot}"),
        ("GET", "/msteams/teamsbot/search/BE00000000000000000000000000000000"),
    ):
        body = error(await api(root, method, path, json={"botAppId": "x"}), 409, "481")
        assert body["message"] == "There is no Details added for this Bot"
    mine = await _enterprise(api, root)
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(mine)))
    error(await api(root, "POST", "/msteams/teamsbot", json=bot_body(mine)), 409, "409")
    bot = data(await api(root, "GET", "/msteams/teamsbot/search"))["result"][0]
    error(await api(root, "PUT", f"/msteams/teamsbot/{bot['sid']}", json={"enterpriseSid": theirs}), 409, "4051")
    assert await _count(app, BotDetails) == 2


async def test_bot_details_search(api: Api, root: Creds, app: FastAPI) -> None:
    first, second = await _enterprise(api, root, "One"), await _enterprise(api, root, "Two")
    a = data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(first)))
    b = data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(second, applicationId="0-app")))
    async with app.state.session_factory() as session, session.begin():
        when = datetime(2020, 1, 1, tzinfo=UTC)
        await session.execute(update(BotDetails).where(BotDetails.sid == a["sid"]).values(date_created=when))
    listed = data(await api(root, "GET", "/msteams/teamsbot/details/search"))
    assert [item["sid"] for item in listed["result"]] == [a["sid"], b["sid"]]
    assert listed["firstPageUri"] == "/msteams/teamsbot/details/search/?pageSize=10&page=0"  # as the example
    only = data(await api(root, "GET", "/msteams/teamsbot/search", params={"EnterpriseSid": second}))
    assert [item["sid"] for item in only["result"]] == [b["sid"]]
    assert data(await api(root, "GET", "/msteams/teamsbot/search", params={"startTime": "2021-01-01"}))["total"] == 1
    assert data(await api(root, "GET", "/msteams/teamsbot/search", params={"endTime": "2020-01-01"}))["total"] == 1
    by_app = data(await api(root, "GET", "/msteams/teamsbot/search", params={"sortBy": "applicationId:asc"}))
    assert [item["sid"] for item in by_app["result"]] == [b["sid"], a["sid"]]
    error(await api(root, "GET", "/msteams/teamsbot/search", params={"sortBy": "tenantId"}), 400, "400")


# Mappings


async def test_create_mapping_validates_the_user_and_sms_enables_the_number(
    api: Api, root: Creds, app: FastAPI, ms: FakeBotFramework, jane: User
) -> None:
    enterprise = await _enterprise(api, root)
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(enterprise)))
    response = await api(
        root,
        "POST",
        "/msteams/teams/mappings",
        json={
            "name": "sunny",
            "microsoftAddress": "Jane@Contoso.com",
            "externalAddress": "15557770001",
            "enterpriseSid": enterprise,
        },
    )
    item = data(response)
    assert set(item) == MAPPING_FIELDS
    assert item["sid"].startswith("BE") and len(item["sid"]) == 34
    assert (item["microsoftAddress"], item["externalAddress"], item["name"]) == (
        "jane@contoso.com",
        "15557770001",
        "sunny",
    )
    assert (item["enterpriseSid"], item["enterpriseName"], item["accountSid"]) == (enterprise, "Acme", root.sid)
    assert item["uri"] == f"/msteams/teams/mappings/search/{item['sid']}"
    async with app.state.session_factory() as session:
        number = (
            await session.execute(select(IncomingPhoneNumber).where(IncomingPhoneNumber.phone_number == "+15557770001"))
        ).scalar_one()
        assert number.account_sid == root.sid and number.sms_capable and number.mms_capable
        mapping = await session.get(TeamsMapping, item["sid"])
        assert mapping is not None and mapping.aad_object_id == jane.object_id
    # Graph was asked with a token of the customer's tenant.
    assert (TENANT, "https://graph.microsoft.com/.default") in ms.token_requests
    for path in (f"/msteams/mappings/search/{item['sid']}", f"/msteams/teams/mappings/search/{item['sid']}"):
        assert data(await api(root, "GET", path)) == item
    # Without a name, the name is the microsoftAddress.
    bob = ms.add_user(TENANT, "bob@contoso.com", "Bob")
    assert data(await _map(api, root, enterprise, bob.upn, "+15557770002"))["name"] == "bob@contoso.com"


async def test_mapping_errors_451_4051_482_485_nothing_stored(
    api: Api,
    root: Creds,
    make_account: MakeAccount,
    own_number: OwnNumber,
    app: FastAPI,
    ms: FakeBotFramework,
    jane: User,
) -> None:
    enterprise = await _enterprise(api, root)
    body = error(await api(root, "POST", "/msteams/mappings", json={"name": "x"}), 400, "451")
    assert body["message"] == "Mandatory parameter microsoftAddress, externalAddress, enterpriseSid is missing."
    error(await _map(api, root, "EN" + "0" * 32, jane.upn, "15557770001"), 409, "4051")
    # No bot details: the address cannot be validated.
    body = error(await _map(api, root, enterprise, jane.upn, "15557770001"), 409, "485")
    assert body["data"] == jane.upn
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(enterprise)))
    stranger = ms.add_user(OTHER_TENANT, "eve@fabrikam.com", "Eve")
    body = error(await _map(api, root, enterprise, stranger.upn, "15557770001"), 409, "485")
    assert body["message"] == "Microsoft Address is not Valid"
    error(await _map(api, root, enterprise, "nobody@contoso.com", "15557770001"), 409, "485")
    data(await _map(api, root, enterprise, jane.upn, "15557770001"))
    body = error(await _map(api, root, enterprise, jane.upn, "+1 555 777 0001"), 409, "482")
    assert body["data"] == "15557770001" and body["message"] == "externalAddress not unique"
    other = await make_account()
    await own_number(other, "+15557770009")
    error(await _map(api, root, enterprise, jane.upn, "15557770009"), 409, "482")
    error(await _map(api, root, enterprise, jane.upn, "12"), 400, "452")
    theirs = await _enterprise(api, other, "Theirs")
    error(await _map(api, root, theirs, jane.upn, "15557770003"), 409, "4051")
    assert await _count(app, TeamsMapping) == 1
    # A wrong client secret: Graph cannot be asked → the platform's error (452).
    bot = data(await api(root, "GET", "/msteams/teamsbot/search"))["result"][0]
    data(await api(root, "PUT", f"/msteams/teamsbot/{bot['sid']}", json={"clientSecret": "wrong-secret"}))
    body = error(await _map(api, root, enterprise, jane.upn, "15557770004"), 400, "452")
    assert "invalid client secret" in body["message"].lower()


async def test_update_and_delete_mapping_480(
    api: Api, root: Creds, make_account: MakeAccount, app: FastAPI, ms: FakeBotFramework, jane: User
) -> None:
    enterprise = await _enterprise(api, root)
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(enterprise)))
    item = data(await _map(api, root, enterprise, jane.upn, "15557770001", name="map1"))
    renamed = data(await api(root, "PUT", f"/msteams/teams/mappings/{item['sid']}", json={"name": "Mapping 11"}))
    assert renamed["name"] == "Mapping 11" and renamed["externalAddress"] == "15557770001"
    error(
        await api(root, "PUT", f"/msteams/mappings/{item['sid']}", json={"microsoftAddress": "x@fabrikam.com"}),
        409,
        "485",
    )
    bob = ms.add_user(TENANT, "bob@contoso.com", "Bob")
    moved = data(await api(root, "PUT", f"/msteams/mappings/{item['sid']}", json={"microsoftAddress": bob.upn}))
    assert moved["microsoftAddress"] == "bob@contoso.com"
    error(
        await api(root, "PUT", f"/msteams/mappings/{item['sid']}", json={"enterpriseId": "EN" + "1" * 32}), 409, "4051"
    )
    # Moving to another business customer: the user must be valid with that one's bot.
    second = await _enterprise(api, root, "Second")
    error(await api(root, "PUT", f"/msteams/mappings/{item['sid']}", json={"enterpriseId": second}), 409, "485")
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(second)))
    moved_over = data(await api(root, "PUT", f"/msteams/mappings/{item['sid']}", json={"enterpriseSid": second}))
    assert (moved_over["enterpriseSid"], moved_over["enterpriseName"]) == (second, "Second")
    other = await make_account()
    for method in ("PUT", "DELETE", "GET"):
        path = f"/msteams/mappings/{item['sid']}" if method != "GET" else f"/msteams/mappings/search/{item['sid']}"
        error(await api(other, method, path, json={"name": "mine"}), 409, "480")
    deleted = data(await api(root, "DELETE", f"/msteams/mappings/{item['sid']}"))
    assert deleted["sid"] == item["sid"]
    body = error(await api(root, "DELETE", f"/msteams/teams/mappings/{item['sid']}"), 409, "480")
    assert body["data"] == item["sid"]
    error(await api(root, "PUT", f"/msteams/mappings/{item['sid']}", json={"name": "x"}), 409, "480")
    # The number the mapping provisioned is released: a new mapping may take it.
    assert await _count(app, IncomingPhoneNumber) == 0
    assert data(await _map(api, root, enterprise, jane.upn, "15557770001"))["externalAddress"] == "15557770001"


async def test_mapping_search_filters_and_sorts(
    api: Api, root: Creds, make_account: MakeAccount, app: FastAPI, ms: FakeBotFramework
) -> None:
    one, two = await _enterprise(api, root, "One"), await _enterprise(api, root, "Two")
    for enterprise in (one, two):
        data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(enterprise)))
    users = {
        "carol": ms.add_user(TENANT, "carol@b-corp.com", "Carol"),
        "alice": ms.add_user(TENANT, "alice@c-corp.com", "Alice"),
        "bob": ms.add_user(TENANT, "bob@a-corp.com", "Bob"),
    }
    sids = {}
    for day, (name, number, enterprise) in enumerate(
        [("carol", "15557770003", one), ("alice", "15557770001", one), ("bob", "15557770002", two)], start=1
    ):
        sids[name] = data(await _map(api, root, enterprise, users[name].upn, number, name=name.title()))["sid"]
        async with app.state.session_factory() as session, session.begin():
            when = datetime(2020, 11, day, tzinfo=UTC)
            await session.execute(update(TeamsMapping).where(TeamsMapping.sid == sids[name]).values(date_created=when))
    other = await make_account()
    assert data(await api(other, "GET", "/msteams/mappings/search"))["total"] == 0

    async def names(**params: str) -> list[str]:
        found = data(await api(root, "GET", "/msteams/teams/mappings/search", params=params))
        return [item["name"] for item in found["result"]]

    assert await names() == ["Carol", "Alice", "Bob"]
    assert await names(sortBy="name") == ["Alice", "Bob", "Carol"]
    assert await names(sortBy="name:desc") == ["Carol", "Bob", "Alice"]
    assert await names(sortBy="microsoftAddress") == ["Alice", "Bob", "Carol"]
    assert await names(sortBy="externalAddress") == ["Alice", "Bob", "Carol"]
    assert await names(sortBy="domain") == ["Bob", "Carol", "Alice"]
    assert await names(sortBy="dateCreated:desc") == ["Bob", "Alice", "Carol"]
    assert await names(EnterpriseSid=one) == ["Carol", "Alice"]
    assert await names(enterpriseSid=two) == ["Bob"]
    assert await names(name="aro") == ["Carol"]
    assert await names(microsoftAddress="A-CORP") == ["Bob"]
    assert await names(externalAddress="+1555777000") == ["Carol", "Alice", "Bob"]
    assert await names(externalAddress="0002") == ["Bob"]
    assert await names(startTime="2020-11-02") == ["Alice", "Bob"]
    assert await names(endTime="2020-11-02") == ["Carol", "Alice"]
    paged = data(await api(root, "GET", "/msteams/mappings/search", params={"pageSize": "2", "page": "1"}))
    assert [item["name"] for item in paged["result"]] == ["Bob"] and paged["numPages"] == 2
    assert paged["firstPageUri"] == "/msteams/mappings/search/?pageSize=2&page=0"
    teams_paged = data(await api(root, "GET", "/msteams/teams/mappings/search/", params={"pageSize": "2"}))
    assert teams_paged["nextPageUri"] == "/msteams/teams/mappings/search/?pageSize=2&page=1"
    error(await api(root, "GET", "/msteams/mappings/search", params={"sortBy": "enterpriseSid"}), 400, "400")
    error(await api(root, "GET", "/msteams/mappings/search", params={"endTime": "2020-13-01"}), 400, "400")

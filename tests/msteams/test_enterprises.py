"""Business customers: create with an admin sub-account, every error code, the status lifecycle, search."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from message_exchange.accounts.models import Account
from message_exchange.msteams.models import BusinessCustomer, TeamsMapping
from tests.fakes.botframework import FakeBotFramework, User
from tests.msteams.conftest import admin_body, bot_body
from tests.support.accounts import Creds, MakeAccount
from tests.webex.conftest import Api, data, error

FIELDS = {
    "sid",
    "dateUpdated",
    "dateCreated",
    "accountSid",
    "accountEmail",
    "uri",
    "name",
    "status",
    "enterpriseAdminSid",
    "enterpriseAdminEmail",
}


async def _create(api: Api, creds: Creds, name: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {**admin_body(name, email or f"{name.replace(' ', '').lower()}@corp.example"), **extra}
    return dict(data(await api(creds, "POST", "/msteams/enterprises", json=body), 201))


async def _count(app: FastAPI, model: Any) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _account(app: FastAPI, sid: str) -> Account:
    async with app.state.session_factory() as session:
        account: Account | None = await session.get(Account, sid)
        assert account is not None
        return account


async def test_create_returns_the_documented_resource_and_the_admin_can_log_in(
    api: Api, root: Creds, app: FastAPI
) -> None:
    response = await api(
        root,
        "POST",
        "/msteams/enterprises",
        json={
            "name": "test 101",
            "enterpriseAdmin": {"emailId": "Test101@telestax.com", "password": "Test@123", "name": "testU101"},
        },
    )
    item = data(response, 201)
    assert set(item) == FIELDS
    assert item["sid"].startswith("EN") and len(item["sid"]) == 34
    assert (item["name"], item["status"], item["accountSid"], item["accountEmail"]) == (
        "test 101",
        "ACTIVE",
        root.sid,
        root.email,
    )
    assert item["uri"] == f"/msteams/enterprises/search/{item['sid']}"
    assert item["enterpriseAdminEmail"] == "test101@telestax.com"
    datetime.strptime(item["dateCreated"], "%Y-%m-%dT%H:%M:%S%z")
    assert item["dateCreated"].endswith("+0000")
    admin = await _account(app, item["enterpriseAdminSid"])
    assert admin.parent_sid == root.sid and admin.friendly_name == "testU101"
    # The admin logs in with email + password and sees exactly its business customer.
    other = await _create(api, root, "Other Co")
    as_admin = httpx.BasicAuth("Test101@telestax.com", "Test@123")
    listed = data(await api(as_admin, "GET", "/msteams/enterprises/search"))
    assert [e["sid"] for e in listed["result"]] == [item["sid"]]
    assert data(await api(as_admin, "GET", f"/msteams/enterprises/search/{item['sid']}")) == item
    error(await api(as_admin, "GET", f"/msteams/enterprises/search/{other['sid']}"), 409, "4051")
    # The create curl line's path works too.
    alias = await api(root, "POST", "/msteams/enterprise", json=admin_body("Alias", "alias@corp.example"))
    assert data(alias, 201)["name"] == "Alias"


async def test_an_existing_sub_account_becomes_the_admin_with_its_password_unchanged(
    api: Api, root: Creds, make_account: MakeAccount, app: FastAPI
) -> None:
    existing = await make_account(root, email="boss@corp.example")
    item = await _create(api, root, "Acme", "Boss@Corp.example", status="INACTIVE")
    assert item["enterpriseAdminSid"] == existing.sid and item["status"] == "INACTIVE"
    assert (await _account(app, existing.sid)).status == "suspended"
    data(await api(root, "PUT", f"/msteams/enterprises/{item['sid']}", json={"status": "ACTIVE"}))
    assert (
        await api(httpx.BasicAuth(existing.email, existing.password), "GET", "/msteams/enterprises/search")
    ).status_code == 200
    assert (
        await api(httpx.BasicAuth(existing.email, "Test@1234"), "GET", "/msteams/enterprises/search")
    ).status_code == 401


async def test_4001_for_an_email_in_use_elsewhere_nothing_stored(
    api: Api, root: Creds, make_account: MakeAccount, app: FastAPI
) -> None:
    stranger = await make_account()  # another CSP's account
    error(await api(root, "POST", "/msteams/enterprises", json=admin_body("A", stranger.email)), 409, "4001")
    first = await _create(api, root, "First", "admin@corp.example")
    body = error(
        await api(root, "POST", "/msteams/enterprises", json=admin_body("B", "admin@corp.example")), 409, "4001"
    )
    assert body["message"] == "Email not unique"
    assert await _count(app, BusinessCustomer) == 1
    assert first["enterpriseAdminEmail"] == "admin@corp.example"


async def test_4050_name_unique_per_csp_case_insensitive(
    api: Api, root: Creds, make_account: MakeAccount, app: FastAPI
) -> None:
    await _create(api, root, "Kohl")
    body = error(
        await api(root, "POST", "/msteams/enterprises", json=admin_body("kohl", "k2@corp.example")), 409, "4050"
    )
    assert body["data"] == "kohl"
    other_csp = await make_account()
    assert (await _create(api, other_csp, "Kohl", "k3@corp.example"))["name"] == "Kohl"
    second = await _create(api, root, "Second")
    error(await api(root, "PUT", f"/msteams/enterprises/{second['sid']}", json={"name": "KOHL"}), 409, "4050")
    renamed = data(await api(root, "PUT", f"/msteams/enterprises/{second['sid']}", json={"name": "Third"}))
    assert renamed["name"] == "Third" and renamed["sid"] == second["sid"]
    assert await _count(app, BusinessCustomer) == 3


async def test_451_names_every_missing_parameter_and_452_passes_the_platform_error(
    api: Api, root: Creds, app: FastAPI
) -> None:
    body = error(await api(root, "POST", "/msteams/enterprises", json={}), 400, "451")
    assert body["message"] == "Mandatory parameter name, enterpriseAdmin is missing."
    body = error(await api(root, "POST", "/msteams/enterprises", json={"name": "X", "enterpriseAdmin": {}}), 400, "451")
    assert "enterpriseAdmin.emailId, enterpriseAdmin.password" in body["message"]
    short = admin_body("X", "x@corp.example", password="short")
    body = error(await api(root, "POST", "/msteams/enterprises", json=short), 400, "452")
    assert "Password" in body["message"]
    error(
        await api(root, "POST", "/msteams/enterprises", json={**admin_body("X", "y@x.example"), "status": "NOPE"}),
        400,
        "400",
    )
    assert await _count(app, BusinessCustomer) == 0
    assert await _count(app, Account) == 1  # root only


async def test_4051_for_unknown_and_another_csps_business_customers(
    api: Api, root: Creds, make_account: MakeAccount
) -> None:
    other = await make_account()
    theirs = await _create(api, other, "Theirs")
    for sid in (theirs["sid"], "EN00000000000000000000000000000000", "nonsense"):
        error(await api(root, "GET", f"/msteams/enterprises/search/{sid}"), 409, "4051")
        error(await api(root, "PUT", f"/msteams/enterprises/{sid}", json={"name": "Mine"}), 409, "4051")
        body = error(await api(root, "DELETE", f"/msteams/enterprises/{sid}"), 409, "4051")
        assert body["data"] == sid and body["message"] == "Enterprise not found"
    assert data(await api(root, "GET", "/msteams/enterprises/search"))["total"] == 0
    assert data(await api(other, "GET", f"/msteams/enterprises/search/{theirs['sid']}"))["name"] == "Theirs"


async def test_status_lifecycle_suspends_and_closes_the_admin_and_removes_mappings(
    api: Api, root: Creds, app: FastAPI, ms: FakeBotFramework, jane: User
) -> None:
    item = await _create(api, root, "Life", "life@corp.example")
    sid = item["sid"]
    admin = httpx.BasicAuth("life@corp.example", "Test@1234")
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(sid)))
    mapping = data(
        await api(
            root,
            "POST",
            "/msteams/mappings",
            json={"microsoftAddress": jane.upn, "externalAddress": "15557770001", "enterpriseSid": sid},
        )
    )
    inactive = data(await api(root, "PUT", f"/msteams/enterprises/{sid}", json={"status": "INACTIVE"}))
    assert inactive["status"] == "INACTIVE"
    assert (await api(admin, "GET", "/msteams/enterprises/search")).status_code == 403
    data(await api(root, "PUT", f"/msteams/enterprises/{sid}", json={"status": "active"}))
    assert (await api(admin, "GET", "/msteams/enterprises/search")).status_code == 200
    # Delete refuses while mappings exist (the document's "Enterprise has Mappings").
    body = error(await api(root, "DELETE", f"/msteams/enterprises/{sid}"), 409, "409")
    assert body["message"] == "Enterprise has Mappings"
    closed = data(await api(root, "PUT", f"/msteams/enterprises/{sid}", json={"status": "CLOSED"}))
    assert closed["status"] == "CLOSED"
    error(await api(root, "GET", f"/msteams/mappings/search/{mapping['sid']}"), 409, "480")
    async with app.state.session_factory() as session:
        row = await session.get(TeamsMapping, mapping["sid"])
        assert row is not None and row.status == "DELETED" and row.external_key is None
    assert (await _account(app, item["enterpriseAdminSid"])).status == "closed"
    for status in ("ACTIVE", "INACTIVE"):
        error(await api(root, "PUT", f"/msteams/enterprises/{sid}", json={"status": status}), 400, "400")
    error(await api(root, "PUT", f"/msteams/enterprises/{sid}", json={"name": "Again"}), 400, "400")
    # Still listed (resources are kept); DELETE of a closed one answers it as it is.
    assert data(await api(root, "DELETE", f"/msteams/enterprises/{sid}"))["status"] == "CLOSED"
    # Its name is free again.
    assert (await _create(api, root, "Life", "life2@corp.example"))["status"] == "ACTIVE"


async def test_delete_marks_closed(api: Api, root: Creds, app: FastAPI) -> None:
    item = await _create(api, root, "Gone", "gone@corp.example")
    deleted = data(await api(root, "DELETE", f"/msteams/enterprises/{item['sid']}"))
    assert deleted["status"] == "CLOSED" and deleted["sid"] == item["sid"]
    assert data(await api(root, "GET", f"/msteams/enterprises/search/{item['sid']}"))["status"] == "CLOSED"
    assert (await _account(app, item["enterpriseAdminSid"])).status == "closed"


async def test_search_filters_sorts_and_pages(api: Api, root: Creds, app: FastAPI) -> None:
    names = ["delta", "Alpha", "charlie", "Bravo", "echo"]
    created = [await _create(api, root, name) for name in names]
    async with app.state.session_factory() as session, session.begin():
        for day, item in enumerate(created, start=1):
            when = datetime(2020, 11, day, 12, 0, tzinfo=UTC)
            await session.execute(
                update(BusinessCustomer)
                .where(BusinessCustomer.sid == item["sid"])
                .values(date_created=when, date_updated=when)
            )
    data(await api(root, "PUT", f"/msteams/enterprises/{created[4]['sid']}", json={"status": "INACTIVE"}))

    async def search(**params: str) -> dict[str, Any]:
        return dict(data(await api(root, "GET", "/msteams/enterprises/search", params=params)))

    default = await search()
    assert (default["page"], default["pageSize"], default["total"], default["numPages"]) == (0, 10, 5, 1)
    assert (default["start"], default["end"]) == (0, 4)  # the offsets of the first and last records
    assert [e["name"] for e in default["result"]] == names  # dateCreated ascending
    assert default["firstPageUri"] == "/msteams/enterprises/search/?pageSize=10&page=0"
    assert default["uri"] == default["firstPageUri"] and "nextPageUri" not in default
    by_name = await search(sortBy="name")
    assert [e["name"] for e in by_name["result"]] == ["Alpha", "Bravo", "charlie", "delta", "echo"]
    desc = await search(SortBy="dateCreated:desc")
    assert [e["name"] for e in desc["result"]] == list(reversed(names))
    assert [e["name"] for e in (await search(name="PH"))["result"]] == ["Alpha"]
    assert [e["name"] for e in (await search(Status="INACTIVE"))["result"]] == ["echo"]
    assert (await search(status="active"))["total"] == 4
    window = await search(startTime="2020-11-02", endTime="2020-11-03")
    assert [e["name"] for e in window["result"]] == ["Alpha", "charlie"]
    assert (await search(startTime="2020-11-04T12:00:00"))["total"] == 2
    second = await search(pageSize="2", page="1", name="a")
    assert (second["total"], second["numPages"], second["start"], second["end"]) == (4, 2, 2, 3)
    assert second["previousPageUri"] == "/msteams/enterprises/search/?name=a&pageSize=2&page=0"
    assert second["previous_page_uri"] == second["previousPageUri"] and "nextPageUri" not in second
    first = await search(pageSize="2", name="a")
    assert first["nextPageUri"] == "/msteams/enterprises/search/?name=a&pageSize=2&page=1"
    for params in ({"sortBy": "status"}, {"startTime": "yesterday"}, {"pageSize": "0"}, {"Status": "GONE"}):
        error(await api(root, "GET", "/msteams/enterprises/search", params=params), 400, "400")
    assert (await api(None, "GET", "/msteams/enterprises/search")).status_code == 401

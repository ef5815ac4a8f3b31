"""The Webex exchange management API: enterprises and mappings, every code, filter, sort and page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from message_exchange.numbers.models import IncomingPhoneNumber
from message_exchange.webex.models import Enterprise, Mapping
from tests.support.accounts import Creds, MakeAccount, OwnNumber
from tests.webex.conftest import Api, data, error

ENTERPRISE_FIELDS = {
    "name",
    "sid",
    "mappingsCount",
    "status",
    "dateUpdated",
    "dateCreated",
    "accountSid",
    "accountEmail",
}
MAPPING_FIELDS = {
    "webexAddress",
    "externalAddress",
    "name",
    "dateUpdated",
    "dateCreated",
    "accountSid",
    "accountEmail",
    "enterpriseSid",
    "enterpriseName",
    "sid",
}
PAGE_FIELDS = {"result", "pageSize", "total", "page", "numPages", "start", "end"}


async def _enterprise(api: Api, creds: Creds, name: str) -> dict[str, Any]:
    return dict(data(await api(creds, "POST", "/webex/enterprise", json={"name": name})))


async def _mapping(api: Api, creds: Creds, enterprise_sid: str, **body: str) -> dict[str, Any]:
    return dict(data(await api(creds, "POST", f"/webex/webexteams/mappings/{enterprise_sid}", json=body)))


async def _count(app: FastAPI, model: Any) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _set_created(app: FastAPI, model: Any, sid: str, when: datetime) -> None:
    async with app.state.session_factory() as session, session.begin():
        await session.execute(update(model).where(model.sid == sid).values(date_created=when, date_updated=when))


async def _search(api: Api, creds: Creds, path: str, **params: str) -> dict[str, Any]:
    return dict(data(await api(creds, "GET", path, params=params)))


def _names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["result"]]


# Enterprises


async def test_create_enterprise_returns_the_documented_envelope(api: Api, root: Creds) -> None:
    response = await api(root, "POST", "/webex/enterprise", json={"name": "Testing"})
    assert response.json()["code"] == 200 and response.json()["message"] == "OK"
    item = data(response)
    assert set(item) == ENTERPRISE_FIELDS
    assert item["sid"].startswith("WEM") and len(item["sid"]) == 35
    assert (item["name"], item["mappingsCount"], item["status"]) == ("Testing", 0, "ACTIVE")
    assert (item["accountSid"], item["accountEmail"]) == (root.sid, root.email)
    assert len(item["dateCreated"]) == len("2019-09-10 10:07:32.0")
    assert data(await api(root, "GET", f"/webex/enterprise/search/{item['sid']}")) == item


async def test_enterprise_name_is_unique_per_organisation(
    app: FastAPI, api: Api, root: Creds, make_account: MakeAccount
) -> None:
    await _enterprise(api, root, "Acme")
    body = error(await api(root, "POST", "/webex/enterprise", json={"name": "ACME"}), 409, "460")
    assert body["message"] == "Enterprise name not unique" and body["data"] == "ACME"
    child = await make_account(root)
    error(await api(child, "POST", "/webex/enterprise", json={"name": "acme"}), 409, "460")
    other_csp = await make_account()
    await _enterprise(api, other_csp, "Acme")  # another organisation may use the name
    assert await _count(app, Enterprise) == 2


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 256}, {"name": "a\x01b"}])
async def test_bad_enterprise_name_is_400_and_stores_nothing(app: FastAPI, api: Api, root: Creds, body: Any) -> None:
    response = await api(root, "POST", "/webex/enterprise", json=body)
    error(response, 400, "400")
    assert await _count(app, Enterprise) == 0


async def test_bad_body_and_auth_errors_use_the_family_envelope(api: Api, root: Creds) -> None:
    error(
        await api(
            root, "POST", "/webex/enterprise", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        400,
        "400",
    )
    error(await api(None, "POST", "/webex/enterprise", json={"name": "x"}), 401, "401")
    error(await api(root, "GET", "/webex/enterprise/nothing-here/at/all"), 404, "404")


async def test_update_enterprise_on_both_paths_with_470_and_471(
    api: Api, root: Creds, make_account: MakeAccount
) -> None:
    first = await _enterprise(api, root, "One")
    await _enterprise(api, root, "Two")
    renamed = data(await api(root, "PUT", f"/webexteams/enterprise/{first['sid']}", json={"name": "Uno"}))
    assert renamed["name"] == "Uno" and renamed["sid"] == first["sid"]
    again = data(await api(root, "PUT", f"/webex/enterprise/{first['sid']}", json={"name": "uno"}))
    assert again["name"] == "uno"  # its own name in another case is not a clash
    error(await api(root, "PUT", f"/webex/enterprise/{first['sid']}", json={"name": "two"}), 409, "470")
    error(
        await api(root, "PUT", "/webex/enterprise/WEM00000000000000000000000000000000", json={"name": "x"}), 409, "471"
    )
    stranger = await make_account()
    error(await api(stranger, "PUT", f"/webex/enterprise/{first['sid']}", json={"name": "mine"}), 409, "471")
    error(await api(root, "PUT", f"/webex/enterprise/{first['sid']}", json={}), 400, "400")


async def test_delete_enterprise_481_482_and_the_name_is_free_again(api: Api, root: Creds) -> None:
    item = await _enterprise(api, root, "Gone")
    mapping = await _mapping(api, root, item["sid"], webexAddress="a@x.com", externalAddress="+15557770001")
    body = error(await api(root, "DELETE", f"/webex/enterprise/{item['sid']}"), 409, "482")
    assert body["message"] == "Enterprise has mappings"
    data(await api(root, "DELETE", f"/webex/webexteams/mappings/{mapping['sid']}"))
    deleted = data(await api(root, "DELETE", f"/webexteams/enterprise/{item['sid']}"))
    assert deleted == item  # as it was when deleted, status ACTIVE, as the document's example shows
    error(await api(root, "DELETE", f"/webex/enterprise/{item['sid']}"), 409, "481")
    error(await api(root, "GET", f"/webex/enterprise/search/{item['sid']}"), 409, "490")
    await _enterprise(api, root, "Gone")


async def test_another_csp_sees_nothing_and_a_parent_sees_its_children(
    api: Api, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    stranger = await make_account()
    mine = await _enterprise(api, root, "Root's")
    childs = await _enterprise(api, child, "Child's")
    error(await api(stranger, "GET", f"/webex/enterprise/search/{mine['sid']}"), 409, "490")
    error(await api(stranger, "DELETE", f"/webex/enterprise/{mine['sid']}"), 409, "481")
    error(await api(child, "GET", f"/webex/enterprise/search/{mine['sid']}"), 409, "490")
    assert data(await api(root, "GET", f"/webex/enterprise/search/{childs['sid']}"))["accountEmail"] == child.email
    assert (await _search(api, stranger, "/webex/enterprise/search"))["total"] == 0
    assert _names(await _search(api, child, "/webex/enterprise/search")) == ["Child's"]
    assert _names(await _search(api, root, "/webex/enterprise/search")) == ["Child's", "Root's"]
    assert _names(await _search(api, root, "/webex/enterprise/search", accountSid=child.sid)) == ["Child's"]
    assert (await _search(api, stranger, "/webex/enterprise/search", accountSid=root.sid))["total"] == 0


async def test_enterprise_search_filters_sorts_and_pages(app: FastAPI, api: Api, root: Creds) -> None:
    sids = {}
    for index, name in enumerate(["Alpha Health", "beta", "Gamma health", "Delta"]):
        sids[name] = (await _enterprise(api, root, name))["sid"]
        await _set_created(app, Enterprise, sids[name], datetime(2019, 9, 1 + index, 12, tzinfo=UTC))
    await _mapping(api, root, sids["Delta"], webexAddress="a@x.com", externalAddress="+15557770001")
    await _mapping(api, root, sids["Delta"], webexAddress="b@x.com", externalAddress="+15557770002")
    await _mapping(api, root, sids["beta"], webexAddress="c@x.com", externalAddress="+15557770003")
    path = "/webex/enterprise/search"
    assert _names(await _search(api, root, path, name="HEALTH")) == ["Alpha Health", "Gamma health"]
    assert _names(await _search(api, root, path, startTime="2019-09-02", endTime="2019-09-03")) == [
        "beta",
        "Gamma health",
    ]
    assert _names(await _search(api, root, path, startTime="2019-09-03T12:00:01")) == ["Delta"]
    assert _names(await _search(api, root, path, endTime="2019-09-01T12:00:00")) == ["Alpha Health"]
    by_mappings = await _search(api, root, path, SortBy="mappings:desc")
    assert [(i["name"], i["mappingsCount"]) for i in by_mappings["result"][:2]] == [("Delta", 2), ("beta", 1)]
    assert _names(await _search(api, root, path, SortBy="name:desc"))[0] == "Gamma health"
    assert _names(await _search(api, root, path, SortBy="dateUpdated"))[0] == "Alpha Health"
    page = await _search(api, root, path, page="1", per_page="3", SortBy="dateUpdated:asc")
    assert {k: page[k] for k in PAGE_FIELDS - {"result"}} == {
        "pageSize": 3,
        "total": 4,
        "page": 1,
        "numPages": 2,
        "start": 3,
        "end": 4,
    }
    assert [i["sid"] for i in page["result"]] != [] and set(page["result"][0]) == ENTERPRISE_FIELDS
    assert (await _search(api, root, path, page="5"))["result"] == []
    assert (await _search(api, root, path, pageSize="2"))["pageSize"] == 2
    for params in (
        {"SortBy": "size"},
        {"SortBy": "name:up"},
        {"startTime": "yesterday"},
        {"page": "-1"},
        {"per_page": "x"},
    ):
        error(await api(root, "GET", path, params=params), 400, "400")


# Mappings


async def test_create_mapping_sms_enables_and_provisions_its_number(app: FastAPI, api: Api, root: Creds) -> None:
    enterprise = await _enterprise(api, root, "test22")
    item = await _mapping(
        api, root, enterprise["sid"], webexAddress="Subhahu@Telestax.com", externalAddress="12012852659"
    )
    assert set(item) == MAPPING_FIELDS
    assert (item["webexAddress"], item["externalAddress"], item["name"]) == (
        "subhahu@telestax.com",
        "12012852659",
        "subhahu@telestax.com",
    )
    assert (item["enterpriseSid"], item["enterpriseName"], item["accountSid"]) == (
        enterprise["sid"],
        "test22",
        root.sid,
    )
    async with app.state.session_factory() as session:
        number = (await session.execute(select(IncomingPhoneNumber))).scalar_one()
    assert (number.phone_number, number.account_sid, number.sms_capable, number.mms_capable) == (
        "+12012852659",
        root.sid,
        True,
        True,
    )
    assert data(await api(root, "GET", f"/webex/enterprise/search/{enterprise['sid']}"))["mappingsCount"] == 1
    data(await api(root, "DELETE", f"/webex/webexteams/mappings/{item['sid']}"))
    assert await _count(app, IncomingPhoneNumber) == 0  # the mapping provisioned it, so it is released


async def test_a_number_the_account_owned_stays_owned_after_the_mapping(
    app: FastAPI, api: Api, root: Creds, own_number: OwnNumber
) -> None:
    await own_number(root, "+15557770001", sms_capable=False, mms_capable=False)
    enterprise = await _enterprise(api, root, "E")
    item = await _mapping(
        api, root, enterprise["sid"], name="Desk", webexAddress="a@x.com", externalAddress="+1 555 777 0001"
    )
    async with app.state.session_factory() as session:
        number = (await session.execute(select(IncomingPhoneNumber))).scalar_one()
    assert number.sms_capable and number.mms_capable
    deleted = data(await api(root, "DELETE", f"/webex/webexteams/mappings/{item['sid']}"))
    assert deleted["name"] == "Desk"
    assert await _count(app, IncomingPhoneNumber) == 1
    await _mapping(api, root, enterprise["sid"], webexAddress="a@x.com", externalAddress="15557770001")


async def test_mapping_errors_465_466_467_and_bad_input(
    app: FastAPI, api: Api, root: Creds, make_account: MakeAccount, own_number: OwnNumber
) -> None:
    enterprise = await _enterprise(api, root, "E")
    path = f"/webex/webexteams/mappings/{enterprise['sid']}"
    await _mapping(api, root, enterprise["sid"], webexAddress="a@x.com, b@x.com", externalAddress="+15557770001")
    body = error(
        await api(root, "POST", path, json={"webexAddress": "B@x.com,a@x.com", "externalAddress": "+15557770002"}),
        409,
        "465",
    )
    assert body["message"] == "webexAddress not unique"
    body = error(
        await api(root, "POST", path, json={"webexAddress": "c@x.com", "externalAddress": "15557770001"}), 409, "466"
    )
    assert body["message"] == "externalAddress not unique" and body["data"] == "15557770001"
    stranger = await make_account()
    await own_number(stranger, "+15557770009")
    error(
        await api(root, "POST", path, json={"webexAddress": "d@x.com", "externalAddress": "+15557770009"}), 409, "466"
    )
    body = error(
        await api(
            root,
            "POST",
            "/webex/webexteams/mappings/WEM00000000000000000000000000000000",
            json={"webexAddress": "e@x.com", "externalAddress": "+15557770003"},
        ),
        409,
        "467",
    )
    assert body["message"] == "Enterprise not found"
    other = await _enterprise(api, stranger, "Theirs")
    error(
        await api(
            root,
            "POST",
            f"/webex/webexteams/mappings/{other['sid']}",
            json={"webexAddress": "e@x.com", "externalAddress": "+15557770003"},
        ),
        409,
        "467",
    )
    for bad in (
        {"externalAddress": "+15557770004"},
        {"webexAddress": "f@x.com"},
        {"webexAddress": "f@x.com", "externalAddress": "not a number"},
        {"webexAddress": "f@x.com", "externalAddress": "+1555"},
        {"webexAddress": "has space@x.com", "externalAddress": "+15557770004"},
        {"webexAddress": " , ", "externalAddress": "+15557770004"},
    ):
        error(await api(root, "POST", path, json=bad), 400, "400")
    assert await _count(app, Mapping) == 1
    assert await _count(app, IncomingPhoneNumber) == 2  # the first mapping's + the stranger's; nothing half-made


async def test_update_and_delete_mapping_478_485_491(api: Api, root: Creds, make_account: MakeAccount) -> None:
    enterprise = await _enterprise(api, root, "E")
    item = await _mapping(
        api, root, enterprise["sid"], name="subhahu", webexAddress="s@x.com", externalAddress="+15557770001"
    )
    renamed = data(await api(root, "PUT", f"/webex/webexteams/mappings/{item['sid']}", json={"name": "subhahuc"}))
    assert renamed["name"] == "subhahuc" and renamed["webexAddress"] == "s@x.com"
    kept = data(await api(root, "PUT", f"/webex/webexteams/mappings/{item['sid']}", json={}))
    assert kept["name"] == "subhahuc"
    stranger = await make_account()
    unknown = "WEM00000000000000000000000000000000"
    body = error(await api(root, "PUT", f"/webex/webexteams/mappings/{unknown}", json={"name": "x"}), 409, "478")
    assert body["message"] == "Mapping not found"
    error(await api(stranger, "PUT", f"/webex/webexteams/mappings/{item['sid']}", json={"name": "x"}), 409, "478")
    error(await api(stranger, "DELETE", f"/webex/webexteams/mappings/{item['sid']}"), 409, "485")
    error(await api(stranger, "GET", f"/webex/webexteams/mappings/search/{item['sid']}"), 409, "491")
    assert data(await api(root, "GET", f"/webex/webexteams/mappings/search/{item['sid']}"))["name"] == "subhahuc"
    data(await api(root, "DELETE", f"/webex/webexteams/mappings/{item['sid']}"))
    error(await api(root, "DELETE", f"/webex/webexteams/mappings/{item['sid']}"), 409, "485")
    body = error(await api(root, "GET", f"/webex/webexteams/mappings/search/{item['sid']}"), 409, "491")
    assert body["message"] == "Invalid MappingId"


async def test_mapping_search_filters_sorts_and_pages(
    app: FastAPI, api: Api, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    first = await _enterprise(api, root, "First")
    second = await _enterprise(api, child, "Second")
    rows = [
        (root, first, "Zed", "zed@acme.com", "+15557770003"),
        (root, first, "amy", "amy@acme.com", "+15557770001"),
        (child, second, "Bob", "bob@other.com", "+15557770002"),
    ]
    for index, (owner, enterprise, name, address, number) in enumerate(rows):
        sid = (await _mapping(api, owner, enterprise["sid"], name=name, webexAddress=address, externalAddress=number))[
            "sid"
        ]
        await _set_created(app, Mapping, sid, datetime(2019, 8, 30, 9, tzinfo=UTC) + timedelta(days=index))
    path = "/webex/webexteams/mappings/search"
    assert _names(await _search(api, root, path)) == ["amy", "Bob", "Zed"]
    assert _names(await _search(api, root, path, enterpriseSid=first["sid"])) == ["amy", "Zed"]
    assert _names(await _search(api, root, path, name="ZE")) == ["Zed"]
    assert _names(await _search(api, root, path, webexAddress="ACME.com")) == ["amy", "Zed"]
    assert _names(await _search(api, root, path, externalAddress="5557770002")) == ["Bob"]
    assert _names(await _search(api, root, path, externalAddress="+1555777000")) == ["amy", "Bob", "Zed"]
    assert _names(await _search(api, root, path, accountSid=child.sid)) == ["Bob"]
    assert _names(await _search(api, root, path, startTime="2019-08-31", endTime="2019-09-01")) == ["amy", "Bob"]
    assert _names(await _search(api, child, path)) == ["Bob"]
    assert _names(await _search(api, root, path, SortBy="externalAddress")) == ["amy", "Bob", "Zed"]
    assert _names(await _search(api, root, path, SortBy="externalAddress:desc")) == ["Zed", "Bob", "amy"]
    assert _names(await _search(api, root, path, SortBy="webexAddress:asc")) == ["amy", "Bob", "Zed"]
    assert _names(await _search(api, root, path, SortBy="dateUpdated:desc")) == ["Bob", "amy", "Zed"]
    page = await _search(api, root, path, page="1", per_page="2")
    assert (page["total"], page["numPages"], page["start"], page["end"], len(page["result"])) == (3, 2, 2, 3, 1)
    assert set(page["result"][0]) == MAPPING_FIELDS
    error(await api(root, "GET", path, params={"SortBy": "dateCreated"}), 400, "400")
    error(await api(root, "GET", path, params={"endTime": "2019-13-01"}), 400, "400")


async def test_paging_bounds_sort_direction_spelling_and_an_empty_page(api: Api, root: Creds) -> None:
    path = "/webex/enterprise/search"
    empty = await _search(api, root, path)
    assert {k: empty[k] for k in PAGE_FIELDS} == {
        "result": [],
        "pageSize": 10,
        "total": 0,
        "page": 0,
        "numPages": 0,
        "start": 0,
        "end": 0,
    }
    for name in ("b", "A", "c"):
        await _enterprise(api, root, name)
    assert _names(await _search(api, root, path, SortBy="NAME:DESC")) == ["c", "b", "A"]
    assert _names(await _search(api, root, path, SortBy="name")) == ["A", "b", "c"]  # no direction: ascending
    assert (await _search(api, root, path, per_page="1000"))["pageSize"] == 1000
    for params in ({"per_page": "0"}, {"per_page": "1001"}, {"pageSize": "-2"}, {"page": "1.5"}):
        body = error(await api(root, "GET", path, params=params), 400, "400")
        assert body["message"]


async def test_bad_mapping_update_is_400_and_changes_nothing(api: Api, root: Creds) -> None:
    enterprise = await _enterprise(api, root, "E")
    item = await _mapping(
        api, root, enterprise["sid"], name="Desk", webexAddress="a@x.com", externalAddress="+15557770001"
    )
    for bad in ({"name": "x" * 256}, {"name": "tab\there"}):
        error(await api(root, "PUT", f"/webex/webexteams/mappings/{item['sid']}", json=bad), 400, "400")
    after = data(await api(root, "GET", f"/webex/webexteams/mappings/search/{item['sid']}"))
    assert after == item


async def test_form_bodies_work_like_json(api: Api, root: Creds) -> None:
    enterprise = data(await api(root, "POST", "/webex/enterprise", data={"name": "Form Co"}))
    item = data(
        await api(
            root,
            "POST",
            f"/webex/webexteams/mappings/{enterprise['sid']}",
            data={"webexAddress": "a@x.com", "externalAddress": "15557770001"},
        )
    )
    assert (item["enterpriseName"], item["externalAddress"], item["name"]) == ("Form Co", "15557770001", "a@x.com")


async def test_every_documented_error_has_its_documented_status_code_and_message(api: Api, root: Creds) -> None:
    enterprise = await _enterprise(api, root, "Taken")
    await _enterprise(api, root, "Other")
    mapping = await _mapping(api, root, enterprise["sid"], webexAddress="a@x.com", externalAddress="+15557770001")
    unknown = "WEM00000000000000000000000000000000"
    mappings = "/webex/webexteams/mappings"
    cases: list[tuple[str, str, dict[str, str] | None, str, str]] = [
        ("POST", "/webex/enterprise", {"name": "Taken"}, "460", "Enterprise name not unique"),
        (
            "POST",
            f"{mappings}/{enterprise['sid']}",
            {"webexAddress": "a@x.com", "externalAddress": "+15557770002"},
            "465",
            "webexAddress not unique",
        ),
        (
            "POST",
            f"{mappings}/{enterprise['sid']}",
            {"webexAddress": "b@x.com", "externalAddress": "+15557770001"},
            "466",
            "externalAddress not unique",
        ),
        (
            "POST",
            f"{mappings}/{unknown}",
            {"webexAddress": "b@x.com", "externalAddress": "+15557770002"},
            "467",
            "Enterprise not found",
        ),
        ("PUT", f"/webexteams/enterprise/{enterprise['sid']}", {"name": "other"}, "470", "Enterprise name not unique"),
        ("PUT", f"/webexteams/enterprise/{unknown}", {"name": "x"}, "471", "Enterprise name not found"),
        ("PUT", f"{mappings}/{unknown}", {"name": "x"}, "478", "Mapping not found"),
        ("DELETE", f"/webex/enterprise/{unknown}", None, "481", "Enterprise name not found"),
        ("DELETE", f"/webex/enterprise/{enterprise['sid']}", None, "482", "Enterprise has mappings"),
        ("DELETE", f"{mappings}/{unknown}", None, "485", "Mapping not found"),
        ("GET", f"/webex/enterprise/search/{unknown}", None, "490", "Invalid EnterpriseId"),
        ("GET", f"{mappings}/search/{unknown}", None, "491", "Invalid MappingId"),
        # The document gives a message lookup 491 too (its table's text, "Invalid MappingId", is
        # a copy of the mapping lookup's; this one names what was looked up).
        ("GET", f"/webex/webexteams/messages/search/{unknown}", None, "491", "Invalid MessageId"),
    ]
    for method, path, body, code, message in cases:
        found = error(await api(root, method, path, json=body), 409, code)
        assert found["message"] == message, (method, path)
    assert data(await api(root, "GET", f"{mappings}/search/{mapping['sid']}"))["sid"] == mapping["sid"]

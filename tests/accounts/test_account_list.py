"""The account list: Restcomm paging envelope, filters, sorting, and 400s for bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from message_exchange.accounts.models import Account
from tests.support.accounts import Creds, MakeAccount

BASE = "/restcomm/2012-04-24"


async def test_paging_links_walk_the_whole_list(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    children = [await make_account(root) for _ in range(11)]
    expected = {root.sid, *(c.sid for c in children)}
    first = await client.get(f"{BASE}/Accounts.json", params={"PageSize": 5, "Status": "active"}, auth=root.auth)
    assert first.status_code == 200
    page = first.json()
    assert set(page) >= {
        "page",
        "num_pages",
        "page_size",
        "total",
        "start",
        "end",
        "uri",
        "first_page_uri",
        "previous_page_uri",
        "next_page_uri",
        "last_page_uri",
        "accounts",
    }
    assert (page["page"], page["num_pages"], page["page_size"], page["total"]) == (0, 3, 5, 12)
    assert (page["start"], page["end"]) == ("0", "5")
    assert page["previous_page_uri"] == "null"
    assert page["first_page_uri"] == f"{BASE}/Accounts.json?Status=active&Page=0&PageSize=5"
    assert page["last_page_uri"] == f"{BASE}/Accounts.json?Status=active&Page=2&PageSize=5"
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        seen += [a["sid"] for a in page["accounts"]]
        if page["next_page_uri"] == "null":
            break
        assert not page["next_page_uri"].startswith("http")
        page = (await client.get(page["next_page_uri"], auth=root.auth)).json()
    assert pages == 3
    assert len(seen) == len(set(seen)) == 12 and set(seen) == expected
    assert (page["start"], page["end"]) == ("10", "12")
    assert urlsplit(page["previous_page_uri"]).path == f"{BASE}/Accounts.json"
    assert parse_qs(urlsplit(page["previous_page_uri"]).query)["Page"] == ["1"]


@pytest.mark.parametrize(
    "params,param",
    [
        ({"Page": "1"}, "Page"),  # past the end: one account fits on page 0
        ({"Page": "-1"}, "Page"),
        ({"Page": "two"}, "Page"),
        ({"PageSize": "0"}, "PageSize"),
        ({"PageSize": "100000"}, "PageSize"),
        ({"PageSize": "1.5"}, "PageSize"),
        ({"StartTime": "yesterday"}, "StartTime"),
        ({"EndTime": "2024-13-45"}, "EndTime"),
        ({"SortBy": "Password:asc"}, "SortBy"),
        ({"SortBy": "DateCreated:sideways"}, "SortBy"),
        ({"Status": "sleeping"}, "Status"),
    ],
)
@pytest.mark.parametrize("suffix", [".json", ".xml", ""])
async def test_bad_list_input_is_400_in_the_envelope(
    client: httpx.AsyncClient, root: Creds, params: dict[str, str], param: str, suffix: str
) -> None:
    response = await client.get(f"{BASE}/Accounts{suffix}", params=params, auth=root.auth)
    assert response.status_code == 400, response.text
    if suffix == ".xml":
        assert response.headers["content-type"].startswith("application/xml")
        assert b"<RestException>" in response.content and b"<Status>400</Status>" in response.content
    else:
        body = response.json()
        assert body["status"] == 400 and body["code"] and param in body["message"]


async def test_time_filters_are_inclusive_and_utc(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount
) -> None:
    days = {"a": datetime(2024, 3, 1, 0, 0, tzinfo=UTC), "b": datetime(2024, 3, 2, 23, 59, 59, tzinfo=UTC)}
    made = {name: await make_account(root) for name in days}
    async with app.state.session_factory() as session, session.begin():
        for name, when in days.items():
            await session.execute(update(Account).where(Account.sid == made[name].sid).values(date_created=when))

    async def sids(**params: str) -> set[str]:
        response = await client.get(f"{BASE}/Accounts.json", params=params, auth=root.auth)
        assert response.status_code == 200, response.text
        return {a["sid"] for a in response.json()["accounts"]}

    assert await sids(StartTime="2024-03-01", EndTime="2024-03-02") == {made["a"].sid, made["b"].sid}
    assert await sids(StartTime="2024-03-02", EndTime="2024-03-02") == {made["b"].sid}
    assert await sids(EndTime="2024-03-01") == {made["a"].sid}
    assert await sids(StartTime="2024-03-01T00:00:01Z", EndTime="2024-03-03") == {made["b"].sid}
    # a zone offset is converted to UTC: 01:00+02:00 is 23:00 UTC the day before
    assert await sids(StartTime="2024-03-02T01:00:00+02:00", EndTime="2024-03-02T23:59:59") == {made["b"].sid}
    assert root.sid in await sids(StartTime=(datetime.now(UTC) - timedelta(hours=1)).isoformat())


async def test_sort_by(client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount) -> None:
    for name in ("Charlie", "alpha", "Bravo"):
        child = await make_account(root)
        await client.post(f"{BASE}/Accounts/{child.sid}", data={"FriendlyName": name}, auth=root.auth)

    async def names(sort: str) -> list[str]:
        response = await client.get(
            f"{BASE}/Accounts.json", params={"SortBy": sort, "Status": "active"}, auth=root.auth
        )
        assert response.status_code == 200, response.text
        return [a["friendly_name"] for a in response.json()["accounts"] if a["sid"] != root.sid]

    ascending = await names("FriendlyName:asc")
    assert ascending == sorted(ascending) and len(ascending) == 3
    assert await names("friendlyname:DESC") == list(reversed(ascending))
    created = await names("DateCreated")
    assert created == ["Charlie", "alpha", "Bravo"]
    assert await names("DateCreated:desc") == ["Bravo", "alpha", "Charlie"]

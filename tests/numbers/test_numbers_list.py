"""Listing incoming phone numbers: filters with ``%``, sorting, paging walk, bad paging/sort."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.numbers.helpers import BASE, add_number, numbers_url
from tests.support.accounts import Creds, MakeAccount

NUMBERS = {
    "+14155550120": "Sales West",
    "+14155550121": "sales east",
    "+14155559999": "Support",
    "+12125550130": "NY_desk",
    "+442079460958": "London",
}


async def _seed(client: httpx.AsyncClient, owner: Creds) -> None:
    for number, name in NUMBERS.items():
        await add_number(client, owner, number, FriendlyName=name)


async def _phone_numbers(client: httpx.AsyncClient, owner: Creds, query: str) -> list[str]:
    response = await client.get(f"{numbers_url(owner.sid)}?{query}", auth=owner.auth)
    assert response.status_code == 200, response.text
    return [n["phone_number"] for n in response.json()["incoming_phone_numbers"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("PhoneNumber=%2B1415", ["+14155550120", "+14155550121", "+14155559999"]),
        ("PhoneNumber=%2B1%25555", ["+14155550120", "+14155550121", "+14155559999", "+12125550130"]),
        ("PhoneNumber=%2B1%255550", ["+14155550120", "+14155550121", "+12125550130"]),
        ("PhoneNumber=%25999", ["+14155559999"]),
        ("PhoneNumber=+44", ["+442079460958"]),  # an unencoded + arrives as a space
        ("PhoneNumber=%2B1+(415)+555-012", ["+14155550120", "+14155550121"]),
        ("PhoneNumber=%2B33", []),
        ("FriendlyName=Sales", ["+14155550120", "+14155550121"]),  # case-insensitive prefix
        ("FriendlyName=%25desk", ["+12125550130"]),
        ("FriendlyName=NY_", ["+12125550130"]),
        ("FriendlyName=N_", []),  # _ is literal, not a one-character wildcard
        ("FriendlyName=%25east", ["+14155550121"]),
        ("FriendlyName=%25e%25t", ["+14155550120", "+14155550121"]),
        ("FriendlyName=Sales&PhoneNumber=%2B14155550121", ["+14155550121"]),
    ],
)
async def test_filters(client: httpx.AsyncClient, root: Creds, query: str, expected: list[str]) -> None:
    await _seed(client, root)
    assert sorted(await _phone_numbers(client, root, f"{query}&SortBy=PhoneNumber")) == sorted(expected)


async def test_sorting(client: httpx.AsyncClient, root: Creds) -> None:
    await _seed(client, root)
    created_order = list(NUMBERS)
    assert await _phone_numbers(client, root, "") == created_order
    assert await _phone_numbers(client, root, "SortBy=DateCreated:desc") == created_order[::-1]
    assert await _phone_numbers(client, root, "SortBy=PhoneNumber") == sorted(NUMBERS)
    assert await _phone_numbers(client, root, "SortBy=phonenumber:desc") == sorted(NUMBERS, reverse=True)
    by_name = await _phone_numbers(client, root, "SortBy=FriendlyName:asc")
    assert by_name[0] == "+442079460958" and by_name[1] == "+12125550130"  # "London" < "NY_desk"


async def test_paging_walk_with_filters_visits_every_number_once(client: httpx.AsyncClient, root: Creds) -> None:
    for i in range(7):
        await add_number(client, root, f"+1415555020{i}")
    await add_number(client, root, "+12125550200")
    url: str | None = f"{numbers_url(root.sid)}?PhoneNumber=%2B1415&PageSize=3"
    seen: list[str] = []
    pages = 0
    while url and url != "null":
        response = await client.get(url, auth=root.auth)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["page"] == pages and page["page_size"] == 3 and page["total"] == 7 and page["num_pages"] == 3
        assert parse_qs(urlsplit(page["uri"]).query)["PhoneNumber"] == ["+1415"]
        assert page["first_page_uri"].startswith(f"{BASE}/Accounts/{root.sid}/IncomingPhoneNumbers.json?")
        seen += [n["phone_number"] for n in page["incoming_phone_numbers"]]
        url = page["next_page_uri"]
        pages += 1
    assert pages == 3
    assert seen == [f"+1415555020{i}" for i in range(7)]
    assert page["previous_page_uri"] != "null" and page["next_page_uri"] == "null"


async def test_empty_list_is_a_valid_page(client: httpx.AsyncClient, root: Creds, make_account: MakeAccount) -> None:
    other = await make_account()
    await add_number(client, other, "+14155550300")
    response = await client.get(numbers_url(root.sid), auth=root.auth)
    page = response.json()
    assert page["total"] == 0 and page["incoming_phone_numbers"] == [] and page["next_page_uri"] == "null"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("Page=-1", "Page"),
        ("Page=abc", "Page"),
        ("Page=1", "Page"),  # past the end
        ("PageSize=0", "PageSize"),
        ("PageSize=1001", "PageSize"),
        ("PageSize=1.5", "PageSize"),
        ("SortBy=Sid", "SortBy"),
        ("SortBy=PhoneNumber:sideways", "SortBy"),
        ("PhoneNumber=abc", "PhoneNumber"),
        ("PhoneNumber=%2B1_415", "PhoneNumber"),
        ("PhoneNumber=%2B1%00", "PhoneNumber"),
        ("FriendlyName=a%00b", "FriendlyName"),
        (f"FriendlyName={'x' * 65}", "FriendlyName"),
    ],
)
async def test_bad_paging_sort_and_filters_answer_400(
    client: httpx.AsyncClient, root: Creds, query: str, param: str
) -> None:
    await add_number(client, root, "+14155550400")
    response = await client.get(f"{numbers_url(root.sid)}?{query}", auth=root.auth)
    assert response.status_code == 400, response.text
    assert param in response.json()["message"]
    xml = await client.get(f"{numbers_url(root.sid, '.xml')}?{query}", auth=root.auth)
    assert xml.status_code == 400 and b"<RestException>" in xml.content

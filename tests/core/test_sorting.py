"""``SortBy=<attribute>:<asc|desc>``."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.core.errors import BadRequest
from message_exchange.core.sorting import Sort, parse_sort

ALLOWED = ("DateCreated", "FriendlyName", "To")
DEFAULT = Sort("DateCreated", descending=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DateCreated:asc", Sort("DateCreated", False)),
        ("DateCreated:desc", Sort("DateCreated", True)),
        ("datecreated:DESC", Sort("DateCreated", True)),
        ("FRIENDLYNAME:Asc", Sort("FriendlyName", False)),
        ("FriendlyName", Sort("FriendlyName", False)),  # no direction → ascending
        ("FriendlyName:", Sort("FriendlyName", False)),
        (" to : desc ", Sort("To", True)),
    ],
)
def test_attribute_and_direction(value: str, expected: Sort) -> None:
    assert parse_sort(value, ALLOWED, default=DEFAULT) == expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_absent_means_the_default(value: str | None) -> None:
    assert parse_sort(value, ALLOWED, default=DEFAULT) is DEFAULT


@pytest.mark.parametrize("value", ["Body:asc", "Date_Created", ":asc", "sid", "DateCreated2:desc"])
def test_unknown_attribute_is_400_listing_the_allowed_ones(value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_sort(value, ALLOWED, default=DEFAULT)
    assert caught.value.param == "SortBy"
    assert caught.value.status_code == 400
    assert all(name in caught.value.message for name in ALLOWED)


@pytest.mark.parametrize("value", ["DateCreated:up", "DateCreated:ascending", "DateCreated:asc:desc", "To:-1"])
def test_unknown_direction_is_400(value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_sort(value, ALLOWED, default=DEFAULT)
    assert caught.value.param == "SortBy"
    assert "asc or desc" in caught.value.message


def test_the_parameter_name_is_reported_as_given() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_sort("nope", ALLOWED, default=DEFAULT, param="sortBy")
    assert caught.value.param == "sortBy"


@given(st.text(max_size=30))
def test_any_text_sorts_by_an_allowed_attribute_or_is_bad_request(value: str) -> None:
    try:
        sort = parse_sort(value, ALLOWED, default=DEFAULT)
    except BadRequest as error:
        assert error.param == "SortBy"
    else:
        assert sort.attribute in ALLOWED


async def test_sort_over_http(core_client: httpx.AsyncClient) -> None:
    newest_first = await core_client.get(
        "/restcomm/Things.json", params={"SortBy": "datecreated:desc", "PageSize": "3"}
    )
    assert [t["sid"] for t in newest_first.json()["things"]] == [f"TH{i:032x}" for i in (22, 21, 20)]
    assert "SortBy=datecreated%3Adesc" in newest_first.json()["next_page_uri"]
    by_name = await core_client.get("/restcomm/Things.json", params={"SortBy": "FriendlyName", "PageSize": "2"})
    assert [t["friendly_name"] for t in by_name.json()["things"]] == ["thing 001", "thing 002"]


@pytest.mark.parametrize("value", ["Body:asc", "DateCreated:sideways"])
async def test_bad_sort_is_400_over_http(core_client: httpx.AsyncClient, value: str) -> None:
    response = await core_client.get("/restcomm/Things.xml", params={"SortBy": value})
    assert response.status_code == 400
    assert b"<RestException>" in response.content
    assert b"SortBy" in response.content

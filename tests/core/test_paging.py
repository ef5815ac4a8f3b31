"""Restcomm paging: ``Page``/``PageSize`` validation and the page envelope."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.core.errors import BadRequest
from message_exchange.core.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    PageRequest,
    ensure_page_exists,
    page_envelope,
    parse_page_request,
)
from tests.core.conftest import build_app, client_for, make_things

ENVELOPE_KEYS = {
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
}


# --- Page / PageSize -------------------------------------------------------------------


def test_defaults_when_absent_or_empty() -> None:
    assert parse_page_request({}) == PageRequest(page=0, page_size=DEFAULT_PAGE_SIZE)
    assert parse_page_request({"Page": "", "PageSize": ""}) == PageRequest(page=0, page_size=DEFAULT_PAGE_SIZE)


def test_values_are_read() -> None:
    request = parse_page_request({"Page": "3", "PageSize": "10"})
    assert (request.page, request.page_size, request.offset) == (3, 10, 30)


def test_max_page_size_is_accepted() -> None:
    assert parse_page_request({"PageSize": str(MAX_PAGE_SIZE)}).page_size == MAX_PAGE_SIZE


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"Page": "abc"}, "Page"),
        ({"Page": "1.5"}, "Page"),
        ({"Page": "1_0"}, "Page"),
        ({"Page": "١"}, "Page"),  # an Arabic-Indic digit: int() takes it, we do not
        ({"Page": "0x10"}, "Page"),
        ({"Page": "-1"}, "Page"),
        ({"Page": "9" * 40}, "Page"),
        ({"Page": "99999999999999999"}, "Page"),  # offset would overflow SQL
        ({"PageSize": "ten"}, "PageSize"),
        ({"PageSize": "-5"}, "PageSize"),
        ({"PageSize": "0"}, "PageSize"),
        ({"PageSize": str(MAX_PAGE_SIZE + 1)}, "PageSize"),
        ({"PageSize": "9" * 5000}, "PageSize"),  # beyond int()'s digit limit
    ],
)
def test_bad_values_are_400_naming_the_parameter(params: dict[str, str], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_page_request(params)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert param in caught.value.message


def test_exchange_families_can_use_their_own_parameter_names() -> None:
    request = parse_page_request(
        {"page": "2", "pageSize": "7"}, default_size=10, page_param="page", size_param="pageSize"
    )
    assert request == PageRequest(page=2, page_size=7)
    assert parse_page_request({}, default_size=10, page_param="page", size_param="pageSize").page_size == 10
    with pytest.raises(BadRequest) as caught:
        parse_page_request({"pageSize": "0"}, page_param="page", size_param="pageSize")
    assert caught.value.param == "pageSize"


@given(st.dictionaries(st.sampled_from(["Page", "PageSize"]), st.text(max_size=30)))
def test_any_input_gives_a_page_request_or_bad_request(params: dict[str, str]) -> None:
    try:
        request = parse_page_request(params)
    except BadRequest as error:
        assert error.param in ("Page", "PageSize")
    else:
        assert request.page >= 0
        assert 1 <= request.page_size <= MAX_PAGE_SIZE


# --- page past the end -------------------------------------------------------------------


@pytest.mark.parametrize(("page", "size", "total"), [(0, 10, 0), (0, 10, 5), (1, 10, 11), (2, 5, 15)])
def test_existing_pages_pass(page: int, size: int, total: int) -> None:
    ensure_page_exists(PageRequest(page, size), total)


@pytest.mark.parametrize(("page", "size", "total"), [(1, 10, 0), (1, 10, 10), (3, 5, 15), (100, 50, 49)])
def test_page_past_the_end_is_400(page: int, size: int, total: int) -> None:
    with pytest.raises(BadRequest) as caught:
        ensure_page_exists(PageRequest(page, size), total)
    assert caught.value.param == "Page"


# --- the envelope ------------------------------------------------------------------------


def _envelope(
    page: int, size: int, total: int, query: list[tuple[str, str]] | None = None, **kw: Any
) -> dict[str, Any]:
    request = PageRequest(page, size)
    items = [{"n": n} for n in range(request.offset, min(request.offset + size, total))]
    return page_envelope(
        Page(request=request, total=total, items=items),
        uri="/restcomm/Things.json",
        query=query or [],
        list_key="things",
        **kw,
    )


def test_envelope_fields_are_exactly_the_restcomm_ones() -> None:
    envelope = _envelope(1, 10, 25)
    assert set(envelope) == ENVELOPE_KEYS | {"things"}
    assert envelope["page"] == 1
    assert envelope["num_pages"] == 3
    assert envelope["page_size"] == 10
    assert envelope["total"] == 25
    assert (envelope["start"], envelope["end"]) == ("10", "20")
    assert envelope["things"] == [{"n": n} for n in range(10, 20)]


def test_envelope_links_are_relative_and_point_at_their_pages() -> None:
    envelope = _envelope(1, 10, 25)
    assert envelope["uri"] == "/restcomm/Things.json?Page=1&PageSize=10"
    assert envelope["first_page_uri"] == "/restcomm/Things.json?Page=0&PageSize=10"
    assert envelope["previous_page_uri"] == "/restcomm/Things.json?Page=0&PageSize=10"
    assert envelope["next_page_uri"] == "/restcomm/Things.json?Page=2&PageSize=10"
    assert envelope["last_page_uri"] == "/restcomm/Things.json?Page=2&PageSize=10"


def test_absent_links_are_the_string_null_on_restcomm() -> None:
    only = _envelope(0, 10, 5)
    assert only["previous_page_uri"] == "null"
    assert only["next_page_uri"] == "null"
    assert only["num_pages"] == 1
    assert (only["start"], only["end"]) == ("0", "5")


def test_absent_links_are_json_null_when_asked_for_twilio() -> None:
    only = _envelope(0, 10, 5, null_link=None)
    assert only["previous_page_uri"] is None
    assert only["next_page_uri"] is None


def test_empty_list_has_page_zero_and_links_to_it() -> None:
    envelope = _envelope(0, 10, 0)
    assert envelope["num_pages"] == 0
    assert envelope["total"] == 0
    assert (envelope["start"], envelope["end"]) == ("0", "0")
    assert envelope["first_page_uri"] == envelope["last_page_uri"] == "/restcomm/Things.json?Page=0&PageSize=10"
    assert envelope["next_page_uri"] == envelope["previous_page_uri"] == "null"
    assert envelope["things"] == []


def test_links_carry_the_filters_and_replace_paging_params() -> None:
    query = [("To", "+1%"), ("Page", "1"), ("StartTime", "2022-05-10"), ("PageSize", "10")]
    envelope = _envelope(1, 10, 25, query)
    for key in ("uri", "first_page_uri", "previous_page_uri", "next_page_uri", "last_page_uri"):
        link = urlsplit(envelope[key])
        assert (link.scheme, link.netloc, link.path) == ("", "", "/restcomm/Things.json")
        pairs = parse_qsl(link.query)
        assert [k for k, _ in pairs].count("Page") == 1
        assert dict(pairs)["To"] == "+1%"
        assert dict(pairs)["StartTime"] == "2022-05-10"
        assert dict(pairs)["PageSize"] == "10"
    assert "To=%2B1%25" in envelope["uri"]


def _follow(envelope: dict[str, Any], key: str) -> PageRequest:
    return parse_page_request(dict(parse_qsl(urlsplit(envelope[key]).query)))


@given(total=st.integers(0, 300), size=st.integers(1, 40))
def test_walking_next_page_uri_visits_every_item_once(total: int, size: int) -> None:
    everything = list(range(total))
    seen: list[int] = []
    request = parse_page_request({"PageSize": str(size)})
    pages = 0
    while True:
        ensure_page_exists(request, total)
        items = [{"n": n} for n in everything[request.offset : request.offset + request.page_size]]
        envelope = page_envelope(Page(request, total, items), uri="/x", list_key="items")
        assert int(envelope["end"]) - int(envelope["start"]) == len(items)
        seen.extend(item["n"] for item in envelope["items"])
        pages += 1
        if envelope["next_page_uri"] == "null":
            break
        request = _follow(envelope, "next_page_uri")
    assert seen == everything
    assert pages == max(envelope["num_pages"], 1)
    assert _follow(envelope, "last_page_uri") == request


@given(total=st.integers(1, 300), size=st.integers(1, 40), data=st.data())
def test_previous_page_uri_walks_back_to_the_first(total: int, size: int, data: st.DataObject) -> None:
    last = -(-total // size) - 1
    request = PageRequest(data.draw(st.integers(0, last)), size)
    steps = 0
    while True:
        envelope = page_envelope(Page(request, total, []), uri="/x", list_key="items")
        if envelope["previous_page_uri"] == "null":
            break
        request = _follow(envelope, "previous_page_uri")
        steps += 1
    assert request.page == 0
    assert envelope["uri"] == envelope["first_page_uri"]


# --- through HTTP ------------------------------------------------------------------------


async def test_list_json_envelope_over_http(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Things.json", params={"PageSize": "5", "Page": "2"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ENVELOPE_KEYS | {"things"}
    assert body["total"] == 23
    assert body["num_pages"] == 5
    assert [t["sid"] for t in body["things"]] == [f"TH{i:032x}" for i in range(10, 15)]
    assert body["uri"] == "/restcomm/Things.json?Page=2&PageSize=5"
    assert body["previous_page_uri"] == "/restcomm/Things.json?Page=1&PageSize=5"


async def test_list_without_suffix_links_to_json(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Things")
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["page_size"] == DEFAULT_PAGE_SIZE
    assert body["next_page_uri"] == "null"
    assert body["uri"].startswith("/restcomm/Things.json?")


@pytest.mark.parametrize(
    "query",
    [{"Page": "x"}, {"Page": "-1"}, {"PageSize": "0"}, {"PageSize": "1001"}, {"PageSize": "1.0"}, {"Page": "5"}],
)
async def test_bad_paging_is_400_in_the_restcomm_envelope(
    core_client: httpx.AsyncClient, query: dict[str, str]
) -> None:
    response = await core_client.get("/restcomm/Things.json", params=query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["status"] == 400
    assert next(iter(query)) in body["message"]


async def test_page_zero_of_an_empty_list_is_fine_over_http() -> None:
    async with client_for(build_app(things=[])) as http:
        response = await http.get("/restcomm/Things.json", params={"Page": "0"})
        assert response.status_code == 200
        assert response.json()["things"] == []
        assert (await http.get("/restcomm/Things.json", params={"Page": "1"})).status_code == 400


@pytest.mark.parametrize(("count", "size"), [(0, 3), (1, 1), (9, 3), (10, 3), (23, 5), (23, 50)])
async def test_walking_links_over_http_with_a_filter(count: int, size: int) -> None:
    things = make_things(count)
    expected = [t["sid"] for t in things if t["to"].startswith("+1")]
    async with client_for(build_app(things=things)) as http:
        uri: str = f"/restcomm/Things.json?To=%2B1%25&PageSize={size}"
        seen: list[str] = []
        requests = 0
        while uri != "null":
            response = await http.get(uri)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["total"] == len(expected)
            assert "To=%2B1%25" in body["uri"]
            seen += [t["sid"] for t in body["things"]]
            uri = body["next_page_uri"]
            requests += 1
    assert seen == expected
    assert requests == max(1, -(-len(expected) // size))

"""The ``.json``/``.xml`` suffix and the JSON / Restcomm-XML renderings."""

from __future__ import annotations

import enum
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.core.rendering import (
    Format,
    JSONResponse,
    format_of_path,
    parse_format,
    render_resource,
    render_xml,
    render_xml_list,
    xml_tag,
)

SID = f"TH{0:032x}"


def parse(body: bytes) -> ET.Element:
    assert body.startswith(b"<?xml")
    return ET.fromstring(body)


# --- suffix ------------------------------------------------------------------------------


def test_parse_format() -> None:
    assert parse_format("") is Format.JSON
    assert parse_format(".json") is Format.JSON
    assert parse_format(".xml") is Format.XML
    assert format_of_path("/restcomm/2012-04-24/Accounts/AC1.xml") is Format.XML
    assert format_of_path("/restcomm/2012-04-24/Accounts/AC1") is Format.JSON


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/restcomm/Things", "application/json"),
        ("/restcomm/Things.json", "application/json"),
        ("/restcomm/Things.xml", "application/xml"),
    ],
)
async def test_list_route_serves_every_suffix(core_client: httpx.AsyncClient, path: str, content_type: str) -> None:
    response = await core_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


@pytest.mark.parametrize(("suffix", "seen"), [("", ""), (".json", ".json"), (".xml", ".xml")])
async def test_sid_does_not_swallow_the_suffix(core_client: httpx.AsyncClient, suffix: str, seen: str) -> None:
    response = await core_client.get(f"/restcomm/Things/{SID}{suffix}")
    assert response.status_code == 200, response.text
    if suffix == ".xml":
        thing = parse(response.content).find("Thing")
        assert thing is not None
        assert thing.findtext("Sid") == SID
        assert thing.findtext("SeenFmt") == ".xml"
    else:
        assert response.json()["sid"] == SID
        assert response.json()["seen_fmt"] == seen


@pytest.mark.parametrize("path", ["/restcomm/Things.txt", "/restcomm/Things.jsonx", f"/restcomm/Things/{SID}.yaml"])
async def test_other_suffixes_are_not_routes(core_client: httpx.AsyncClient, path: str) -> None:
    response = await core_client.get(path)
    assert response.status_code == 404


# --- JSON ------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


def test_json_response_renders_api_values() -> None:
    response = JSONResponse(
        {"price": Decimal("0.0"), "when": datetime(2022, 5, 10, tzinfo=UTC), "colour": Colour.RED, 1: "int key"}
    )
    assert response.headers["content-type"] == "application/json"
    assert json.loads(bytes(response.body)) == {
        "price": "0.0",
        "when": "2022-05-10T00:00:00+00:00",
        "colour": "red",
        "1": "int key",
    }


def test_render_resource_json() -> None:
    response = render_resource(Format.JSON, "Account", {"sid": "AC1", "friendly_name": None}, status_code=201)
    assert response.status_code == 201
    assert json.loads(bytes(response.body)) == {"sid": "AC1", "friendly_name": None}


# --- XML -------------------------------------------------------------------------------


def test_resource_xml_shape() -> None:
    body = render_xml(
        "Account",
        {
            "sid": "AC1",
            "friendly_name": "Ann & <Bob>",
            "status": "active",
            "active": True,
            "suspended": False,
            "num_segments": 2,
            "price": Decimal("0.50"),
            "date_created": "Tue, 10 May 2022 12:33:28 +0000",
            "parent_sid": None,
            "subresource_uris": {"auth_token": "/x/AuthToken", "nested_deeper": {"a_b": 1}},
            "media_urls": ["https://a/1", "https://a/2"],
            "addresses": ["x"],
            "statuses": ["sent"],
        },
    )
    root = parse(body)
    assert root.tag == "RestcommResponse"
    account = root.find("Account")
    assert account is not None
    assert [child.tag for child in account] == [
        "Sid", "FriendlyName", "Status", "Active", "Suspended", "NumSegments", "Price", "DateCreated",
        "ParentSid", "SubresourceUris", "MediaUrls", "Addresses", "Statuses",
    ]  # fmt: skip
    assert account.findtext("FriendlyName") == "Ann & <Bob>"
    assert b"Ann &amp; &lt;Bob&gt;" in body
    assert account.findtext("Status") == "active"
    assert account.findtext("Active") == "true"
    assert account.findtext("Suspended") == "false"
    assert account.findtext("NumSegments") == "2"
    assert account.findtext("Price") == "0.50"
    parent = account.find("ParentSid")
    assert parent is not None and parent.text is None and len(parent) == 0
    assert account.findtext("SubresourceUris/AuthToken") == "/x/AuthToken"
    assert account.findtext("SubresourceUris/NestedDeeper/AB") == "1"
    assert [e.text for e in account.findall("MediaUrls/MediaUrl")] == ["https://a/1", "https://a/2"]
    assert [e.text for e in account.findall("Addresses/Address")] == ["x"]
    assert [e.text for e in account.findall("Statuses/Status")] == ["sent"]


def test_xml_renders_enums_and_datetimes_like_json() -> None:
    when = datetime(2022, 5, 10, 12, 33, 28, tzinfo=UTC)
    thing = parse(render_xml("Thing", {"colour": Colour.RED, "when": when})).find("Thing")
    assert thing is not None
    assert thing.findtext("Colour") == "red"
    assert thing.findtext("When") == json.loads(bytes(JSONResponse({"w": when}).body))["w"]


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("friendly_name", "FriendlyName"),
        ("sid", "Sid"),
        ("num_segments", "NumSegments"),
        ("AlreadyPascal", "AlreadyPascal"),
        ("2fa_enabled", "_2faEnabled"),
        ("with space", "With_space"),
        ("x:y", "X_y"),
        ("", "_"),
        ("näme", "N_me"),
    ],
)
def test_xml_tags_are_pascal_case_and_valid_names(key: str, tag: str) -> None:
    assert xml_tag(key) == tag
    parse(render_xml("Thing", {key: "v"}))


def test_control_characters_do_not_break_the_document() -> None:
    body = render_xml("Message", {"body": "bell\x07 esc\x1b nul\x00 ok\ttab\nline"})
    message = parse(body).find("Message")
    assert message is not None
    assert message.findtext("Body") == "bell\ufffd esc\ufffd nul\ufffd ok\ttab\nline"


xml_keys = st.text(max_size=12)
xml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))
xml_values = st.recursive(
    xml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(xml_keys, children, max_size=3)),
    max_leaves=10,
)


@given(st.dictionaries(xml_keys, xml_values, max_size=6))
def test_any_resource_renders_well_formed_xml(resource: dict[str, Any]) -> None:
    root = parse(render_xml("Thing", resource))
    thing = root.find("Thing")
    assert thing is not None
    assert len(thing) == len(resource)


NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@given(st.text(max_size=50))
def test_any_text_value_survives_xml_except_characters_xml_cannot_hold(text: str) -> None:
    thing = parse(render_xml("Thing", {"body": text})).find("Thing")
    assert thing is not None
    # The only change is U+FFFD for what XML 1.0 cannot carry (CR and CRLF come back as sent).
    assert (thing.findtext("Body") or "") == NOT_XML_CHARS.sub("\ufffd", text)


def test_carriage_returns_survive_xml() -> None:
    thing = parse(render_xml("Message", {"body": "line one\r\nline two\r"})).find("Message")
    assert thing is not None
    assert thing.findtext("Body") == "line one\r\nline two\r"


def test_xml_list_carries_paging_attributes() -> None:
    body = render_xml_list(
        "Accounts",
        "Account",
        {"page": 0, "num_pages": 1, "page_size": 50, "first_page_uri": "/a?Page=0&PageSize=50",
         "next_page_uri": "null", "previous_page_uri": None},
        [{"sid": "AC1"}, {"sid": "AC2"}],
    )  # fmt: skip
    accounts = parse(body).find("Accounts")
    assert accounts is not None
    assert accounts.attrib == {
        "page": "0", "numpages": "1", "pagesize": "50", "firstpageuri": "/a?Page=0&PageSize=50", "nextpageuri": "null",
    }  # fmt: skip
    assert b'firstpageuri="/a?Page=0&amp;PageSize=50"' in body
    assert [a.findtext("Sid") for a in accounts.findall("Account")] == ["AC1", "AC2"]


async def test_xml_page_over_http(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Things.xml", params={"PageSize": "5", "Page": "1", "To": "+1%"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    things = parse(response.content).find("Things")
    assert things is not None
    assert set(things.attrib) == {
        "page", "numpages", "pagesize", "total", "start", "end", "uri", "firstpageuri", "previouspageuri",
        "nextpageuri", "lastpageuri",
    }  # fmt: skip
    assert things.attrib["page"] == "1"
    assert things.attrib["total"] == "15"
    assert things.attrib["numpages"] == "3"
    assert things.attrib["uri"] == "/restcomm/Things.xml?To=%2B1%25&Page=1&PageSize=5"
    assert things.attrib["nextpageuri"] == "/restcomm/Things.xml?To=%2B1%25&Page=2&PageSize=5"
    items = things.findall("Thing")
    assert len(items) == 5
    assert all(item.findtext("To", "").startswith("+1") for item in items)
    assert items[0].findtext("DateCreated", "").endswith("+0000")


async def test_xml_last_page_has_null_next(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Things.xml", params={"PageSize": "20", "Page": "1"})
    things = parse(response.content).find("Things")
    assert things is not None
    assert things.attrib["nextpageuri"] == "null"
    assert things.attrib["previouspageuri"] == "/restcomm/Things.xml?Page=0&PageSize=20"
    assert len(things.findall("Thing")) == 3

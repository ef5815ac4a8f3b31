"""IncomingPhoneNumbers: create, get, update, delete; JSON and XML; validation; uniqueness; tenancy."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import httpx
import pytest
from fastapi import FastAPI

from tests.numbers.helpers import add_number, count_numbers, number_url, numbers_url
from tests.support.accounts import Creds, MakeAccount

_RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")


# --- CRUD ------------------------------------------------------------------------------


async def test_create_returns_the_resource_with_defaults(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.post(numbers_url(root.sid), data={"PhoneNumber": "+1 (415) 555-0100"}, auth=root.auth)
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"PN[0-9a-f]{32}", body["sid"])
    assert body["account_sid"] == root.sid
    assert body["phone_number"] == "+14155550100"
    assert body["friendly_name"] == "+14155550100"
    assert body["sms_url"] is None and body["sms_fallback_url"] is None and body["status_callback"] is None
    assert body["sms_method"] == body["sms_fallback_method"] == body["status_callback_method"] == "POST"
    assert body["capabilities"] == {"voice": False, "sms": True, "mms": True}
    assert body["api_version"] == "2012-04-24"
    assert _RFC2822.match(body["date_created"]) and _RFC2822.match(body["date_updated"])
    assert body["uri"] == number_url(root.sid, body["sid"])
    fetched = await client.get(number_url(root.sid, body["sid"]), auth=root.auth)
    assert fetched.status_code == 200 and fetched.json() == body
    no_suffix = await client.get(number_url(root.sid, body["sid"], ""), auth=root.auth)
    assert no_suffix.json() == body


async def test_create_with_every_parameter_as_json_body(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.post(
        numbers_url(root.sid),
        json={
            "PhoneNumber": "+442079460958",
            "FriendlyName": "London desk",
            "SmsUrl": "https://app.example.com/sms",
            "SmsMethod": "get",
            "SmsFallbackUrl": "http://fallback.example.com:8080/sms?x=1",
            "SmsFallbackMethod": "GET",
            "StatusCallback": "https://app.example.com/status",
            "StatusCallbackMethod": "GET",
            "SmsCapable": True,
            "MmsCapable": False,
        },
        auth=root.auth,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["friendly_name"] == "London desk"
    assert body["sms_url"] == "https://app.example.com/sms" and body["sms_method"] == "GET"
    assert body["sms_fallback_url"] == "http://fallback.example.com:8080/sms?x=1"
    assert body["sms_fallback_method"] == "GET"
    assert body["status_callback"] == "https://app.example.com/status" and body["status_callback_method"] == "GET"
    assert body["capabilities"] == {"voice": False, "sms": True, "mms": False}


async def test_update_by_post_and_put_changes_only_what_is_given(client: httpx.AsyncClient, root: Creds) -> None:
    created = await add_number(
        client, root, "+14155550101", SmsUrl="https://a.example.com/sms", StatusCallback="https://a.example.com/s"
    )
    url = number_url(root.sid, created["sid"])
    posted = await client.post(url, data={"FriendlyName": "Support", "SmsMethod": "GET"}, auth=root.auth)
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert body["friendly_name"] == "Support" and body["sms_method"] == "GET"
    assert body["sms_url"] == "https://a.example.com/sms" and body["phone_number"] == "+14155550101"
    put = await client.put(url, data={"MmsCapable": "false", "StatusCallback": ""}, auth=root.auth)
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["capabilities"] == {"voice": False, "sms": True, "mms": False}
    assert body["status_callback"] is None  # an empty URL clears it
    assert body["friendly_name"] == "Support"
    # the number itself cannot be changed by an update
    ignored = await client.post(url, data={"PhoneNumber": "+14155550199"}, auth=root.auth)
    assert ignored.json()["phone_number"] == "+14155550101"
    assert (await client.get(url, auth=root.auth)).json()["capabilities"]["mms"] is False


async def test_delete_answers_204_then_the_number_is_gone_and_free(
    client: httpx.AsyncClient, app: FastAPI, root: Creds
) -> None:
    created = await add_number(client, root, "+14155550102")
    url = number_url(root.sid, created["sid"])
    deleted = await client.delete(url, auth=root.auth)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = await client.get(url, auth=root.auth)
    assert gone.status_code == 404 and gone.json()["code"] == 20404
    assert (await client.delete(url, auth=root.auth)).status_code == 404
    assert await count_numbers(app) == 0
    again = await add_number(client, root, "+14155550102")
    assert again["sid"] != created["sid"]


async def test_xml_representation(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.post(
        numbers_url(root.sid, ".xml"), data={"PhoneNumber": "+14155550103", "MmsCapable": "false"}, auth=root.auth
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/xml")
    number = ET.fromstring(response.content).find("IncomingPhoneNumber")
    assert number is not None
    assert number.findtext("PhoneNumber") == "+14155550103"
    assert number.findtext("AccountSid") == root.sid
    assert number.findtext("SmsMethod") == "POST"
    assert number.findtext("Capabilities/Voice") == "false"
    assert number.findtext("Capabilities/Sms") == "true"
    assert number.findtext("Capabilities/Mms") == "false"
    sid = number.findtext("Sid")
    assert sid is not None
    fetched = await client.get(number_url(root.sid, sid, ".xml"), auth=root.auth)
    assert ET.fromstring(fetched.content).findtext("IncomingPhoneNumber/Sid") == sid
    missing = await client.get(number_url(root.sid, "PN" + "0" * 32, ".xml"), auth=root.auth)
    assert missing.status_code == 404
    assert ET.fromstring(missing.content).findtext("RestException/Code") == "20404"
    listed = await client.get(numbers_url(root.sid, ".xml"), auth=root.auth)
    page = ET.fromstring(listed.content).find("IncomingPhoneNumbers")
    assert page is not None and page.get("total") == "1"
    assert [n.findtext("Sid") for n in page.findall("IncomingPhoneNumber")] == [sid]


# --- normalisation and uniqueness -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (415) 555-0104", "+14155550104"),
        ("  +1-415-555-0105 ", "+14155550105"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+49.151.12345678", "+4915112345678"),
    ],
)
async def test_phone_numbers_are_stored_in_e164(client: httpx.AsyncClient, root: Creds, raw: str, e164: str) -> None:
    assert (await add_number(client, root, raw))["phone_number"] == e164


async def test_a_number_is_unique_across_all_accounts(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount
) -> None:
    await add_number(client, root, "+14155550106")
    stranger = await make_account()
    for caller, spelling in ((root, "+14155550106"), (stranger, "+1 415 555 0106"), (root, "+1(415)555-0106")):
        response = await client.post(numbers_url(caller.sid), data={"PhoneNumber": spelling}, auth=caller.auth)
        assert response.status_code == 409, spelling
        assert response.json()["code"] == 21422
        assert "+14155550106" in response.json()["message"]
    assert await count_numbers(app) == 1


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({}, 21421, "PhoneNumber"),
        ({"PhoneNumber": ""}, 21421, "PhoneNumber"),
        ({"PhoneNumber": "4155550100"}, 21421, "PhoneNumber"),  # no country code
        ({"PhoneNumber": "+1 123"}, 21421, "PhoneNumber"),  # too short
        ({"PhoneNumber": "+1415555010012345"}, 21421, "PhoneNumber"),  # too long
        ({"PhoneNumber": "+999 1234567"}, 21421, "PhoneNumber"),  # no such country code
        ({"PhoneNumber": "+1-415-CALL-NOW"}, 21421, "PhoneNumber"),
        ({"PhoneNumber": "+1 415 555 0100 ext 12"}, 21421, "PhoneNumber"),
        ({"PhoneNumber": "sms:+14155550100"}, 21421, "PhoneNumber"),
        ({"SmsUrl": "/relative/path"}, 21402, "SmsUrl"),
        ({"SmsUrl": "ftp://example.com/sms"}, 21402, "SmsUrl"),
        ({"SmsUrl": "https://"}, 21402, "SmsUrl"),
        ({"SmsUrl": "javascript:alert(1)"}, 21402, "SmsUrl"),
        ({"SmsFallbackUrl": "example.com/sms"}, 21402, "SmsFallbackUrl"),
        ({"StatusCallback": "http://exa mple.com/"}, 21402, "StatusCallback"),
        ({"StatusCallback": "http://example.com:99999/"}, 21402, "StatusCallback"),
        ({"SmsMethod": "PUT"}, 21403, "SmsMethod"),
        ({"SmsFallbackMethod": "DELETE"}, 21403, "SmsFallbackMethod"),
        ({"StatusCallbackMethod": "FETCH"}, 21403, "StatusCallbackMethod"),
        ({"SmsCapable": "maybe"}, 21100, "SmsCapable"),
        ({"MmsCapable": "2"}, 21100, "MmsCapable"),
        ({"FriendlyName": "x" * 65}, 21100, "FriendlyName"),
        ({"FriendlyName": "nul\x00byte"}, 21100, "FriendlyName"),
        ({"SmsUrl": "https://example.com/\x00"}, 21402, "SmsUrl"),
    ],
)
async def test_bad_create_parameters_answer_400_and_store_nothing(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, params: dict[str, str], code: int, param: str
) -> None:
    body = {"PhoneNumber": "+14155550107", **params} if param != "PhoneNumber" else params
    response = await client.post(numbers_url(root.sid), data=body, auth=root.auth)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == code and error["status"] == 400
    assert param in error["message"]
    assert await count_numbers(app) == 0


@pytest.mark.parametrize(
    "params",
    [
        {"SmsUrl": "not a url"},
        {"SmsMethod": "PATCH"},
        {"MmsCapable": "perhaps"},
        {"FriendlyName": ""},
        {"StatusCallback": "mailto:ops@example.com"},
    ],
)
async def test_bad_update_parameters_answer_400_and_change_nothing(
    client: httpx.AsyncClient, root: Creds, params: dict[str, str]
) -> None:
    created = await add_number(client, root, "+14155550108", SmsUrl="https://a.example.com/sms")
    url = number_url(root.sid, created["sid"])
    response = await client.post(url, data={"FriendlyName": "Changed", **params}, auth=root.auth)
    assert response.status_code == 400, response.text
    assert (await client.get(url, auth=root.auth)).json() == created


async def test_unreadable_bodies_answer_4xx(client: httpx.AsyncClient, app: FastAPI, root: Creds) -> None:
    not_json = await client.post(
        numbers_url(root.sid), content=b"{", headers={"content-type": "application/json"}, auth=root.auth
    )
    assert not_json.status_code == 400
    unknown_type = await client.post(
        numbers_url(root.sid), content=b"PhoneNumber", headers={"content-type": "text/plain"}, auth=root.auth
    )
    assert unknown_type.status_code == 415
    assert await count_numbers(app) == 0


# --- tenancy ---------------------------------------------------------------------------


async def test_parent_manages_a_descendants_numbers_through_its_path(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root, role="Administrator")
    grandchild = await make_account(child)
    created = await add_number(client, root, "+14155550109", account_sid=grandchild.sid)
    assert created["account_sid"] == grandchild.sid
    url = number_url(grandchild.sid, created["sid"])
    for caller in (root, child, grandchild):
        got = await client.get(url, auth=caller.auth)
        assert got.status_code == 200 and got.json()["sid"] == created["sid"]
    renamed = await client.post(url, data={"FriendlyName": "by root"}, auth=root.auth)
    assert renamed.json()["friendly_name"] == "by root"
    listed = await client.get(numbers_url(grandchild.sid), auth=child.auth)
    assert [n["sid"] for n in listed.json()["incoming_phone_numbers"]] == [created["sid"]]
    # the parent's own list holds its own numbers only
    own = await client.get(numbers_url(root.sid), auth=root.auth)
    assert own.json()["incoming_phone_numbers"] == []
    # a number is reached through its owner's path only
    wrong_path = await client.get(number_url(root.sid, created["sid"]), auth=root.auth)
    assert wrong_path.status_code == 404
    assert (await client.delete(url, auth=root.auth)).status_code == 204


async def test_child_sibling_and_stranger_get_404(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    sibling = await make_account(root)
    stranger = await make_account()
    root_number = await add_number(client, root, "+14155550110")
    child_number = await add_number(client, child, "+14155550111")
    cases = ((child, root, root_number), (sibling, child, child_number), (stranger, child, child_number))
    for caller, owner, number in cases:
        one = number_url(owner.sid, number["sid"])
        for response in (
            await client.get(one, auth=caller.auth),
            await client.post(one, data={"FriendlyName": "x"}, auth=caller.auth),
            await client.put(one, data={"FriendlyName": "x"}, auth=caller.auth),
            await client.delete(one, auth=caller.auth),
            await client.get(numbers_url(owner.sid), auth=caller.auth),
            await client.post(numbers_url(owner.sid), data={"PhoneNumber": "+14155550112"}, auth=caller.auth),
            # the caller's own path with someone else's number sid
            await client.get(number_url(caller.sid, number["sid"]), auth=caller.auth),
            await client.delete(number_url(caller.sid, number["sid"]), auth=caller.auth),
        ):
            assert response.status_code == 404, (response.request.method, response.request.url)
            assert response.json()["code"] == 20404
    assert await count_numbers(app) == 2
    assert (await client.get(number_url(root.sid, root_number["sid"]), auth=root.auth)).json() == root_number


async def test_a_suspended_account_gets_no_new_number(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    suspended = await client.post(
        f"/restcomm/2012-04-24/Accounts/{child.sid}.json", data={"Status": "suspended"}, auth=root.auth
    )
    assert suspended.status_code == 200
    response = await client.post(numbers_url(child.sid), data={"PhoneNumber": "+14155550114"}, auth=root.auth)
    assert response.status_code == 400 and "suspended" in response.json()["message"]
    assert await count_numbers(app) == 0


async def test_requires_authentication(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.get(numbers_url(root.sid))
    assert response.status_code == 401
    wrong = await client.post(
        numbers_url(root.sid), data={"PhoneNumber": "+14155550113"}, auth=httpx.BasicAuth(root.sid, "x" * 32)
    )
    assert wrong.status_code == 401


async def test_every_route_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    listing = paths["/restcomm/2012-04-24/Accounts/{account_sid}/IncomingPhoneNumbers{fmt}"]
    one = paths["/restcomm/2012-04-24/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}{fmt}"]
    assert set(listing) == {"get", "post"} and set(one) == {"get", "post", "put", "delete"}
    schema = listing["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert "PhoneNumber" in schema["properties"] and "SmsUrl" in schema["properties"]

"""Admin API for carrier connections and routes: CRUD, validation, masking, root only."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from fastapi import FastAPI

from message_exchange.carriers import service
from message_exchange.carriers.models import CarrierConnection
from tests.support.accounts import Creds, MakeAccount

BASE = "/restcomm/2012-04-24"
SMSC = {
    "Name": "smsc-a",
    "Host": "smsc.example.net",
    "Port": "2775",
    "SystemId": "esme01",
    "Password": "s3cr3t!",
}


async def _create(client: httpx.AsyncClient, root: Creds, **overrides: str) -> httpx.Response:
    return await client.post(f"{BASE}/Carriers.json", data={**SMSC, **overrides}, auth=root.auth)


def _assert_no_password(response: httpx.Response) -> None:
    assert "s3cr3t" not in response.text and "n3wpass" not in response.text


async def test_create_get_list_update_delete(client: httpx.AsyncClient, root: Creds, app: FastAPI) -> None:
    created = await _create(
        client,
        root,
        BindMode="transmitter_receiver",
        Binds="2",
        Window="20",
        Tps="150",
        SourceTon="5",
        SourceNpi="0",
        DataCoding="ucs2",
        LongMessage="sar",
        CustomTlvs='{"0x1400": "31323334", "5121": "ab"}',
        EnquireLinkSeconds="15",
    )
    assert created.status_code == 201, created.text
    body = created.json()
    _assert_no_password(created)
    assert body["sid"].startswith("CC") and body["name"] == "smsc-a" and body["type"] == "smpp"
    assert body["password"] == "********" and body["enabled"] is True
    assert (body["host"], body["port"], body["system_id"]) == ("smsc.example.net", 2775, "esme01")
    assert (body["bind_mode"], body["binds"], body["window"], body["tps"]) == ("transmitter_receiver", 2, 20, 150.0)
    assert (body["source_ton"], body["source_npi"], body["dest_ton"], body["dest_npi"]) == (5, 0, 1, 1)
    assert (body["data_coding"], body["long_message"]) == ("ucs2", "sar")
    assert body["custom_tlvs"] == {"0x1400": "31323334", "0x1401": "ab"}
    assert body["enquire_link_seconds"] == 15.0 and body["registered_delivery"] is True
    assert body["uri"] == f"{BASE}/Carriers/smsc-a.json"

    # At rest: encrypted, and the SmppConfig the connector gets carries the clear password.
    async with app.state.session_factory() as session:
        row = await session.get(CarrierConnection, body["sid"])
        assert row is not None and "s3cr3t" not in row.password_encrypted
        config = service.to_smpp_config(row, app.state.secret_box)
    assert config.password == "s3cr3t!" and config.custom_tlvs == {0x1400: b"1234", 0x1401: b"\xab"}
    assert config.bind_mode == "transmitter_receiver" and config.tps == 150.0 and config.source_ton == 5

    by_name = await client.get(f"{BASE}/Carriers/smsc-a.json", auth=root.auth)
    by_sid = await client.get(f"{BASE}/Carriers/{body['sid']}", auth=root.auth)
    assert by_name.json() == by_sid.json() == body
    listed = await client.get(f"{BASE}/Carriers.json", auth=root.auth)
    assert listed.status_code == 200 and [c["name"] for c in listed.json()["carriers"]] == ["smsc-a"]
    assert listed.json()["total"] == 1
    _assert_no_password(listed)
    as_xml = await client.get(f"{BASE}/Carriers/smsc-a.xml", auth=root.auth)
    assert ET.fromstring(as_xml.content).findtext("Carrier/Password") == "********"
    _assert_no_password(as_xml)

    updated = await client.post(
        f"{BASE}/Carriers/smsc-a.json",
        data={"Port": "2776", "Password": "n3wpass", "Tps": "", "Enabled": "false", "CustomTlvs": "{}"},
        auth=root.auth,
    )
    assert updated.status_code == 200, updated.text
    _assert_no_password(updated)
    after = updated.json()
    assert (after["port"], after["tps"], after["enabled"], after["custom_tlvs"]) == (2776, None, False, {})
    assert after["window"] == 20 and after["bind_mode"] == "transmitter_receiver"  # untouched
    async with app.state.session_factory() as session:
        row = await session.get(CarrierConnection, body["sid"])
        assert row is not None and service.to_smpp_config(row, app.state.secret_box).password == "n3wpass"

    put = await client.put(f"{BASE}/Carriers/smsc-a", json={"Enabled": True, "Window": 5}, auth=root.auth)
    assert put.status_code == 200 and put.json()["enabled"] is True and put.json()["window"] == 5

    assert (await client.delete(f"{BASE}/Carriers/smsc-a.json", auth=root.auth)).status_code == 204
    gone = await client.get(f"{BASE}/Carriers/smsc-a.json", auth=root.auth)
    assert gone.status_code == 404 and gone.json()["code"] == 20404


@pytest.mark.parametrize(
    ("overrides", "param", "fragment"),
    [
        ({"Port": "0"}, "Port", "from 1 to 65535"),
        ({"Port": "70000"}, "Port", "from 1 to 65535"),
        ({"Port": "abc"}, "Port", "integer"),
        ({"BindMode": "receiver"}, "BindMode", "transceiver, transmitter_receiver"),
        ({"DataCoding": "utf8"}, "DataCoding", "auto, gsm7"),
        ({"LongMessage": "split"}, "LongMessage", "udh, sar, payload"),
        ({"Password": "longer-than-8"}, "Password", "0 to 8"),
        ({"SystemId": "a-system-id-too-long"}, "SystemId", "1 to 15"),
        ({"Host": "bad host"}, "Host", "host name"),
        ({"Binds": "0"}, "Binds", "from 1 to 64"),
        ({"Window": "0"}, "Window", "from 1"),
        ({"Tps": "-1"}, "Tps", "from 0.001"),
        ({"SourceTon": "9"}, "SourceTon", "from 0 to 6"),
        ({"DestNpi": "2"}, "DestNpi", "NPI"),
        ({"ReconnectMinSeconds": "10", "ReconnectMaxSeconds": "5"}, "ReconnectMaxSeconds", "from 10"),
        ({"Type": "http"}, "Type", "must be one of smpp"),
        ({"CustomTlvs": "[1]"}, "CustomTlvs", "JSON object"),
        ({"CustomTlvs": '{"0x0424": "00"}'}, "CustomTlvs", "message_payload"),
        ({"CustomTlvs": '{"0x1400": "xyz"}'}, "CustomTlvs", "hex"),
        ({"Name": "sandbox"}, "Name", "reserved"),
        ({"Name": "bad name"}, "Name", "letters, digits"),
        ({"Name": "a.json"}, "Name", "reserved"),
    ],
)
async def test_bad_settings_are_400_naming_the_parameter(
    client: httpx.AsyncClient, root: Creds, overrides: dict[str, str], param: str, fragment: str
) -> None:
    response = await _create(client, root, **overrides)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and body["code"] == 21100
    assert param in body["message"] and fragment in body["message"], body["message"]
    listed = await client.get(f"{BASE}/Carriers.json", auth=root.auth)
    assert listed.json()["carriers"] == []  # nothing half-written


async def test_missing_required_and_bad_update(client: httpx.AsyncClient, root: Creds) -> None:
    missing = await client.post(f"{BASE}/Carriers.json", data={"Name": "x", "Host": "h"}, auth=root.auth)
    assert missing.status_code == 400 and "Port is required" in missing.json()["message"]
    assert (await _create(client, root)).status_code == 201
    bad = await client.post(f"{BASE}/Carriers/smsc-a.json", data={"BindMode": "both"}, auth=root.auth)
    assert bad.status_code == 400 and "BindMode" in bad.json()["message"]
    rename = await client.post(f"{BASE}/Carriers/smsc-a.json", data={"Name": "other"}, auth=root.auth)
    assert rename.status_code == 200 and rename.json()["name"] == "smsc-a"  # Name is not an update parameter
    xml_error = await client.post(f"{BASE}/Carriers/smsc-a.xml", data={"Port": "0"}, auth=root.auth)
    assert xml_error.status_code == 400 and ET.fromstring(xml_error.content).findtext("RestException/Status") == "400"
    unchanged = await client.get(f"{BASE}/Carriers/smsc-a.json", auth=root.auth)
    assert unchanged.json()["bind_mode"] == "transceiver" and unchanged.json()["port"] == 2775


async def test_duplicate_name_is_409(client: httpx.AsyncClient, root: Creds) -> None:
    assert (await _create(client, root)).status_code == 201
    again = await _create(client, root, Host="other.example.net")
    assert again.status_code == 409 and "smsc-a" in again.json()["message"]


async def test_root_accounts_only(client: httpx.AsyncClient, root: Creds, make_account: MakeAccount) -> None:
    child = await make_account(root)
    other_root = await make_account()
    for method, path in [
        ("GET", "/Carriers.json"),
        ("POST", "/Carriers.json"),
        ("GET", "/Carriers/smsc-a.json"),
        ("DELETE", "/Carriers/smsc-a.json"),
        ("GET", "/CarrierRoutes.json"),
        ("POST", "/CarrierRoutes.json"),
    ]:
        denied = await client.request(method, f"{BASE}{path}", data=SMSC if method == "POST" else None, auth=child.auth)
        assert denied.status_code == 403, (method, path, denied.text)
        assert denied.json()["code"] == 20005
        anonymous = await client.request(method, f"{BASE}{path}")
        assert anonymous.status_code == 401
    assert (await client.get(f"{BASE}/Carriers.json", auth=child.auth)).status_code == 403
    # Any root account manages the (system-wide) carriers.
    assert (await _create(client, other_root)).status_code == 201
    assert (await client.get(f"{BASE}/Carriers/smsc-a.json", auth=root.auth)).status_code == 200


async def test_routes_crud_and_carrier_in_use(client: httpx.AsyncClient, root: Creds) -> None:
    assert (await _create(client, root)).status_code == 201
    created = await client.post(
        f"{BASE}/CarrierRoutes.json",
        data={"Carrier": "smsc-a", "Prefix": "+44 20", "Channel": "sms", "Priority": "10"},
        auth=root.auth,
    )
    assert created.status_code == 201, created.text
    route: dict[str, Any] = created.json()
    assert route["sid"].startswith("CR")
    assert (route["carrier"], route["prefix"], route["channel"], route["priority"]) == ("smsc-a", "4420", "sms", 10)
    sandbox = await client.post(
        f"{BASE}/CarrierRoutes", json={"Carrier": "sandbox", "Prefix": "1500555"}, auth=root.auth
    )
    assert sandbox.status_code == 201 and sandbox.json()["channel"] == "*"
    duplicate = await client.post(
        f"{BASE}/CarrierRoutes.json", data={"Carrier": "smsc-a", "Prefix": "4420", "Channel": "sms"}, auth=root.auth
    )
    assert duplicate.status_code == 409
    for bad, fragment in [
        ({"Carrier": "nope"}, "no carrier connection named"),
        ({"Carrier": "smsc-a", "Channel": "fax"}, "Channel must be sms, mms or *"),
        ({"Carrier": "smsc-a", "Prefix": "44abc"}, "Prefix must be up to 15 digits"),
        ({"Carrier": "smsc-a", "Priority": "-1"}, "Priority must be"),
        ({"Prefix": "44"}, "Carrier"),
    ]:
        response = await client.post(f"{BASE}/CarrierRoutes.json", data=bad, auth=root.auth)
        assert response.status_code == 400 and fragment in response.json()["message"], response.text
    listed = (await client.get(f"{BASE}/CarrierRoutes.json", auth=root.auth)).json()
    assert [(r["carrier"], r["prefix"]) for r in listed["carrier_routes"]] == [
        ("sandbox", "1500555"),
        ("smsc-a", "4420"),
    ]
    fetched = await client.get(f"{BASE}/CarrierRoutes/{route['sid']}.xml", auth=root.auth)
    assert ET.fromstring(fetched.content).findtext("CarrierRoute/Prefix") == "4420"

    in_use = await client.delete(f"{BASE}/Carriers/smsc-a.json", auth=root.auth)
    assert in_use.status_code == 409 and "route" in in_use.json()["message"]
    assert (await client.delete(f"{BASE}/CarrierRoutes/{route['sid']}.json", auth=root.auth)).status_code == 204
    assert (await client.delete(f"{BASE}/CarrierRoutes/{route['sid']}.json", auth=root.auth)).status_code == 404
    assert (await client.delete(f"{BASE}/Carriers/smsc-a.json", auth=root.auth)).status_code == 204


async def test_paging(client: httpx.AsyncClient, root: Creds) -> None:
    for n in range(3):
        assert (await _create(client, root, Name=f"c{n}")).status_code == 201
    page = (await client.get(f"{BASE}/Carriers.json?PageSize=2&Page=1", auth=root.auth)).json()
    assert [c["name"] for c in page["carriers"]] == ["c2"] and page["total"] == 3 and page["num_pages"] == 2
    past = await client.get(f"{BASE}/Carriers.json?PageSize=2&Page=5", auth=root.auth)
    assert past.status_code == 400

"""The Accounts resource: create, read, update, rotate; tenancy; JSON and XML."""

from __future__ import annotations

import hashlib
from xml.etree import ElementTree as ET

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.accounts.models import Account
from tests.support.accounts import Creds, MakeAccount

BASE = "/restcomm/2012-04-24"


async def _count_accounts(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(Account))).scalar_one())


# --- tenancy -------------------------------------------------------------------------


async def test_parent_acts_on_child_and_grandchild(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root, role="Administrator")
    grandchild = await make_account(child)
    for target in (child, grandchild):
        got = await client.get(f"{BASE}/Accounts/{target.sid}.json", auth=root.auth)
        assert got.status_code == 200 and got.json()["sid"] == target.sid
    renamed = await client.post(
        f"{BASE}/Accounts/{grandchild.sid}.json", data={"FriendlyName": "Renamed"}, auth=root.auth
    )
    assert renamed.status_code == 200
    assert renamed.json()["friendly_name"] == "Renamed"


async def test_child_cannot_see_parent_and_siblings_cannot_see_each_other(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    sibling = await make_account(root)
    other_root = await make_account()
    for caller, target in ((child, root), (child, sibling), (sibling, child), (other_root, child), (child, other_root)):
        got = await client.get(f"{BASE}/Accounts/{target.sid}.json", auth=caller.auth)
        assert got.status_code == 404, (caller, target)
        assert got.json()["code"] == 20404
        update = await client.post(f"{BASE}/Accounts/{target.sid}.json", data={"FriendlyName": "x"}, auth=caller.auth)
        assert update.status_code == 404
        rotate = await client.post(f"{BASE}/Accounts/{target.sid}/AuthToken.json", auth=caller.auth)
        assert rotate.status_code == 404
    # unknown sid looks exactly like another tenant's sid
    unknown = await client.get(f"{BASE}/Accounts/AC{'f' * 32}.json", auth=child.auth)
    assert unknown.status_code == 404


async def test_only_an_ancestor_changes_status_or_role(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    for field, value in (("Status", "suspended"), ("Role", "Administrator")):
        own = await client.post(f"{BASE}/Accounts/{child.sid}.json", data={field: value}, auth=child.auth)
        assert own.status_code == 403, field
    by_parent = await client.post(f"{BASE}/Accounts/{child.sid}.json", data={"Role": "Administrator"}, auth=root.auth)
    assert by_parent.json()["role"] == "Administrator"


async def test_list_shows_self_and_descendants_only(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root, role="Administrator")
    grandchild = await make_account(child)
    await make_account()  # another tenant
    await make_account(root)  # child's sibling
    listed = await client.get(f"{BASE}/Accounts.json", auth=child.auth)
    assert listed.status_code == 200
    assert {a["sid"] for a in listed.json()["accounts"]} == {child.sid, grandchild.sid}
    everything = await client.get(f"{BASE}/Accounts.json", auth=root.auth)
    assert everything.json()["total"] == 4


# --- create --------------------------------------------------------------------------


async def test_create_sub_account_returns_token_once(client: httpx.AsyncClient, root: Creds, app: FastAPI) -> None:
    created = await client.post(
        f"{BASE}/Accounts.json",
        data={"EmailAddress": "New.User@Example.com", "Password": "long-enough", "FriendlyName": "Acme"},
        auth=root.auth,
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["sid"].startswith("AC") and len(body["sid"]) == 34
    assert body["parent_sid"] == root.sid
    assert body["email_address"] == "new.user@example.com"
    assert body["friendly_name"] == "Acme"
    assert body["status"] == "active" and body["role"] == "Developer" and body["type"] == "Full"
    assert body["uri"] == f"{BASE}/Accounts/{body['sid']}.json"
    assert body["date_created"].endswith("+0000")
    token = body["auth_token"]
    assert len(token) == 32 and int(token, 16) >= 0
    fetched = await client.get(f"{BASE}/Accounts/{body['sid']}.json", auth=(body["sid"], token))
    assert fetched.status_code == 200
    assert fetched.json()["auth_token"].endswith(token[-4:]) and token[:8] not in fetched.json()["auth_token"]
    # secrets at rest: hash for lookup, Fernet copy, slow password hash
    async with app.state.session_factory() as session:
        row = await session.get(Account, body["sid"])
        assert row is not None
        assert row.auth_token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in row.auth_token_encrypted
        assert app.state.secret_box.decrypt(row.auth_token_encrypted) == token
        assert row.password_hash is not None and row.password_hash.startswith("$argon2")


async def test_create_accepts_json_body(client: httpx.AsyncClient, root: Creds) -> None:
    created = await client.post(
        f"{BASE}/Accounts.json", json={"EmailAddress": "json@example.com", "Password": "long-enough"}, auth=root.auth
    )
    assert created.status_code == 200, created.text
    assert created.json()["friendly_name"] == "json@example.com"


@pytest.mark.parametrize(
    "data,param",
    [
        ({"Password": "long-enough"}, "EmailAddress"),
        ({"EmailAddress": "a@example.com"}, "Password"),
        ({"EmailAddress": "not-an-email", "Password": "long-enough"}, "EmailAddress"),
        ({"EmailAddress": "a@example.com", "Password": "short"}, "Password"),
        ({"EmailAddress": "a@example.com", "Password": "long-enough", "Role": "God"}, "Role"),
        ({"EmailAddress": "a@example.com", "Password": "long-enough", "FriendlyName": "x" * 65}, "FriendlyName"),
    ],
)
async def test_create_bad_input_is_400_and_stores_nothing(
    client: httpx.AsyncClient, root: Creds, app: FastAPI, data: dict[str, str], param: str
) -> None:
    before = await _count_accounts(app)
    response = await client.post(f"{BASE}/Accounts.json", data=data, auth=root.auth)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and param in body["message"]
    assert await _count_accounts(app) == before


async def test_create_bad_json_and_media_type(client: httpx.AsyncClient, root: Creds) -> None:
    bad_json = await client.post(
        f"{BASE}/Accounts.json", content=b"{not json", headers={"Content-Type": "application/json"}, auth=root.auth
    )
    assert bad_json.status_code == 400
    array = await client.post(f"{BASE}/Accounts.json", json=["x"], auth=root.auth)
    assert array.status_code == 400
    text = await client.post(
        f"{BASE}/Accounts.json", content=b"hello", headers={"Content-Type": "text/plain"}, auth=root.auth
    )
    assert text.status_code == 415


async def test_duplicate_email_is_409(client: httpx.AsyncClient, root: Creds, app: FastAPI) -> None:
    before = await _count_accounts(app)
    dup = await client.post(
        f"{BASE}/Accounts.json", data={"EmailAddress": root.email.upper(), "Password": "long-enough"}, auth=root.auth
    )
    assert dup.status_code == 409
    assert await _count_accounts(app) == before


async def test_developer_cannot_create_accounts(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    developer = await make_account(root)
    response = await client.post(
        f"{BASE}/Accounts.json", data={"EmailAddress": "x@example.com", "Password": "long-enough"}, auth=developer.auth
    )
    assert response.status_code == 403


async def test_create_under_a_descendant_but_not_a_stranger(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    stranger = await make_account()
    under_child = await client.post(
        f"{BASE}/Accounts.json",
        data={"EmailAddress": "gc@example.com", "Password": "long-enough", "ParentSid": child.sid},
        auth=root.auth,
    )
    assert under_child.status_code == 200 and under_child.json()["parent_sid"] == child.sid
    under_stranger = await client.post(
        f"{BASE}/Accounts.json",
        data={"EmailAddress": "s@example.com", "Password": "long-enough", "ParentSid": stranger.sid},
        auth=root.auth,
    )
    assert under_stranger.status_code == 404


# --- update / rotate / close ---------------------------------------------------------


async def test_update_fields_and_password(client: httpx.AsyncClient, root: Creds, make_account: MakeAccount) -> None:
    child = await make_account(root)
    response = await client.put(
        f"{BASE}/Accounts/{child.sid}.json",
        data={"FriendlyName": "Desk", "EmailAddress": "desk@example.com", "Password": "brand-new-pass"},
        auth=child.auth,
    )
    assert response.status_code == 200
    assert response.json()["email_address"] == "desk@example.com"
    assert (
        await client.get(f"{BASE}/Accounts/{child.sid}", auth=("desk@example.com", "brand-new-pass"))
    ).status_code == 200
    assert (await client.get(f"{BASE}/Accounts/{child.sid}", auth=(child.email, child.password))).status_code == 401
    taken = await client.post(f"{BASE}/Accounts/{child.sid}", data={"EmailAddress": root.email}, auth=child.auth)
    assert taken.status_code == 409
    bad_status = await client.post(f"{BASE}/Accounts/{child.sid}", data={"Status": "frozen"}, auth=root.auth)
    assert bad_status.status_code == 400


async def test_rotate_token(client: httpx.AsyncClient, root: Creds, make_account: MakeAccount) -> None:
    child = await make_account(root)
    rotated = await client.post(f"{BASE}/Accounts/{child.sid}/AuthToken.json", auth=child.auth)
    assert rotated.status_code == 200
    new_token = rotated.json()["auth_token"]
    assert len(new_token) == 32 and new_token != child.token
    assert (await client.get(f"{BASE}/Accounts/{child.sid}", auth=(child.sid, child.token))).status_code == 401
    assert (await client.get(f"{BASE}/Accounts/{child.sid}", auth=(child.sid, new_token))).status_code == 200
    by_parent = await client.post(f"{BASE}/Accounts/{child.sid}/AuthToken", auth=root.auth)
    assert by_parent.status_code == 200 and by_parent.json()["auth_token"] != new_token


async def test_closing_cascades_and_is_final(client: httpx.AsyncClient, root: Creds, make_account: MakeAccount) -> None:
    child = await make_account(root, role="Administrator")
    grandchild = await make_account(child)
    closed = await client.post(f"{BASE}/Accounts/{child.sid}", data={"Status": "closed"}, auth=root.auth)
    assert closed.json()["status"] == "closed"
    assert (await client.get(f"{BASE}/Accounts/{grandchild.sid}.json", auth=root.auth)).json()["status"] == "closed"
    reopen = await client.post(f"{BASE}/Accounts/{child.sid}", data={"Status": "active"}, auth=root.auth)
    assert reopen.status_code == 400


# --- representations -----------------------------------------------------------------


async def test_account_json_and_xml(client: httpx.AsyncClient, root: Creds) -> None:
    as_json = (await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=root.auth)).json()
    no_suffix = (await client.get(f"{BASE}/Accounts/{root.sid}", auth=root.auth)).json()
    assert as_json == no_suffix
    response = await client.get(f"{BASE}/Accounts/{root.sid}.xml", auth=root.auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    doc = ET.fromstring(response.content)
    assert doc.tag == "RestcommResponse"
    account = doc.find("Account")
    assert account is not None
    assert account.findtext("Sid") == root.sid
    assert account.findtext("FriendlyName") == as_json["friendly_name"]
    assert account.findtext("EmailAddress") == root.email
    assert account.findtext("Status") == "active"
    assert account.findtext("DateCreated") == as_json["date_created"]
    assert account.findtext("Uri") == as_json["uri"]


async def test_account_list_xml(client: httpx.AsyncClient, root: Creds, make_account: MakeAccount) -> None:
    await make_account(root)
    response = await client.get(f"{BASE}/Accounts.xml?PageSize=1", auth=root.auth)
    assert response.status_code == 200
    doc = ET.fromstring(response.content)
    accounts = doc.find("Accounts")
    assert accounts is not None
    assert accounts.get("page") == "0" and accounts.get("numpages") == "2" and accounts.get("total") == "2"
    assert accounts.get("nextpageuri") == f"{BASE}/Accounts.xml?Page=1&PageSize=1"
    assert [a.findtext("Sid") for a in accounts.findall("Account")] == [root.sid]

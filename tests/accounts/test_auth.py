"""HTTP Basic auth: sid or email with auth token (or password); 401/403 in the Restcomm envelope."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.support.accounts import Creds, MakeAccount

BASE = "/restcomm/2012-04-24"


async def test_sid_and_token(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=root.auth)
    assert response.status_code == 200
    assert response.json()["sid"] == root.sid


@pytest.mark.parametrize("user_field,secret_field", [("email", "token"), ("email", "password"), ("sid", "password")])
async def test_email_or_sid_with_token_or_password(
    client: httpx.AsyncClient, root: Creds, user_field: str, secret_field: str
) -> None:
    auth = (getattr(root, user_field), getattr(root, secret_field))
    response = await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=auth)
    assert response.status_code == 200


async def test_email_is_case_insensitive(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=(root.email.upper(), root.token))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"user:").decode(),
    ],
)
async def test_missing_or_malformed_credentials(client: httpx.AsyncClient, root: Creds, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get(f"{BASE}/Accounts/{root.sid}.json", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    body = response.json()
    assert body["code"] == 20003 and body["status"] == 401 and body["message"]


async def test_wrong_token(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=(root.sid, "0" * 32))
    assert response.status_code == 401
    assert response.json()["code"] == 20003


async def test_unknown_account(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=("AC" + "0" * 32, root.token))
    assert response.status_code == 401
    unknown_email = await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=("nobody@example.com", root.token))
    assert unknown_email.status_code == 401


async def test_auth_error_in_xml_envelope(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.get(f"{BASE}/Accounts/{root.sid}.xml", auth=(root.sid, "bad-token"))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/xml")
    assert b"<RestcommResponse><RestException><Code>20003</Code>" in response.content


@pytest.mark.parametrize("status", ["suspended", "closed"])
async def test_inactive_account_is_forbidden(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount, status: str
) -> None:
    child = await make_account(root)
    updated = await client.post(f"{BASE}/Accounts/{child.sid}.json", data={"Status": status}, auth=root.auth)
    assert updated.status_code == 200, updated.text
    response = await client.get(f"{BASE}/Accounts/{child.sid}.json", auth=child.auth)
    assert response.status_code == 403
    assert response.json()["status"] == 403


async def test_suspended_parent_locks_out_descendants(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root, role="Administrator")
    grandchild = await make_account(child)
    assert (await client.get(f"{BASE}/Accounts/{grandchild.sid}.json", auth=grandchild.auth)).status_code == 200
    await client.post(f"{BASE}/Accounts/{child.sid}", data={"Status": "suspended"}, auth=root.auth)
    assert (await client.get(f"{BASE}/Accounts/{grandchild.sid}.json", auth=grandchild.auth)).status_code == 403
    await client.post(f"{BASE}/Accounts/{child.sid}", data={"Status": "active"}, auth=root.auth)
    assert (await client.get(f"{BASE}/Accounts/{grandchild.sid}.json", auth=grandchild.auth)).status_code == 200

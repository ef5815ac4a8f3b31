"""Listing messages: prefix filters with %, time range, status, error code, body text, sort, paging."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from message_exchange.messages.models import Message
from tests.support.accounts import Creds, MakeAccount

pytestmark = pytest.mark.usefixtures("root_numbers")


def _url(account: str) -> str:
    return f"/api/2012-04-24/Accounts/{account}/Messages"


@pytest.fixture
async def sent(client: httpx.AsyncClient, app: FastAPI, root: Creds) -> dict[str, str]:
    """Four messages with known channels, numbers, bodies, dates and statuses."""
    rows = {
        "a": (
            "sms:+15550000001",
            "sms:+14150000001",
            "Hello world",
            datetime(2018, 5, 30, 10, tzinfo=UTC),
            "sent",
            None,
        ),
        "b": (
            "sms:+15550000001",
            "sms:+16500000002",
            "Other text",
            datetime(2018, 6, 1, 10, tzinfo=UTC),
            "failed",
            30007,
        ),
        "c": (
            "mms:+15550000002",
            "mms:+14150000003",
            "hello again",
            datetime(2018, 6, 9, 23, tzinfo=UTC),
            "delivered",
            None,
        ),
        "d": (
            "sms:Acme",
            "sms:+442071234567",
            "100% off_sale",
            datetime(2018, 6, 10, 0, 0, 1, tzinfo=UTC),
            "undelivered",
            30003,
        ),
    }
    sids = {}
    for name, (sender, recipient, body, _, _, _) in rows.items():
        response = await client.post(
            _url(root.sid), data={"from": sender, "to": recipient, "body": body}, auth=root.auth
        )
        assert response.status_code == 200, response.text
        sids[name] = response.json()["sid"]
    async with app.state.session_factory() as session, session.begin():
        for name, (_, _, _, when, status, code) in rows.items():
            await session.execute(
                update(Message)
                .where(Message.sid == sids[name])
                .values(date_created=when, status=status, error_code=code)
            )
    return sids


async def _names(client: httpx.AsyncClient, root: Creds, sids: dict[str, str], **params: str) -> list[str]:
    response = await client.get(_url(root.sid), params=params, auth=root.auth)
    assert response.status_code == 200, response.text
    by_sid = {sid: name for name, sid in sids.items()}
    return [by_sid[m["sid"]] for m in response.json()["messages"]]


async def test_filters(client: httpx.AsyncClient, root: Creds, sent: dict[str, str]) -> None:
    assert await _names(client, root, sent) == ["a", "b", "c", "d"]
    assert await _names(client, root, sent, To="mms:+1") == ["c"]
    assert await _names(client, root, sent, To="sms:+1%") == ["a", "b"]
    assert await _names(client, root, sent, To="+1415") == ["a", "c"]
    assert await _names(client, root, sent, To="%0000003") == ["c"]
    assert await _names(client, root, sent, From="sms:+15550000001") == ["a", "b"]
    assert await _names(client, root, sent, From="sms:Acme") == ["d"]
    assert await _names(client, root, sent, StartTime="2018-05-30", EndTime="2018-06-09") == ["a", "b", "c"]
    assert await _names(client, root, sent, StartTime="2018-06-09T23:00:00", EndTime="2018-06-10") == ["c", "d"]
    assert await _names(client, root, sent, Status="failed") == ["b"]
    assert await _names(client, root, sent, ErrorCode="30003") == ["d"]
    assert await _names(client, root, sent, Body="HELLO") == ["a", "c"]
    assert await _names(client, root, sent, Body="100% off_") == ["d"]  # % and _ are literal here
    assert await _names(client, root, sent, Body="0% of") == ["d"]


async def test_url_encoded_prefix_from_the_document(
    client: httpx.AsyncClient, root: Creds, sent: dict[str, str]
) -> None:
    response = await client.get(f"{_url(root.sid)}?To=mms:%2B1%25", auth=root.auth)
    assert [m["sid"] for m in response.json()["messages"]] == [sent["c"]]


async def test_sort_and_paging(client: httpx.AsyncClient, root: Creds, sent: dict[str, str]) -> None:
    assert await _names(client, root, sent, SortBy="DateCreated:desc") == ["d", "c", "b", "a"]
    assert await _names(client, root, sent, SortBy="To:asc") == ["a", "c", "b", "d"]
    assert await _names(client, root, sent, SortBy="Status") == ["c", "b", "a", "d"]
    page = (await client.get(_url(root.sid), params={"PageSize": 3, "Status": "sent"}, auth=root.auth)).json()
    assert page["total"] == 1 and page["next_page_uri"] == "null"
    first = (await client.get(_url(root.sid), params={"PageSize": 3}, auth=root.auth)).json()
    assert first["num_pages"] == 2 and first["next_page_uri"] == f"{_url(root.sid)}?Page=1&PageSize=3"
    second = (await client.get(first["next_page_uri"], auth=root.auth)).json()
    assert len(second["messages"]) == 1 and second["end"] == "4"


@pytest.mark.parametrize(
    "params",
    [
        {"Page": "2", "PageSize": "3"},
        {"StartTime": "30/05/2018"},
        {"EndTime": "2018-02-30"},
        {"SortBy": "Body:asc"},
        {"SortBy": "DateCreated:up"},
        {"Status": "lost"},
        {"ErrorCode": "abc"},
        {"PageSize": "-5"},
    ],
)
async def test_bad_list_input_is_400(
    client: httpx.AsyncClient, root: Creds, sent: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get(_url(root.sid), params=params, auth=root.auth)
    assert response.status_code == 400, response.text
    assert response.json()["status"] == 400


async def test_list_is_per_account(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount, sent: dict[str, str]
) -> None:
    child = await make_account(root)
    assert (await client.get(_url(child.sid), auth=child.auth)).json()["total"] == 0
    assert (await client.get(_url(root.sid), auth=child.auth)).status_code == 404

"""Shared helpers of the incoming phone number tests."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.numbers.models import IncomingPhoneNumber
from tests.support.accounts import Creds

BASE = "/restcomm/2012-04-24"


def numbers_url(account_sid: str, suffix: str = ".json") -> str:
    return f"{BASE}/Accounts/{account_sid}/IncomingPhoneNumbers{suffix}"


def number_url(account_sid: str, sid: str, suffix: str = ".json") -> str:
    return f"{BASE}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}{suffix}"


async def add_number(
    client: httpx.AsyncClient, caller: Creds, phone_number: str, *, account_sid: str | None = None, **params: str
) -> dict[str, Any]:
    response = await client.post(
        numbers_url(account_sid or caller.sid), data={"PhoneNumber": phone_number, **params}, auth=caller.auth
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def count_numbers(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(IncomingPhoneNumber))).scalar_one())

"""Accounts made straight through the service, as the operator's CLI does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from message_exchange.accounts import service
from message_exchange.numbers import service as numbers_service


@dataclass(frozen=True)
class Creds:
    sid: str
    token: str
    email: str
    password: str

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.sid, self.token)


MakeAccount = Callable[..., Awaitable[Creds]]


@pytest.fixture
def make_account(app: FastAPI) -> MakeAccount:
    counter = iter(range(1_000_000))

    async def make(parent: Creds | None = None, *, role: str | None = None, email: str | None = None) -> Creds:
        email = email or f"user{next(counter)}@example.com"
        password = "s3cret-passw0rd"
        async with app.state.session_factory() as session, session.begin():
            account, token = await service.create_account(
                session,
                app.state.secret_box,
                service.NewAccount(
                    email=email, password=password, role=role, parent_sid=parent.sid if parent else None
                ),
                creator=None,
            )
        return Creds(account.sid, token, email, password)

    return make


@pytest.fixture
async def root(make_account: MakeAccount) -> Creds:
    return await make_account()


OwnNumber = Callable[..., Awaitable[None]]


@pytest.fixture
def own_number(app: FastAPI) -> OwnNumber:
    """Give an account phone numbers (what a sender needs before it may send from them)."""

    async def own(account: Creds, *numbers: str, **options: Any) -> None:
        async with app.state.session_factory() as session, session.begin():
            owner = await service.get_by_sid(session, account.sid)
            for number in numbers:
                await numbers_service.add_number(session, owner, numbers_service.NewNumber(number, **options))

    return own

"""Fixtures of the console tests: the app with a fake Microsoft (Graph for mappings), a browser-like client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from message_exchange.config import Settings
from message_exchange.msteams.client import forget_tokens
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.botframework import FakeBotFramework, User
from tests.msteams.conftest import APP_ID, APP_SECRET, TENANT, admin_body, bot_body
from tests.support.accounts import Creds
from tests.support.pipeline import pipeline_settings

__all__ = ["APP_ID", "TENANT", "Browser", "admin_body", "bot_body"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def ms() -> AsyncIterator[FakeBotFramework]:
    forget_tokens()
    async with FakeBotFramework() as fake:
        fake.add_app(APP_ID, APP_SECRET, TENANT)
        yield fake
    forget_tokens()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, ms: FakeBotFramework) -> Settings:
    return pipeline_settings(
        database_url,
        tmp_path,
        TEST_SECRET_KEY,
        worker_concurrency=1,
        msteams_openid_metadata_url=ms.openid_url,
        msteams_login_authority=ms.base_url,
        msteams_graph_base_url=ms.base_url,
        msteams_default_service_url=ms.service_url,
        msteams_allowed_service_hosts="127.0.0.1",
    )


@pytest.fixture
def jane(ms: FakeBotFramework) -> User:
    return ms.add_user(TENANT, "jane@contoso.com", "Jane Doe")


class Browser:
    """A user's browser on the console: keeps the session cookie, sends each form's CSRF token back."""

    def __init__(self, app: FastAPI) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: dict[str, str], *, csrf: str | None = None) -> httpx.Response:
        if not self.csrf:
            await self.get("/console/login")
        form = {"csrf_token": self.csrf if csrf is None else csrf, **data}
        response = await self.http.post(path, data=form)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def sign_in(self, username: str, secret: str) -> httpx.Response:
        await self.get("/console/login")
        response = await self.post("/console/login", {"username": username, "password": secret})
        assert response.status_code == 303, response.text
        await self.get("/console/")  # the new session's CSRF token
        return response

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    user = Browser(app)
    yield user
    await user.close()


@pytest.fixture
async def signed_in(browser: Browser, root: Creds) -> Browser:
    await browser.sign_in(root.email, root.password)
    return browser

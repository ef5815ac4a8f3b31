"""Fixtures of the console tests: the app with a fake Microsoft (Graph for mappings), a browser-like client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

# The Teams tests' fake Microsoft, settings and user: the same fixtures, not a copy.
from tests.msteams.conftest import APP_ID, TENANT, admin_body, bot_body, jane, ms, settings
from tests.support.accounts import Creds

__all__ = ["APP_ID", "TENANT", "Browser", "admin_body", "bot_body", "jane", "ms", "settings"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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

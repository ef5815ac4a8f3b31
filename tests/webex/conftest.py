from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from message_exchange.config import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.webex import FakeWebex, Person
from tests.support.accounts import Creds
from tests.support.pipeline import pipeline_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY)


Api = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    """``await api(creds, "POST", "/webex/enterprise", json={...})``."""

    async def call(creds: Creds | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await client.request(method, path, auth=creds.auth if creds else None, **kwargs)

    return call


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == 200 and body["message"] == "OK"
    return body["data"]


def error(response: httpx.Response, status: int, code: str) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errorCode", "message", "data"}
    assert body["errorCode"] == code, body
    return body


@pytest.fixture
def bot(webex: FakeWebex) -> Person:
    """The Webex bot account on the fake Webex (the ``webex`` fixture is tests/support/webex.py's)."""
    return webex.add_bot("SMS Bot", "smsbot@webex.bot")

"""Fixtures of the Teams exchange tests: a fake Microsoft (token authority, Graph, Bot Connector, JWKS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from message_exchange.config import Settings
from message_exchange.msteams.client import forget_tokens
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.botframework import FakeBotFramework, User
from tests.support.accounts import Creds
from tests.support.pipeline import pipeline_settings
from tests.webex.conftest import Api

APP_ID = "dc46be1e-fc19-428c-974d-cacc29308ec1"
APP_SECRET = "VMwpRjv9983y3-nLISs~tx7e7kyaX_l"
TENANT = "7dc79737-6ed7-40b3-98f2-e190c33d9172"
OTHER_TENANT = "0b1c2d3e-0000-4000-8000-000000000001"


@pytest.fixture
async def ms() -> AsyncIterator[FakeBotFramework]:
    forget_tokens()
    async with FakeBotFramework() as fake:
        fake.add_app(APP_ID, APP_SECRET, TENANT)
        yield fake
    forget_tokens()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, ms: FakeBotFramework) -> Settings:
    # One job at a time: the sandbox's receipt and its loopback inbound must not race.
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


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    async def call(creds: Creds | httpx.BasicAuth | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        auth = creds.auth if isinstance(creds, Creds) else creds
        return await client.request(method, path, auth=auth, **kwargs)

    return call


def admin_body(name: str, email: str, password: str = "Test@1234") -> dict[str, Any]:
    return {"name": name, "enterpriseAdmin": {"emailId": email, "password": password, "name": f"{name} admin"}}


def bot_body(enterprise_sid: str, **overrides: str) -> dict[str, str]:
    return {
        "enterpriseSid": enterprise_sid,
        "applicationId": APP_ID,
        "tenantId": TENANT,
        "clientsecret": APP_SECRET,
        "botAppId": "7137e37c-2443-46bf-89fc-883b2bb6b9b3",
        **overrides,
    }

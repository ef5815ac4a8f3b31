"""Fixtures of the Teams exchange tests: a fake Microsoft (token authority, Graph, Bot Connector, JWKS).

``world`` is the bridge's end-to-end set-up: the app served on a loopback port (the fake
channel POSTs signed activities to it), a business customer with bot details and jane
mapped to ``MAPPED``, root owning ``HANDSET`` (the sandbox loops SMS to it back as inbound).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.config import Settings
from message_exchange.messages.models import Message
from message_exchange.msteams.auth import forget_keys
from message_exchange.msteams.client import forget_tokens
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.botframework import FakeBotFramework, User
from tests.fakes.loopback import LoopbackServer
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import drain, pipeline_settings
from tests.webex.conftest import Api, data

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


MAPPED = "+15557770001"  # jane's externalAddress
HANDSET = "+15550000009"  # a number root owns (unmapped): the sandbox loops SMS to it back as inbound
UNREACHABLE = "+15005550002"  # the sandbox: accepted, then undelivered (30003)
CARD = "application/vnd.microsoft.card.adaptive"


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[LoopbackServer]:
    forget_keys()
    served = LoopbackServer(app)
    await served.start()
    yield served
    await served.stop()


class World:
    def __init__(self, app: FastAPI, api: Api, root: Creds, ms: FakeBotFramework, jane: User, endpoint: str) -> None:
        self.app, self.api, self.root, self.ms, self.jane, self.endpoint = app, api, root, ms, jane, endpoint
        self.enterprise = ""

    async def send_sms(self, from_: str, to: str, body: str, media: list[str] | None = None) -> None:
        """A handset texts ``to``: an SMS from a root number through the sandbox, looped back as inbound."""
        form = urlencode([("From", from_), ("To", to), ("Body", body), *[("MediaUrl", url) for url in media or []]])
        response = await self.api(
            self.root,
            "POST",
            f"/2010-04-01/Accounts/{self.root.sid}/Messages.json",
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 201, response.text
        await drain(self.app)

    async def jane_writes(self, text: str | None, **kwargs: Any) -> httpx.Response:
        response = await self.ms.user_sends(self.endpoint, APP_ID, self.jane, text, **kwargs)
        await drain(self.app)
        return response

    def cards(self) -> list[dict[str, Any]]:
        return [
            a["attachments"][0]["content"]
            for a in self.ms.activities_to(APP_ID, self.jane)
            if a.get("attachments") and a["attachments"][0]["contentType"] == CARD
        ]

    def texts(self) -> list[str]:
        return [a["text"] for a in self.ms.activities_to(APP_ID, self.jane) if "text" in a]

    async def records(self, **params: str) -> list[dict[str, Any]]:
        found = data(await self.api(self.root, "GET", "/msteams/messages/search", params=params))
        return list(found["result"])

    async def sms_sent(self) -> list[Message]:
        async with self.app.state.session_factory() as session:
            query = select(Message).where(Message.created_via == "msteams").order_by(Message.date_created)
            return list((await session.execute(query)).scalars())


@pytest.fixture
async def world(
    app: FastAPI, api: Api, root: Creds, own_number: OwnNumber, ms: FakeBotFramework, jane: User, server: LoopbackServer
) -> World:
    await own_number(root, HANDSET)
    enterprise = data(
        await api(root, "POST", "/msteams/enterprises", json=admin_body("Acme", "admin@acme.example")), 201
    )
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(enterprise["sid"])))
    body = {"microsoftAddress": jane.upn, "externalAddress": MAPPED, "enterpriseSid": enterprise["sid"]}
    data(await api(root, "POST", "/msteams/mappings", json=body))
    ms.install(APP_ID, jane)
    world = World(app, api, root, ms, jane, f"{server.base_url}/msteams/api/messages/{enterprise['sid']}")
    world.enterprise = enterprise["sid"]
    return world


async def count(app: FastAPI, model: Any) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())

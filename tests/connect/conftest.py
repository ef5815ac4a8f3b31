from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.config import Settings
from message_exchange.jobs.models import Job
from message_exchange.messages.models import Message
from tests.conftest import TEST_SECRET_KEY
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import pipeline_settings

SENDER = "+15550009999"
ALPHA = "ACME"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY, connect_link_base_url="https://go.example.com")


@dataclass(frozen=True)
class Service:
    sid: str
    key: str
    account: Creds

    def admin(self, path: str = "") -> str:
        return f"/restcomm/2012-04-24/Accounts/{self.account.sid}/Connect/Services/{self.sid}{path}"


@pytest.fixture
async def service(client: httpx.AsyncClient, root: Creds, own_number: OwnNumber) -> Service:
    await own_number(root, SENDER)
    response = await client.post(
        f"/restcomm/2012-04-24/Accounts/{root.sid}/Connect/Services",
        json={"name": "alerts", "sender_ids": [SENDER, ALPHA]},
        auth=root.auth,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Service(body["sid"], body["key"], root)


Send = Callable[..., Awaitable[Any]]


def sms_body(*msisdns: str, text: str = "Hello", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "deliverychannel": "sms",
        "channels": {"sms": {"text": text, "senderid": SENDER}},
        "destination": [{"msisdn": [m]} for m in msisdns],
    }
    body.update(extra)
    return body


@pytest.fixture
def send(client: httpx.AsyncClient, service: Service) -> Send:
    async def run(body: Any, *, key: str | None = None, raw: bytes | None = None) -> Any:
        headers = {"key": key if key is not None else service.key, "content-type": "application/json"}
        if raw is not None:
            response = await client.post("/resources/v1/messaging", content=raw, headers=headers)
        else:
            response = await client.post("/resources/v1/messaging", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    return run


Counts = Callable[[], Awaitable[dict[str, int]]]


@pytest.fixture
def counts(app: FastAPI) -> Counts:
    """How many messages are stored, and how many items the jobs of each kind carry (a shared
    dispatch job names many messages): what an accepted or rejected request left."""

    async def run() -> dict[str, int]:
        async with app.state.session_factory() as session:
            messages = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
            jobs = dict((await session.execute(select(Job.kind, func.sum(Job.items)).group_by(Job.kind))).all())
        return {"messages": int(messages), **{str(k): int(v) for k, v in jobs.items()}}

    return run

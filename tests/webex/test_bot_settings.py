"""Saving the bot when Webex refuses, fails, throttles or cannot be reached: a clear answer, nothing saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from message_exchange.config import Settings
from message_exchange.webex.models import Bot
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.webex import FakeWebex, Person
from tests.support.accounts import Creds
from tests.support.pipeline import pipeline_settings
from tests.support.processes import free_port
from tests.webex.conftest import Api, data, error

PUBLIC = "https://mx.example.com"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, webex: FakeWebex) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY, webex_api_base_url=webex.base_url)


SECRET = "whsec-0123456789"


def _body(bot: Person, secret: str = SECRET) -> dict[str, Any]:
    return {"accessToken": bot.token, "webhookSecret": secret, "publicUrl": PUBLIC}


async def _bots(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(Bot))).scalar_one())


async def test_webex_unreachable_is_502_and_nothing_is_saved(
    app: FastAPI, api: Api, root: Creds, bot: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = app.state.settings.model_copy(update={"webex_api_base_url": f"http://127.0.0.1:{free_port()}/v1/"})
    monkeypatch.setattr(app.state, "settings", dead)
    body = error(await api(root, "PUT", "/webex/bot", json=_body(bot)), 502, "502")
    assert "Webex could not be reached" in body["message"]
    assert await _bots(app) == 0
    error(await api(root, "GET", "/webex/bot"), 404, "404")


async def test_webex_failing_is_502_and_nothing_is_saved(
    app: FastAPI, api: Api, root: Creds, webex: FakeWebex, bot: Person
) -> None:
    webex.fail(times=1, status=500, only="POST /v1/webhooks")  # the token checks out, the webhook fails
    body = error(await api(root, "PUT", "/webex/bot", json=_body(bot)), 502, "502")
    assert "500" in body["message"]
    assert await _bots(app) == 0 and webex.webhooks == {}
    data(await api(root, "PUT", "/webex/bot", json=_body(bot)))  # once Webex is back, saving works
    assert await _bots(app) == 1 and len(webex.webhooks) == 1
    async with app.state.session_factory() as session:
        [row] = (await session.execute(select(Bot))).scalars()
    for stored, plain in ((row.access_token_encrypted, str(bot.token)), (row.webhook_secret_encrypted, SECRET)):
        assert plain not in stored and app.state.secret_box.decrypt(stored) == plain  # encrypted at rest


async def test_webex_throttling_is_503_with_retry_after_and_nothing_is_saved(
    app: FastAPI, api: Api, root: Creds, webex: FakeWebex, bot: Person
) -> None:
    webex.throttle(times=1, retry_after=42.5)
    response = await api(root, "PUT", "/webex/bot", json=_body(bot))
    error(response, 503, "503")
    assert response.headers["Retry-After"] == "43"
    assert await _bots(app) == 0 and webex.webhooks == {}


async def test_webex_refusing_the_token_or_the_webhook_is_400_naming_the_field(
    app: FastAPI, api: Api, root: Creds, webex: FakeWebex, bot: Person
) -> None:
    body = error(await api(root, "PUT", "/webex/bot", json={**_body(bot), "accessToken": "unknown"}), 400, "400")
    assert "access token" in body["message"]
    webex.fail(times=1, status=400, only="POST /v1/webhooks")
    body = error(await api(root, "PUT", "/webex/bot", json=_body(bot)), 400, "400")
    assert "webhook" in body["message"]
    assert await _bots(app) == 0 and webex.webhooks == {}


async def test_removing_the_bot_while_webex_is_down_still_removes_it(
    app: FastAPI, api: Api, root: Creds, webex: FakeWebex, bot: Person
) -> None:
    data(await api(root, "PUT", "/webex/bot", json=_body(bot)))
    webex.fail(times=1, status=503, only="DELETE /v1/webhooks")
    removed = data(await api(root, "DELETE", "/webex/bot"))
    assert removed["botId"] == bot.id
    assert await _bots(app) == 0
    assert len(webex.webhooks) == 1  # left at Webex: it could not be reached (logged)


async def test_an_old_webhook_already_gone_at_webex_does_not_stop_a_save(
    app: FastAPI, api: Api, root: Creds, webex: FakeWebex, bot: Person
) -> None:
    data(await api(root, "PUT", "/webex/bot", json=_body(bot)))
    webex.fail(times=1, status=404, only="DELETE /v1/webhooks")  # removed meanwhile by a concurrent save
    saved = data(await api(root, "PUT", "/webex/bot", json=_body(bot, "rotated-secret")))
    assert [hook.secret for hook in webex.webhooks.values()][-1] == "rotated-secret"
    assert saved["webhookId"] in webex.webhooks

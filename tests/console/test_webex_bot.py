"""The Webex bot settings on the console, against the fake Webex API (secrets never shown)."""

from __future__ import annotations

from pathlib import Path

import pytest

from message_exchange.config import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.console.conftest import Browser
from tests.fakes.webex import FakeWebex
from tests.support.pipeline import pipeline_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path, webex: FakeWebex) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY, webex_api_base_url=webex.base_url)


async def test_webex_bot_settings_saved_shown_masked_and_removed(signed_in: Browser, webex: FakeWebex) -> None:
    bot = webex.add_bot("SMS Bot", "smsbot@webex.bot")
    assert bot.token
    await signed_in.get("/console/webex/enterprises")
    refused = await signed_in.post(
        "/console/webex/bot",
        {"accessToken": "not-a-token", "webhookSecret": "whsec-0123456789", "publicUrl": "https://mx.example.com"},
    )
    assert refused.status_code == 400 and 'id="bot-problem"' in refused.text
    assert "No Webex bot for this account yet." in refused.text  # nothing was stored
    saved = await signed_in.post(
        "/console/webex/bot",
        {"accessToken": bot.token, "webhookSecret": "whsec-0123456789", "publicUrl": "https://mx.example.com"},
    )
    assert saved.status_code == 303, saved.text
    page = await signed_in.get("/console/webex/enterprises")
    assert "SMS Bot" in page.text and "smsbot@webex.bot" in page.text
    assert "https://mx.example.com/webex/bot/webhook/" in page.text
    assert bot.token not in page.text and "whsec-0123456789" not in page.text and "****" in page.text
    removed = await signed_in.post("/console/webex/bot", {"action": "delete", "confirm": "yes"})
    assert removed.status_code == 303
    assert "No Webex bot for this account yet." in (await signed_in.get("/console/webex/enterprises")).text

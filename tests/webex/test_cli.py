"""`mx webex bot set/show/remove` against the fake Webex."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from message_exchange.cli import app
from tests.fakes.webex import FakeWebex

runner = CliRunner()


async def _mx(*args: str) -> str:
    # In a thread: the command runs its own event loop while this one keeps serving the fake.
    result = await asyncio.to_thread(runner.invoke, app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_bot_set_show_remove(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async with FakeWebex() as webex:
        bot = webex.add_bot("SMS Bot", "smsbot@webex.bot")
        for name in ("MX_DATABASE_URL", "MX_SECRET_KEY", "MX_PUBLIC_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MX_DATA_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("MX_WEBEX_API_BASE_URL", webex.base_url)
        account = json.loads(
            await _mx("accounts", "create", "--email", "csp@example.com", "--password", "long-enough", "--json")
        )
        missing = await asyncio.to_thread(
            runner.invoke,
            app,
            [
                "webex",
                "bot",
                "set",
                "--account",
                account["sid"],
                "--access-token",
                str(bot.token),
                "--webhook-secret",
                "s3cret",
            ],
        )
        assert missing.exit_code == 1 and "--public-url" in missing.output
        saved = json.loads(
            await _mx(
                "webex",
                "bot",
                "set",
                "--account",
                account["sid"],
                "--access-token",
                str(bot.token),
                "--webhook-secret",
                "s3cret-value",
                "--public-url",
                "https://mx.example.com",
                "--json",
            )
        )
        assert saved["webhookUrl"] == f"https://mx.example.com/webex/bot/webhook/{account['sid']}"
        assert str(bot.token) not in json.dumps(saved)
        [hook] = webex.webhooks.values()
        assert (hook.target_url, hook.secret) == (saved["webhookUrl"], "s3cret-value")
        shown = json.loads(await _mx("webex", "bot", "show", "--account", account["sid"], "--json"))
        assert shown["botId"] == bot.id
        assert "removed" in await _mx("webex", "bot", "remove", "--account", account["sid"])
        assert webex.webhooks == {}

"""`mx connect services …` and `mx connect send --file destinations.csv` on both backends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from message_exchange.cli import app
from message_exchange.connect.models import ConnectTransaction
from message_exchange.db.engine import create_engine, create_session_factory
from message_exchange.messages.models import Message
from tests.conftest import TEST_SECRET_KEY

runner = CliRunner()


@pytest.fixture
def mx_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    monkeypatch.setenv("MX_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("MX_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MX_DATABASE_URL", database_url)
    monkeypatch.setenv("MX_CONNECT_LINK_BASE_URL", "https://go.example.com")
    return database_url


def _mx(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _stored(database_url: str) -> list[tuple[str, str, str | None]]:
    async def run() -> list[tuple[str, str, str | None]]:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                rows = await session.execute(
                    select(Message.to_address, Message.body, ConnectTransaction.correlationid)
                    .join(ConnectTransaction, ConnectTransaction.message_sid == Message.sid)
                    .order_by(Message.to_address)
                )
                return [(a, b, c) for a, b, c in rows.all()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _service() -> dict[str, Any]:
    account = _mx("accounts", "create", "--email", "ops@example.com", "--password", "long-enough", "--json")["sid"]
    service: dict[str, Any] = _mx(
        "connect", "services", "create", "--account", account, "--name", "promo", "--sender-id", "ACME", "--json"
    )
    return service


def test_services_create_list_rotate(mx_env: str) -> None:
    service = _service()
    assert len(service["key"]) == 36
    [listed] = _mx("connect", "services", "list", "--json")
    assert listed["sid"] == service["sid"] and listed["key"] == "****" + service["key"][-4:]
    rotated = _mx("connect", "services", "rotate-key", service["sid"], "--json")
    assert rotated["key"] != service["key"]


def test_send_a_csv_file(mx_env: str, tmp_path: Path) -> None:
    service = _service()
    _mx(
        "connect",
        "template",
        "--service",
        service["sid"],
        "--id",
        "promo",
        "--text",
        "Hi {{name}}, {{offer}}",
        "--json",
    )
    csv_file = tmp_path / "destinations.csv"
    csv_file.write_text(
        "msisdn,name,correlationid\n+14155550100,Ann,c-1\n+14155550101,Bob,\n14155550102,Cy,c-3\n", encoding="utf-8"
    )
    result = runner.invoke(
        app,
        [
            "connect",
            "send",
            "--service",
            service["sid"],
            "--file",
            str(csv_file),
            "--template",
            "promo",
            "--param",
            "offer=20% off",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["accepted"] == 3 and summary["requests"] == 1
    assert "sending" in result.stderr  # the progress bar
    assert _stored(mx_env) == [
        ("+14155550100", "Hi Ann, 20% off", "c-1"),
        ("+14155550101", "Hi Bob, 20% off", None),
        ("+14155550102", "Hi Cy, 20% off", "c-3"),
    ]


def test_a_bad_row_sends_nothing(mx_env: str, tmp_path: Path) -> None:
    service = _service()
    csv_file = tmp_path / "destinations.csv"
    csv_file.write_text("msisdn\n+14155550100\nnot-a-number\n", encoding="utf-8")
    result = runner.invoke(
        app, ["connect", "send", "--service", service["sid"], "--file", str(csv_file), "--text", "hi"]
    )
    assert result.exit_code == 1 and "Invalid address" in result.stderr
    assert _stored(mx_env) == []


def test_more_than_a_thousand_rows_go_in_several_requests(mx_env: str, tmp_path: Path) -> None:
    service = _service()
    csv_file = tmp_path / "destinations.csv"
    csv_file.write_text("msisdn\n" + "".join(f"+1415555{i:04d}\n" for i in range(1500)), encoding="utf-8")
    summary = _mx("connect", "send", "--service", service["sid"], "--file", str(csv_file), "--text", "hi", "--json")
    assert summary["accepted"] == 1500 and summary["requests"] == 2
    assert len(_stored(mx_env)) == 1500


def test_services_update(mx_env: str) -> None:
    service = _service()
    _mx("numbers", "add", "--account", service["account_sid"], "--number", "+14155550199", "--json")
    unowned = runner.invoke(app, ["connect", "services", "update", service["sid"], "--sender-id", "+14155550198"])
    assert unowned.exit_code == 1 and "not an SMS-capable number" in unowned.stderr
    updated = _mx(
        "connect",
        "services",
        "update",
        service["sid"],
        "--notify-url",
        "https://hooks.example.com/n",
        "--sender-id",
        "+14155550199",
        "--sender-id",
        "ACME",
        "--sender-id",
        "12345",
        "--json",
    )
    assert updated["notify_url"] == "https://hooks.example.com/n"
    assert updated["sender_ids"] == ["+14155550199", "ACME", "12345"] and updated["key"].startswith("****")
    assert (
        _mx("connect", "services", "update", service["sid"], "--status", "disabled", "--json")["status"] == "disabled"
    )
    bad = runner.invoke(app, ["connect", "services", "update", service["sid"], "--notify-url", "ftp://x"])
    assert bad.exit_code == 1 and "notify_url" in bad.stderr

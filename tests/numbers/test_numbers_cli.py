"""`mx numbers add/list/remove` on both backends; errors exit 1 cleanly and store nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from message_exchange.cli import app
from tests.conftest import TEST_SECRET_KEY

runner = CliRunner()


@pytest.fixture
def mx_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    monkeypatch.setenv("MX_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("MX_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MX_DATABASE_URL", database_url)
    return tmp_path / "var"


def _mx(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _account(email: str, parent: str | None = None) -> str:
    args = ["accounts", "create", "--email", email, "--password", "long-enough", "--json"]
    sid: str = json.loads(_mx(*args, *(["--parent", parent] if parent else [])))["sid"]
    return sid


def _listed(*args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(_mx("numbers", "list", "--json", *args))
    return rows


def test_add_list_remove(mx_env: Path) -> None:
    root = _account("ops@example.com")
    child = _account("cust@example.com", root)
    added = json.loads(
        _mx(
            "numbers",
            "add",
            "--account",
            child,
            "--number",
            "+1 (415) 555-0600",
            "--friendly-name",
            "Front desk",
            "--sms-url",
            "https://hook.example.com/sms",
            "--sms-method",
            "get",
            "--status-callback",
            "https://hook.example.com/status",
            "--json",
        )
    )
    assert added["sid"].startswith("PN") and added["account_sid"] == child
    assert added["phone_number"] == "+14155550600" and added["friendly_name"] == "Front desk"
    assert added["sms_url"] == "https://hook.example.com/sms" and added["sms_method"] == "GET"
    assert added["status_callback"] == "https://hook.example.com/status"
    plain = _mx("numbers", "add", "--account", root, "--number", "+442079460958")
    assert "+442079460958" in plain and root in plain
    everything = _listed()
    assert [n["phone_number"] for n in everything] == ["+14155550600", "+442079460958"]
    assert [n["sid"] for n in _listed("--account", child)] == [added["sid"]]
    assert added["sid"] in _mx("numbers", "list")
    # by phone number in any spelling, and by sid
    assert "+14155550600" in _mx("numbers", "remove", "+1 415-555-0600")
    assert "+442079460958" in _mx("numbers", "remove", everything[1]["sid"])
    assert _listed() == []


def test_errors_exit_1_and_store_nothing(mx_env: Path) -> None:
    root = _account("ops@example.com")
    _mx("numbers", "add", "--account", root, "--number", "+14155550601")
    cases: list[tuple[list[str], str]] = [
        (["--account", root, "--number", "+1 415 555 0601"], "already in use"),
        (["--account", root, "--number", "4155550602"], "country code"),
        (["--account", "AC" + "0" * 32, "--number", "+14155550603"], "not found"),
        (["--account", root, "--number", "+14155550604", "--sms-url", "ftp://x.example.com"], "--sms-url"),
        (["--account", root, "--number", "+14155550605", "--sms-method", "PUT"], "--sms-method"),
        (["--account", root, "--number", "+14155550606", "--status-callback", "/relative"], "--status-callback"),
        (["--account", root, "--number", "+14155550607", "--friendly-name", "x" * 65], "--friendly-name"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["numbers", "add", *args])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert [n["phone_number"] for n in _listed()] == ["+14155550601"]
    for missing in ("+14155550699", "PN" + "0" * 32):
        result = runner.invoke(app, ["numbers", "remove", missing])
        assert result.exit_code == 1 and "not found" in result.output
    bad = runner.invoke(app, ["numbers", "remove", "not a number"])
    assert bad.exit_code == 1
    assert len(_listed()) == 1

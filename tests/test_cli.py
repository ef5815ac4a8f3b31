"""The `mx` command's contract: accounts create/list/rotate-token, db upgrade, generated secret key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from message_exchange.cli import app

runner = CliRunner()


@pytest.fixture
def mx_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MX_DATABASE_URL", "MX_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MX_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def _mx(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_accounts_create_list_rotate(mx_env: Path) -> None:
    root = json.loads(_mx("accounts", "create", "--email", "ops@example.com", "--password", "long-enough", "--json"))
    assert root["sid"].startswith("AC") and len(root["auth_token"]) == 32
    child = json.loads(
        _mx(
            "accounts",
            "create",
            "--email",
            "cust@example.com",
            "--password",
            "long-enough",
            "--friendly-name",
            "Customer",
            "--parent",
            root["sid"],
            "--json",
        )
    )
    listed = json.loads(_mx("accounts", "list", "--json"))
    by_sid = {row["sid"]: row for row in listed}
    assert by_sid[child["sid"]]["parent_sid"] == root["sid"]
    assert by_sid[child["sid"]]["friendly_name"] == "Customer"
    assert by_sid[root["sid"]]["role"] == "Administrator"
    assert root["auth_token"] not in json.dumps(listed)
    plain = _mx("accounts", "list")
    assert child["sid"] in plain and "cust@example.com" in plain
    rotated = json.loads(_mx("accounts", "rotate-token", child["sid"], "--json"))
    assert rotated["sid"] == child["sid"] and rotated["auth_token"] != child["auth_token"]
    # the embedded default made its key beside the database, readable by the owner only
    key_file = mx_env / "secret.key"
    assert key_file.exists() and (mx_env / "mx.db").exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_cli_errors_are_clean(mx_env: Path) -> None:
    _mx("accounts", "create", "--email", "ops@example.com", "--password", "long-enough")
    duplicate = runner.invoke(app, ["accounts", "create", "--email", "ops@example.com", "--password", "long-enough"])
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    missing_parent = runner.invoke(
        app,
        ["accounts", "create", "--email", "x@example.com", "--password", "long-enough", "--parent", "AC" + "0" * 32],
    )
    assert missing_parent.exit_code == 1 and "not found" in missing_parent.output
    unknown = runner.invoke(app, ["accounts", "rotate-token", "AC" + "0" * 32])
    assert unknown.exit_code == 1


def test_db_upgrade_on_both_backends(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MX_DATABASE_URL", database_url)
    monkeypatch.setenv("MX_SECRET_KEY", "x" * 43 + "=")
    assert "up to date" in _mx("db", "upgrade")

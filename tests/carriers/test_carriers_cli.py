"""`mx carriers …` and `mx carriers route …` on both backends; errors exit 1 and store nothing."""

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


def _fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def _carriers() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(_mx("carriers", "list", "--json"))
    return rows


ADD = ("carriers", "add", "--name", "smsc-a", "--host", "10.0.0.5", "--port", "2775")
CREDS = ("--system-id", "esme01", "--password", "pa55w0rd")


def test_add_list_update_remove(mx_env: Path) -> None:
    added = json.loads(
        _mx(
            *ADD,
            *CREDS,
            "--bind-mode",
            "transmitter_receiver",
            "--binds",
            "2",
            "--tps",
            "50",
            "--long-message",
            "payload",
            "--no-registered-delivery",
            "--tlv",
            "0x1400=31323334",
            "--tlv",
            "5121=ab",
            "--json",
        )
    )
    assert added["name"] == "smsc-a" and added["password"] == "********"
    assert (added["bind_mode"], added["binds"], added["tps"], added["long_message"]) == (
        "transmitter_receiver",
        2,
        50.0,
        "payload",
    )
    assert added["registered_delivery"] is False
    assert added["custom_tlvs"] == {"0x1400": "31323334", "0x1401": "ab"}
    plain = _mx("carriers", "add", "--name", "smsc-b", "--host", "smsc.example.net", "--port", "2776", *CREDS)
    assert "smsc-b" in plain and "smsc.example.net:2776" in plain and "pa55w0rd" not in plain
    listing = _mx("carriers", "list")
    assert "smsc-a" in listing and "smsc-b" in listing and "pa55w0rd" not in listing
    assert [c["name"] for c in _carriers()] == ["smsc-a", "smsc-b"]

    updated = json.loads(_mx("carriers", "update", "smsc-a", "--port", "2800", "--tps", "none", "--disable", "--json"))
    assert (updated["port"], updated["tps"], updated["enabled"], updated["binds"]) == (2800, None, False, 2)
    by_sid = json.loads(_mx("carriers", "update", added["sid"], "--enable", "--json"))
    assert by_sid["enabled"] is True

    route = json.loads(_mx("carriers", "route", "add", "--carrier", "smsc-a", "--prefix", "+44", "--json"))
    assert (route["carrier"], route["prefix"], route["channel"], route["priority"]) == ("smsc-a", "44", "*", 0)
    _mx("carriers", "route", "add", "--carrier", "smsc-b", "--prefix", "44", "--channel", "sms", "--priority", "5")
    lines = _mx("carriers", "route", "list").splitlines()
    assert len(lines) == 2 and "+44" in lines[0] and "smsc-a" in lines[0] and "priority=5" in lines[1]
    assert "used by 1 route" in _fails("carriers", "remove", "smsc-a")
    assert route["sid"] in _mx("carriers", "route", "remove", route["sid"])
    assert "removed smsc-a" in _mx("carriers", "remove", "smsc-a")
    assert [c["name"] for c in _carriers()] == ["smsc-b"]
    assert [r["carrier"] for r in json.loads(_mx("carriers", "route", "list", "--json"))] == ["smsc-b"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--port", "0"), "--port must be a whole number from 1 to 65535"),
        (("--bind-mode", "receiver"), "--bind-mode must be one of transceiver, transmitter_receiver"),
        (("--tps", "fast"), "--tps must be a number or 'none'"),
        (("--tlv", "0x1400"), "--tlv takes TAG=HEX"),
        (("--password", "much-too-long"), "--password must be 0 to 8"),
    ],
)
def test_bad_options_exit_1_and_store_nothing(mx_env: Path, extra: tuple[str, ...], message: str) -> None:
    args = [*ADD, *CREDS]
    for option, value in zip(extra[::2], extra[1::2], strict=True):
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    assert message in _fails(*args)
    assert _carriers() == []


def test_duplicates_and_unknowns(mx_env: Path) -> None:
    _mx(*ADD, *CREDS)
    assert "already exists" in _fails(*ADD, *CREDS)
    assert "not found" in _fails("carriers", "update", "nope", "--port", "1")
    assert "not found" in _fails("carriers", "remove", "nope")
    assert "no carrier connection named 'nope'" in _fails("carriers", "route", "add", "--carrier", "nope")
    assert "--channel must be sms, mms or *" in _fails(
        "carriers", "route", "add", "--carrier", "smsc-a", "--channel", "rcs"
    )
    assert "not found" in _fails("carriers", "route", "remove", "CR" + "0" * 32)


def test_add_asks_for_the_password_without_echoing_it(mx_env: Path) -> None:
    result = runner.invoke(app, [*ADD, "--system-id", "esme01", "--json"], input="much-too-long\n")
    assert result.exit_code == 1 and "--password must be 0 to 8" in result.output  # the typed one was checked
    result = runner.invoke(app, [*ADD, "--system-id", "esme01", "--json"], input="typed\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "typed" not in result.output  # asked for, not echoed
    assert [c["name"] for c in _carriers()] == ["smsc-a"]

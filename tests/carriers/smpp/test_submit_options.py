"""Messaging API v1 ``type`` 2/3/4 and ``extras.dlt_templateid`` reach the SMSC.

End to end: ``POST /resources/v1/messaging`` → the message's options → dispatch → the SMPP
connector → the scripted SMSC, whose record of each ``submit_sm`` is checked. The PDU rules
themselves (every option with every long-message method) are checked on ``submit_fields``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from message_exchange.carriers.base import OutboundMessage, SubmitOptions
from message_exchange.carriers.smpp.carrier import split_message, submit_fields
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.cli import app as cli_app
from message_exchange.connect.models import ConnectTransaction
from message_exchange.encoding import parse_udh
from message_exchange.messages.models import Message
from tests.carriers.conftest import StartSmsc
from tests.carriers.smpp.conftest import wait_status
from tests.conftest import TEST_SECRET_KEY
from tests.connect import conftest as connect_fixtures
from tests.connect.conftest import Send, Service, sms_body
from tests.fakes.smsc import FakeSmsc

# The Messaging API's own fixtures: a service of the root account, and its POST.
service = connect_fixtures.service
send = connect_fixtures.send

AddSmpp = Callable[..., Awaitable[None]]
DLT_ID = "1107158158796985790"


async def _sid(app: FastAPI, answer: dict[str, Any]) -> str:
    [entry] = answer["response"]
    assert entry["code"] == "1001", answer
    async with app.state.session_factory() as session:
        txn = await session.get(ConnectTransaction, entry["transid"])
        assert txn is not None
        return str(txn.message_sid)


def _sms(request: dict[str, Any], /, **fields: Any) -> dict[str, Any]:
    """``request`` with these ``channels.sms`` fields (a hex ``body`` replaces the text)."""
    request["channels"]["sms"].update(fields)
    if "body" in fields:
        request["channels"]["sms"].pop("text", None)
    return request


async def _submitted(app: FastAPI, fake: FakeSmsc, send_: Send, body: dict[str, Any]) -> list[dict[str, Any]]:
    sid = await _sid(app, await send_(body))
    await wait_status(app, sid, "sent", "delivered")
    return fake.accepted()


async def test_flash_goes_with_message_class_0(
    app: FastAPI, smsc: StartSmsc, smpp_route: AddSmpp, service: Service, send: Send
) -> None:
    fake = await smsc({"receipts": {"mode": "none"}})
    await smpp_route(fake)
    [gsm] = await _submitted(app, fake, send, _sms(sms_body("+15551230000", text="Look now"), type="2"))
    assert gsm["data_coding"] == 0x10 and bytes.fromhex(gsm["short_message"]) == b"Look now"
    assert gsm["esm_class"] == 0 and gsm["tlvs"] == {}
    body = _sms(sms_body("+15551230001", text="Смотри"), type="2")
    [ucs2] = [s for s in await _submitted(app, fake, send, body) if s["destination_addr"] == "15551230001"]
    assert ucs2["data_coding"] == 0x18 and bytes.fromhex(ucs2["short_message"]).decode("utf-16-be") == "Смотри"


async def test_binary_goes_as_8_bit_data_with_its_exact_octets(
    app: FastAPI, smsc: StartSmsc, smpp_route: AddSmpp, service: Service, send: Send
) -> None:
    fake = await smsc({"receipts": {"mode": "text"}})
    await smpp_route(fake)
    octets = bytes(range(256))[:140]  # 140 octets: still one part
    [submit] = await _submitted(app, fake, send, _sms(sms_body("+15551230000"), type="3", body=octets.hex()))
    assert submit["data_coding"] == 0x04 and submit["esm_class"] == 0
    assert bytes.fromhex(submit["short_message"]) == octets


@pytest.mark.parametrize(
    "size,sizes", [(300, [134, 134, 32]), (141, [134, 7]), (268, [134, 134]), (1120, [134] * 8 + [48])]
)
async def test_long_binary_goes_in_udh_parts_of_134_octets(
    app: FastAPI, smsc: StartSmsc, smpp_route: AddSmpp, service: Service, send: Send, size: int, sizes: list[int]
) -> None:
    fake = await smsc({"receipts": {"mode": "text", "delay_ms": 20}})
    await smpp_route(fake)
    octets = bytes((n * 7 + 3) % 256 for n in range(size))
    sid = await _sid(app, await send(_sms(sms_body("+15551230000"), type="3", body=octets.hex())))
    message = await wait_status(app, sid, "delivered")
    assert message.num_segments == len(sizes)
    submits = sorted(fake.accepted(), key=lambda s: s["part"])
    assert [s["part"] for s in submits] == list(range(1, len(sizes) + 1))
    rebuilt = b""
    refs = set()
    for submit in submits:
        assert submit["data_coding"] == 0x04 and submit["esm_class"] == 0x40
        short = bytes.fromhex(submit["short_message"])
        assert len(short) <= 140 and short[:3] == b"\x05\x00\x03"
        info = parse_udh(short)
        assert info is not None and (info.total, info.seq) == (len(sizes), submit["part"])
        refs.add(info.ref)
        rebuilt += info.body
    assert [len(parse_udh(bytes.fromhex(s["short_message"])).body) for s in submits] == sizes  # type: ignore[union-attr]
    assert rebuilt == octets and len(refs) == 1


async def test_long_binary_with_sar_and_payload_carriers(
    app: FastAPI, smsc: StartSmsc, smpp_route: AddSmpp, service: Service, send: Send
) -> None:
    sar = await smsc({"receipts": {"mode": "none"}})
    payload = await smsc({"receipts": {"mode": "none"}})
    await smpp_route(sar, "sar", "1555", long_message="sar")
    await smpp_route(payload, "payload", "1666", long_message="payload")
    octets = bytes(range(200))
    await _submitted(app, sar, send, _sms(sms_body("+15551230000"), type="3", body=octets.hex()))
    await _submitted(app, payload, send, _sms(sms_body("+16661230000"), type="3", body=octets.hex()))
    parts = sar.accepted()
    assert all(p["data_coding"] == 0x04 and p["esm_class"] == 0 for p in parts)
    assert [(p["tlvs"]["sar_total_segments"], p["tlvs"]["sar_segment_seqnum"]) for p in parts] == [(2, 1), (2, 2)]
    assert all(len(bytes.fromhex(p["short_message"])) <= 134 for p in parts)
    assert b"".join(bytes.fromhex(p["short_message"]) for p in parts) == octets
    [whole] = payload.accepted()
    assert whole["data_coding"] == 0x04 and bytes.fromhex(whole["tlvs"]["message_payload"]["hex"]) == octets


async def test_unicode_type_goes_ucs2_even_for_ascii_text(
    app: FastAPI, smsc: StartSmsc, smpp_route: AddSmpp, service: Service, send: Send
) -> None:
    fake = await smsc({"receipts": {"mode": "none"}})
    await smpp_route(fake)
    [submit] = await _submitted(app, fake, send, _sms(sms_body("+15551230000", text="Plain ASCII"), type="4"))
    assert submit["data_coding"] == 0x08
    assert bytes.fromhex(submit["short_message"]).decode("utf-16-be") == "Plain ASCII"


async def test_dlt_template_id_goes_in_the_carriers_tlv(
    app: FastAPI, smsc: StartSmsc, smpp_route: AddSmpp, service: Service, send: Send
) -> None:
    default = await smsc({"receipts": {"mode": "none"}})
    other = await smsc({"receipts": {"mode": "none"}})
    await smpp_route(default, "in-default", "1555", custom_tlvs={0x1400: b"1201159100000000000"})
    await smpp_route(other, "in-other", "1666", dlt_template_tlv=0x1500)
    extras = {"extras": {"dlt_templateid": DLT_ID}}
    long_text = "OTP 1234 " * 30  # 270 septets: two parts, the id on each
    parts = await _submitted(app, default, send, _sms(sms_body("+15551230000", text=long_text), **extras))
    assert len(parts) == 2
    for part in parts:
        assert part["tlvs"]["0x1401"] == {"hex": DLT_ID.encode().hex()}
        assert part["tlvs"]["0x1400"] == {"hex": b"1201159100000000000".hex()}  # the fixed entity id stays
    [moved] = await _submitted(app, other, send, _sms(sms_body("+16661230000"), **extras))
    assert moved["tlvs"] == {"0x1500": {"hex": DLT_ID.encode().hex()}}
    # Without a template id no such TLV goes, and an ordinary request is not flash or binary.
    plain = (await _submitted(app, other, send, sms_body("+16661230001")))[-1]
    assert plain["tlvs"] == {} and plain["data_coding"] == 0


# ── submit_fields: every option, every long-message method (no SMSC) ────────────────────

BASE = SmppConfig(name="c", host="h", port=1, system_id="s", password="p")


def _message(body: str, **options: Any) -> OutboundMessage:
    return OutboundMessage(
        "SM" + "4" * 32, "AC" + "2" * 32, "sms", "ACME", "+919876543210", body, options=SubmitOptions(**options)
    )


def _fields(config: SmppConfig, message: OutboundMessage) -> list[dict[str, Any]]:
    return [submit_fields(config, message, part) for part in split_message(config, message)]


def _tlvs(field: dict[str, Any]) -> dict[int, bytes]:
    return {tlv.tag: tlv.value for tlv in field["tlvs"]}


@pytest.mark.parametrize(
    "policy,body,options,coding",
    [
        ("auto", "hi", {"flash": True}, 0x10),
        ("latin1", "hi", {"flash": True}, 0x10),  # Latin-1 has no class-0 form: GSM-7
        ("gsm7", "hi €", {"flash": True}, 0x10),
        ("auto", "日本", {"flash": True}, 0x18),
        ("ucs2", "hi", {"flash": True}, 0x18),
        ("auto", "hi", {"encoding": "ucs2"}, 0x08),
        ("latin1", "hé", {"encoding": "ucs2"}, 0x08),
        ("auto", "hi", {"encoding": "ucs2", "flash": True}, 0x18),
        ("auto", "00ff", {"binary": True}, 0x04),
        ("ucs2", "00ff", {"binary": True}, 0x04),  # the carrier's text policy does not apply
        ("auto", "00ff", {"binary": True, "flash": True}, 0x14),
        ("latin1", "hé", {}, 0x03),
    ],
)
def test_data_coding_of_each_option(policy: str, body: str, options: dict[str, Any], coding: int) -> None:
    config = replace(BASE, data_coding=policy)  # type: ignore[arg-type]
    [field] = _fields(config, _message(body, **options))
    assert field["data_coding"] == coding


@pytest.mark.parametrize("method", ["udh", "sar", "payload"])
@pytest.mark.parametrize("size", [0, 1, 140, 141, 1000])
def test_binary_octets_survive_every_method(method: str, size: int) -> None:
    config = replace(BASE, long_message=method)  # type: ignore[arg-type]
    octets = bytes((n * 31 + 5) % 256 for n in range(size))
    fields = _fields(config, _message(octets.hex().upper(), binary=True))
    rebuilt = b""
    for field in fields:
        short = field["short_message"]
        assert isinstance(short, bytes) and field["data_coding"] == 0x04
        if method == "payload":
            rebuilt += _tlvs(field)[0x0424]
        elif method == "udh" and len(fields) > 1:
            info = parse_udh(short)
            assert info is not None and len(short) <= 140 and len(info.body) <= 134
            rebuilt += info.body
        else:
            assert len(short) <= (140 if len(fields) == 1 else 134)
            rebuilt += short
    assert rebuilt == octets
    if size <= 140 or method == "payload":
        assert len(fields) == 1
    else:  # SAR leaves room for the UDH the SMSC adds: 7 octets when the reference needs 16 bits
        per_part = 134 if method == "udh" else len(fields[0]["short_message"])
        assert per_part in (133, 134) and len(fields) == -(-size // per_part)


def test_the_dlt_tlv_replaces_a_custom_tlv_of_its_tag_and_zero_turns_it_off() -> None:
    config = replace(BASE, custom_tlvs={0x1401: b"fixed", 0x1400: b"entity"})
    [field] = _fields(config, _message("hi", dlt_template_id="42"))
    assert _tlvs(field) == {0x1401: b"42", 0x1400: b"entity"}
    [field] = _fields(config, _message("hi"))
    assert _tlvs(field) == {0x1401: b"fixed", 0x1400: b"entity"}
    [field] = _fields(replace(BASE, dlt_template_tlv=0), _message("hi", dlt_template_id="42"))
    assert _tlvs(field) == {}


def test_stored_options_round_trip() -> None:
    options = SubmitOptions(flash=True, binary=True, encoding="ucs2", dlt_template_id="7")
    assert SubmitOptions.from_stored(options.to_stored()) == options
    assert SubmitOptions().to_stored() is None and SubmitOptions.from_stored(None) == SubmitOptions()


# ── the carrier setting: admin API and CLI ──────────────────────────────────────────────


async def test_dlt_template_tlv_setting_in_the_admin_api(client: httpx.AsyncClient, service: Service) -> None:
    root = service.account
    base = "/restcomm/2012-04-24/Carriers"
    common = {"Name": "in-a", "Host": "smsc.example.in", "Port": "2775", "SystemId": "esme", "Password": "pw"}
    created = await client.post(f"{base}.json", data=common, auth=root.auth)
    assert created.status_code == 201, created.text
    assert created.json()["dlt_template_tlv"] == "0x1401"  # the default
    changed = await client.post(f"{base}/in-a.json", data={"DltTemplateTlv": "0x1500"}, auth=root.auth)
    assert changed.status_code == 200 and changed.json()["dlt_template_tlv"] == "0x1500"
    off = await client.put(f"{base}/in-a.json", json={"DltTemplateTlv": 0}, auth=root.auth)
    assert off.status_code == 200 and off.json()["dlt_template_tlv"] is None
    for bad in ("0x020C", "0x10000", "tag"):
        refused = await client.post(f"{base}/in-a.json", data={"DltTemplateTlv": bad}, auth=root.auth)
        assert refused.status_code == 400 and "DltTemplateTlv" in refused.json()["message"], bad


async def test_stored_message_options_reach_outbound(app: FastAPI, service: Service, send: Send) -> None:
    """What connect stores is what dispatch hands the carrier (no carrier needed: the row)."""
    sid = await _sid(app, await send(_sms(sms_body("+15551230000"), type="3", body="c0ffee")))
    async with app.state.session_factory() as session:
        message = (await session.execute(select(Message).where(Message.sid == sid))).scalar_one()
    assert message.options == {"binary": True} and message.body == "C0FFEE"
    assert SubmitOptions.from_stored(message.options) == SubmitOptions(binary=True)


def test_dlt_template_tlv_option_of_mx_carriers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    monkeypatch.setenv("MX_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("MX_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MX_DATABASE_URL", database_url)
    runner = CliRunner()

    def mx(*args: str, exit_code: int = 0) -> str:
        result = runner.invoke(cli_app, list(args))
        assert result.exit_code == exit_code, result.output
        return result.stdout if exit_code == 0 else result.output

    add = (
        "carriers",
        "add",
        "--name",
        "in-a",
        "--host",
        "10.0.0.5",
        "--port",
        "2775",
        "--system-id",
        "e",
        "--password",
        "p",
    )
    assert json.loads(mx(*add, "--json"))["dlt_template_tlv"] == "0x1401"
    changed = json.loads(mx("carriers", "update", "in-a", "--dlt-template-tlv", "5376", "--json"))
    assert changed["dlt_template_tlv"] == "0x1500"
    assert "--dlt-template-tlv" in mx("carriers", "update", "in-a", "--dlt-template-tlv", "0x0424", exit_code=1)
    assert json.loads(mx("carriers", "update", "in-a", "--dlt-template-tlv", "0", "--json"))["dlt_template_tlv"] is None

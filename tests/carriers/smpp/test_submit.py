"""Submit + receipt against the scripted SMSC, through the real pipeline (API → dispatch → SMPP)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from message_exchange.carriers.smpp.models import SmppPart
from tests.carriers.conftest import StartSmsc
from tests.carriers.smpp.conftest import send, wait_status
from tests.support.accounts import Creds

AddSmpp = Callable[..., Awaitable[None]]


async def _parts(app: FastAPI, sid: str) -> list[SmppPart]:
    async with app.state.session_factory() as session:
        query = select(SmppPart).where(SmppPart.message_sid == sid).order_by(SmppPart.part_index)
        return list((await session.execute(query)).scalars())


async def test_a_message_is_submitted_and_its_text_receipt_delivers_it(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc({"receipts": {"mode": "text", "delay_ms": 50}})
    await smpp_route(fake)
    sid = await send(client, sender, "+15551230000", "Hello from the exchange")

    message = await wait_status(app, sid, "delivered")
    [submit] = fake.accepted()
    assert submit["destination_addr"] == "15551230000" and submit["source_addr"] == "19876543210"
    assert (submit["source_addr_ton"], submit["source_addr_npi"], submit["dest_addr_ton"]) == (1, 1, 1)
    assert submit["data_coding"] == 0 and submit["registered_delivery"] == 1
    assert bytes.fromhex(submit["short_message"]) == b"Hello from the exchange"
    assert (message.carrier, message.carrier_message_id) == ("smsc", submit["message_id"])
    [part] = await _parts(app, sid)
    assert (part.state, part.attempts, part.receipt_state) == ("sent", 1, "DELIVRD")


async def test_a_tlv_receipt_naming_the_id_in_decimal_finds_the_hex_id(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc({"receipts": {"mode": "tlv", "id_form": "dec", "stat": "UNDELIV"}})
    await smpp_route(fake)
    sid = await send(client, sender, "+15551230000")

    message = await wait_status(app, sid, "undelivered")
    [receipt] = fake.of("receipt_sent")
    assert receipt["reported_id"] == str(int(receipt["message_id"], 16))  # the other base
    assert message.error_code == 30003 and message.carrier_message_id == receipt["message_id"]


async def test_ucs2_text_goes_with_data_coding_8(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc()
    await smpp_route(fake)
    body = "Привет 👋 мир"
    sid = await send(client, sender, "+15551230000", body)

    await wait_status(app, sid, "delivered")
    [submit] = fake.accepted()
    assert submit["data_coding"] == 8
    assert bytes.fromhex(submit["short_message"]).decode("utf-16-be") == body


async def test_a_long_message_goes_in_udh_parts_and_is_delivered_when_every_part_is(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc({"receipts": {"mode": "text", "delay_ms": 30}})
    await smpp_route(fake)
    body = "".join(f"word{n} " for n in range(50))  # 340 septets: 3 parts of ≤ 153
    sid = await send(client, sender, "+15551230000", body)

    await wait_status(app, sid, "delivered")
    submits = fake.accepted()
    assert [s["part"] for s in submits] == [1, 2, 3]
    assert all(s["esm_class"] & 0x40 for s in submits)
    udhs = [bytes.fromhex(s["short_message"])[:6] for s in submits]
    assert {udh[:3] for udh in udhs} == {b"\x05\x00\x03"} and len({udh[3] for udh in udhs}) == 1
    text = b"".join(bytes.fromhex(s["short_message"])[6:] for s in submits)
    assert text.decode("ascii") == body
    parts = await _parts(app, sid)
    assert [(p.part_index, p.total_parts, p.receipt_state) for p in parts] == [(i, 3, "DELIVRD") for i in (1, 2, 3)]


async def test_one_undelivered_part_makes_the_multipart_message_undelivered(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc({"receipts": {"mode": "tlv", "per_part": {"2": "UNDELIV"}}})
    await smpp_route(fake)
    sid = await send(client, sender, "+15551230000", "x" * 400)

    message = await wait_status(app, sid, "undelivered")
    assert message.error_code == 30003 and "part 2 of 3" in (message.error_message or "")
    assert len(fake.accepted()) == 3


async def test_sar_and_payload_methods(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    sar_smsc = await smsc({"receipts": {"mode": "none"}})
    payload_smsc = await smsc({"receipts": {"mode": "none"}})
    await smpp_route(sar_smsc, "sar", "1555", long_message="sar")
    await smpp_route(payload_smsc, "payload", "1666", long_message="payload")
    body = "y" * 200
    sar_sid = await send(client, sender, "+15551230000", body)
    payload_sid = await send(client, sender, "+16661230000", body)

    await wait_status(app, sar_sid, "sent")
    await wait_status(app, payload_sid, "sent")
    sar_parts = sar_smsc.accepted()
    assert [(p["tlvs"]["sar_total_segments"], p["tlvs"]["sar_segment_seqnum"]) for p in sar_parts] == [(2, 1), (2, 2)]
    assert len({p["tlvs"]["sar_msg_ref_num"] for p in sar_parts}) == 1
    assert b"".join(bytes.fromhex(p["short_message"]) for p in sar_parts) == body.encode()
    [whole] = payload_smsc.accepted()
    assert (
        whole["short_message"] in ("", None) and bytes.fromhex(whole["tlvs"]["message_payload"]["hex"]) == body.encode()
    )


async def test_a_permanent_refusal_fails_the_message_with_the_mapped_code(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc({"reject": {"15551230009": 0x0B}})
    await smpp_route(fake)
    sid = await send(client, sender, "+15551230009")

    message = await wait_status(app, sid, "failed")
    assert message.error_code == 21211 and "0x0000000B" in (message.error_message or "")
    assert len(fake.of("submit_sm")) == 1  # not retried


async def test_throttled_parts_are_retried_in_order_without_duplicates(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc({"throttle": 2, "queue_full": 1, "receipts": {"mode": "none"}})
    await smpp_route(fake)
    sid = await send(client, sender, "+15551230000", "z" * 400)

    await wait_status(app, sid, "sent")
    statuses = [s["status"] for s in fake.of("submit_sm")]
    assert statuses == [0x58, 0x58, 0x14, 0, 0, 0]
    assert [s["part"] for s in fake.accepted()] == [1, 2, 3]
    parts = await _parts(app, sid)
    assert [p.attempts for p in parts] == [4, 1, 1]  # every resend is recorded


async def test_a_receipt_before_its_submit_response_is_parked_then_applied(
    app: FastAPI, client: httpx.AsyncClient, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc({"receipts": {"mode": "text", "before_resp": True}, "resp_delay_ms": 300})
    await smpp_route(fake)
    sid = await send(client, sender, "+15551230000")

    message = await wait_status(app, sid, "delivered")
    [receipt] = fake.of("receipt_sent")
    [submit] = fake.accepted()
    assert receipt["message_id"] == submit["message_id"] == message.carrier_message_id
    # The receipt overtook the response: our client acknowledged it before it heard the response.
    order = [
        e["event"]
        for e in list(fake.events)
        if e["event"] == "submit_sm_resp" or (e["event"] == "deliver_sm_resp" and e.get("kind") == "receipt")
    ]
    assert order == ["deliver_sm_resp", "submit_sm_resp"]
    async with app.state.session_factory() as session:
        from message_exchange.carriers.smpp.models import SmppParkedReceipt

        assert (await session.execute(select(SmppParkedReceipt))).first() is None

"""Mobile-originated deliver_sm from the scripted SMSC → the inbound router."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from sqlalchemy import select

from message_exchange.carriers.smpp.models import SmppMoPart
from message_exchange.encoding import concat_udh, encode_gsm7, encode_ucs2
from message_exchange.messages.models import Message
from tests.carriers.conftest import SENDER, StartSmsc
from tests.support.accounts import Creds

AddSmpp = Callable[..., Awaitable[None]]
HANDSET = "15557654321"
OURS = SENDER.lstrip("+")


async def _inbound(app: FastAPI, count: int = 1, timeout: float = 10.0) -> list[Message]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with app.state.session_factory() as session:
            query = select(Message).where(Message.direction == "inbound").order_by(Message.date_created)
            found = list((await session.execute(query)).scalars())
        if len(found) >= count:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{count} inbound messages not stored; {len(found)} are")
        await asyncio.sleep(0.05)


async def test_a_plain_mo_reaches_the_inbound_router(
    app: FastAPI, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc()
    await smpp_route(fake)
    fake.send_mo(source_addr=HANDSET, destination_addr=OURS, short_message=encode_gsm7("Hi there {ok}"))

    [message] = await _inbound(app)
    assert (message.from_address, message.to_address, message.body) == ("+" + HANDSET, SENDER, "Hi there {ok}")
    assert message.account_sid == sender.sid and message.status == "received"


async def test_udh_concatenated_parts_out_of_order_are_reassembled(
    app: FastAPI, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc()
    await smpp_route(fake)
    pieces = ["The first part, ", "then the second, ", "and the last."]
    order = [2, 3, 1]
    for seq in order:
        udh = concat_udh(0x42, 3, seq)
        fake.send_mo(
            source_addr=HANDSET,
            destination_addr=OURS,
            esm_class=0x40,
            short_message=udh + encode_gsm7(pieces[seq - 1]),
        )
    # A second message with a 16-bit reference, UCS-2, interleaved with nothing else.
    text = "Добрый день, 👋 это длинное сообщение"
    data = encode_ucs2(text)
    halves = [data[:28], data[28:]]  # cut inside the emoji's surrogate pair: parts join as bytes
    for seq, half in enumerate(halves, start=1):
        fake.send_mo(
            source_addr=HANDSET,
            destination_addr=OURS,
            esm_class=0x40,
            data_coding=8,
            short_message=concat_udh(0x1234, 2, seq, ref_bits=16) + half,
        )

    # The two complete in either order (the SMSC may deliver them on different binds).
    bodies = sorted(message.body for message in await _inbound(app, 2))
    assert bodies == sorted(["".join(pieces), text])
    async with app.state.session_factory() as session:
        assert (await session.execute(select(SmppMoPart))).first() is None  # reassembled parts are gone


async def test_sar_concatenated_parts_are_reassembled(
    app: FastAPI, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc()
    await smpp_route(fake)
    for seq, piece in ((1, "SAR one, "), (2, "SAR two.")):
        fake.send_mo(
            source_addr=HANDSET,
            destination_addr=OURS,
            short_message=encode_gsm7(piece),
            sar_msg_ref_num=700,
            sar_total_segments=2,
            sar_segment_seqnum=seq,
        )

    [message] = await _inbound(app)
    assert message.body == "SAR one, SAR two."


async def test_a_part_stored_before_a_restart_completes_after_it(
    app: FastAPI, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    """Parts live in the database: the first is waiting there while the second arrives later."""
    fake = await smsc()
    await smpp_route(fake)
    fake.send_mo(
        source_addr=HANDSET,
        destination_addr=OURS,
        esm_class=0x40,
        short_message=concat_udh(9, 2, 1) + encode_gsm7("kept "),
    )
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        async with app.state.session_factory() as session:
            if (await session.execute(select(SmppMoPart))).first() is not None:
                break
        assert asyncio.get_running_loop().time() < deadline, "first part not stored"
        await asyncio.sleep(0.05)
    fake.send_mo(
        source_addr=HANDSET,
        destination_addr=OURS,
        esm_class=0x40,
        short_message=concat_udh(9, 2, 2) + encode_gsm7("across"),
    )

    [message] = await _inbound(app)
    assert message.body == "kept across"


async def test_parts_that_stop_coming_are_delivered_in_order_after_the_reassembly_timeout(
    app: FastAPI, sender: Creds, smsc: StartSmsc, smpp_route: AddSmpp
) -> None:
    fake = await smsc()
    await smpp_route(fake, mo_reassembly_seconds=1.0)
    for seq, piece in ((3, "the end."), (1, "The start, ")):  # part 2 never comes
        fake.send_mo(
            source_addr=HANDSET,
            destination_addr=OURS,
            esm_class=0x40,
            short_message=concat_udh(0x33, 3, seq) + encode_gsm7(piece),
        )

    [message] = await _inbound(app, timeout=15.0)
    assert message.body == "The start, the end."
    assert message.from_address == "+" + HANDSET and message.account_sid == sender.sid
    async with app.state.session_factory() as session:
        assert (await session.execute(select(SmppMoPart))).first() is None  # delivered parts are gone

"""Mobile-originated ``deliver_sm`` → the inbound router, with durable reassembly.

A part of a concatenated message (UDH with an 8- or 16-bit reference, or the ``sar_*``
TLVs) is stored in ``smpp_mo_parts``; when the last one arrives the bodies are joined in
sequence order (as bytes, :func:`~message_exchange.encoding.reassemble`) and decoded once
by ``data_coding``, so a restart between parts loses nothing. Parts still incomplete after
the reassembly timeout (``SmppConfig.mo_reassembly_seconds``) are delivered as they are,
in order, rather than dropped: a reader gets the text that did arrive.

Deduplication: SMPP gives a mobile-originated ``deliver_sm`` no message id. The inbound
router deduplicates on ``(carrier, id)``; our id is the ``receipted_message_id`` TLV when
an SMSC sends one, else ``MO`` + the first stored part's row id for a concatenated message
(never reused, AUTOINCREMENT on SQLite; two nodes completing the same message at once store it once), else a fresh id
(smpp34 acknowledges each ``deliver_sm`` itself, so a repeat only comes from an SMSC that
never saw our ack).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.carriers.smpp import metrics
from message_exchange.carriers.smpp.models import SmppMoPart
from message_exchange.carriers.smpp.receipts import TLV_RECEIPTED_MESSAGE_ID
from message_exchange.carriers.smpp.repository import SmppRepository
from message_exchange.config import Settings
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.encoding import (
    ConcatInfo,
    EncodingError,
    UdhError,
    decode_short_message,
    parse_udh,
    reassemble,
    split_udh,
)
from message_exchange.inbound.service import InboundMessage, receive

log = get_logger("mx.smpp.mo")

ESM_CLASS_UDHI = 0x40
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424


@dataclass(frozen=True, slots=True)
class MoPdu:
    """What we keep of a non-receipt ``deliver_sm``."""

    source_addr: str
    source_ton: int
    destination_addr: str
    dest_ton: int
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]


def e164(address: str, ton: int) -> str:
    """An SMPP address as the rest of the exchange spells numbers: international → ``+digits``."""
    text = address.strip()
    if text.startswith("+"):
        return text
    if ton == 1 and text.isdigit():
        return "+" + text
    return text


def concat_of(pdu: MoPdu) -> tuple[ConcatInfo | None, bytes]:
    """The concatenation position (None when the message stands alone) and the body bytes."""
    body = pdu.short_message or pdu.tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
    if pdu.esm_class & ESM_CLASS_UDHI and body:
        info = parse_udh(body)
        if info is not None:
            return info, info.body
        return None, split_udh(body)[1]
    sar = [pdu.tlvs.get(tag) for tag in (TLV_SAR_MSG_REF_NUM, TLV_SAR_TOTAL_SEGMENTS, TLV_SAR_SEGMENT_SEQNUM)]
    if all(sar):
        ref, total, seq = (int.from_bytes(value or b"", "big") for value in sar)
        if 1 <= seq <= total:
            return ConcatInfo(ref=ref, total=total, seq=seq, body=body), body
    return None, body


class MoHandler:
    """Takes MO PDUs from every session of one carrier, in arrival order, one at a time."""

    def __init__(
        self,
        carrier: str,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        timeout_seconds: float,
    ) -> None:
        self.carrier = carrier
        self._sessions = session_factory
        self._settings = settings
        self._timeout = timeout_seconds
        self._queue: asyncio.Queue[MoPdu] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"smpp-mo-{self.carrier}"),
            asyncio.create_task(self._expire_loop(), name=f"smpp-mo-expiry-{self.carrier}"),
        ]

    async def stop(self) -> None:
        deadline = asyncio.get_running_loop().time() + 5
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - a bounded drain
            await asyncio.sleep(0.02)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def put(self, pdu: MoPdu) -> None:
        metrics.MO_PARTS.labels(self.carrier).inc()
        self._queue.put_nowait(pdu)

    async def _run(self) -> None:
        while True:
            pdu = await self._queue.get()
            for attempt in range(20):
                try:
                    async with self._sessions() as session, session.begin():
                        await self.handle(session, pdu)
                    break
                except (UdhError, EncodingError) as exc:
                    log.warning("MO deliver_sm not readable; dropped", carrier=self.carrier, error=str(exc))
                    break
                except Exception as exc:  # noqa: BLE001
                    log.warning("MO not stored; retrying", carrier=self.carrier, attempt=attempt, error=str(exc))
                    await asyncio.sleep(0.5)

    async def handle(self, session: AsyncSession, pdu: MoPdu) -> None:
        info, body = concat_of(pdu)
        if info is None or info.total == 1:
            provider_id = pdu.tlvs.get(TLV_RECEIPTED_MESSAGE_ID, b"").split(b"\x00", 1)[0].decode("latin-1")
            text = decode_short_message(body, pdu.data_coding)
            await self._deliver(
                session,
                pdu.source_addr,
                pdu.source_ton,
                pdu.destination_addr,
                pdu.dest_ton,
                provider_id or "MO" + uuid.uuid4().hex,
                text,
            )
            return
        repo = SmppRepository(session, self.carrier)
        source = e164(pdu.source_addr, pdu.source_ton)
        destination = e164(pdu.destination_addr, pdu.dest_ton)
        await repo.add_mo_part(
            {
                "source_addr": source,
                "destination_addr": destination,
                "ref": info.ref,
                "total": info.total,
                "seq": info.seq,
                "data_coding": pdu.data_coding,
                "body": body,
                "received_at": utcnow(),
            }
        )
        group = await repo.mo_group(source, destination, info.ref, info.total)
        if len({part.seq for part in group}) == info.total:
            await self._complete(session, repo, group, partial=False)

    async def _complete(
        self, session: AsyncSession, repo: SmppRepository, group: list[SmppMoPart], *, partial: bool
    ) -> None:
        first = group[0]
        if partial:  # the timeout passed: what arrived, in order, gaps and all
            data = b"".join(part.body for part in sorted(group, key=lambda p: p.seq))
        else:
            data = reassemble(ConcatInfo(part.ref, part.total, part.seq, part.body) for part in group)
        text = decode_short_message(data, first.data_coding)
        provider_id = f"MO{min(part.id for part in group)}"
        await self._deliver(session, first.source_addr, 1, first.destination_addr, 1, provider_id, text)
        await repo.delete_mo_parts([part.id for part in group])

    async def _deliver(
        self,
        session: AsyncSession,
        source: str,
        source_ton: int,
        destination: str,
        dest_ton: int,
        provider_id: str,
        text: str,
    ) -> None:
        await receive(
            session,
            InboundMessage(
                carrier=self.carrier,
                carrier_message_id=provider_id,
                from_address=e164(source, source_ton),
                to_address=e164(destination, dest_ton),
                body=text,
            ),
            settings=self._settings,
        )

    async def expire(self) -> int:
        """Deliver concatenated messages whose parts stopped coming; how many."""
        before = utcnow() - timedelta(seconds=self._timeout)
        async with self._sessions() as session, session.begin():
            repo = SmppRepository(session, self.carrier)
            groups = await repo.stale_mo_groups(before)
            for source, destination, ref, total in groups:
                group = await repo.mo_group(source, destination, ref, total)
                if group:
                    log.warning(
                        "MO reassembly timed out; delivering the parts that came",
                        carrier=self.carrier,
                        parts=len(group),
                        total=total,
                    )
                    await self._complete(session, repo, group, partial=True)
        return len(groups)

    async def _expire_loop(self) -> None:
        interval = max(min(self._timeout / 4, 30.0), 0.2)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.expire()
            except Exception as exc:  # noqa: BLE001
                log.warning("MO reassembly expiry failed", carrier=self.carrier, error=str(exc))

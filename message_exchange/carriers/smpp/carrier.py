"""The SMPP carrier: :func:`build_smpp_carrier` → a :class:`~message_exchange.carriers.base.ManagedCarrier`.

::

    carrier = build_smpp_carrier(config, runtime)
    await carrier.start()            # takes bind slots, binds in the background
    result = await carrier.submit(outbound)   # CarrierRejected / CarrierUnavailable
    await carrier.stop()             # unbinds, writes what is pending, frees its slots

A message leaves as one ``submit_sm`` per part (:func:`~message_exchange.encoding.split_for_smpp`:
UDH with an 8-bit reference, SAR TLVs, or one ``message_payload``), parts in order, each
paced by the carrier's TPS (parts, not messages) and sent on the bound session with the
most free window. The concatenation reference comes from the message sid, so a retry of
the parts still missing joins the parts already delivered on the handset. Parts already
recorded ``sent`` for this carrier are skipped (:mod:`.store`).

The message's :class:`~message_exchange.carriers.base.SubmitOptions`: ``binary`` sends the
hex-decoded octets with data_coding 0x04 (140 octets alone, 134 a part after the UDH);
``encoding`` ``ucs2`` forces UCS-2; ``flash`` adds message class 0 (0x10 GSM-7, 0x18 UCS-2,
0x14 binary); ``dlt_template_id`` goes in the carrier's ``dlt_template_tlv`` on every part.

Outcomes per part (:mod:`.errors`): ESME_RTHROTTLED / ESME_RMSGQFUL pause the whole
carrier (50 ms doubling up to 5 s) and the part is retried ahead of everything else;
a permanent command_status raises :class:`CarrierRejected` with the mapped code; not bound,
a dropped connection or a response timeout raise :class:`CarrierUnavailable`.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid

import smpp34
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from message_exchange.carriers.base import (
    CarrierRejected,
    CarrierRuntime,
    CarrierUnavailable,
    ManagedCarrier,
    OutboundMessage,
    SubmitOptions,
    SubmitResult,
)
from message_exchange.carriers.smpp import metrics
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.carriers.smpp.errors import MAX_BUSY_RETRIES, Kind, classify, rejection
from message_exchange.carriers.smpp.leases import SlotLeases
from message_exchange.carriers.smpp.mo import (
    TLV_MESSAGE_PAYLOAD,
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    MoHandler,
    MoPdu,
)
from message_exchange.carriers.smpp.pacing import Pacer
from message_exchange.carriers.smpp.receipts import ReceiptError, is_receipt, read_receipt
from message_exchange.carriers.smpp.repository import SentPart
from message_exchange.carriers.smpp.session import BindFailed, SlotSession
from message_exchange.carriers.smpp.store import PartWriter, ReceiptProcessor, RecordedParts
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.db.engine import JSON_CODEC
from message_exchange.encoding import (
    ConcatMethod,
    DataCoding,
    EncodingError,
    PduPart,
    is_gsm7,
    is_latin1,
    split_for_smpp,
)

log = get_logger("mx.smpp")

BUSY_FIRST_DELAY = 0.05
BUSY_MAX_DELAY = 5.0
_METHODS = {"udh": ConcatMethod.UDH, "sar": ConcatMethod.SAR, "payload": ConcatMethod.PAYLOAD}
DATA_CODING_BINARY = 0x04  # 8-bit data
DATA_CODING_CLASS_0 = 0x10  # GSM 03.38 general group, message class 0 ("flash"): 0x10 | alphabet


def choose_coding(text: str, policy: str) -> DataCoding | None:
    """The data_coding a policy gives a text (None: GSM-7 if it fits, else UCS-2)."""
    if policy == "gsm7":
        return DataCoding.SMSC_DEFAULT if is_gsm7(text) else DataCoding.UCS2
    if policy == "latin1":
        return DataCoding.LATIN1 if is_latin1(text) else DataCoding.UCS2
    if policy == "ucs2":
        return DataCoding.UCS2
    return None


def concat_ref(message_sid: str, method: ConcatMethod) -> int:
    digest = int.from_bytes(hashlib.sha256(message_sid.encode()).digest()[:2], "big")
    return digest & 0xFF if method is ConcatMethod.UDH else digest


def split_message(config: SmppConfig, message: OutboundMessage) -> tuple[PduPart, ...]:
    method = _METHODS[config.long_message]
    options = message.options
    ref = concat_ref(message.sid, method)
    try:
        if options.binary:
            try:
                octets = bytes.fromhex(message.body)
            except ValueError as exc:
                raise CarrierRejected("binary body is not hexadecimal", code=30008) from exc
            # Latin-1 maps each octet to one character and back, so the octets split as Latin-1
            # text are the binary parts byte for byte: 140 alone, 134 a part after an 8-bit
            # reference UDH (133 after a 16-bit one). data_coding becomes 0x04 in submit_fields.
            return split_for_smpp(octets.decode("latin-1"), ref=ref, method=method, data_coding=DataCoding.LATIN1)
        policy = "ucs2" if options.encoding == "ucs2" else config.data_coding
        if options.flash and policy == "latin1":
            policy = "gsm7"  # Latin-1 (0x03) has no message-class form
        return split_for_smpp(message.body, ref=ref, method=method, data_coding=choose_coding(message.body, policy))
    except EncodingError as exc:
        raise CarrierRejected(f"body cannot be sent over SMPP: {exc}", code=30008) from exc


def data_coding_of(part: PduPart, options: SubmitOptions) -> int:
    """The submit_sm data_coding: the part's alphabet (0x04 when binary), with class 0 when flash."""
    coding = DATA_CODING_BINARY if options.binary else int(part.data_coding)
    if options.flash and coding in (DataCoding.SMSC_DEFAULT, DATA_CODING_BINARY, DataCoding.UCS2):
        return DATA_CODING_CLASS_0 | coding
    return coding


def submit_fields(config: SmppConfig, message: OutboundMessage, part: PduPart) -> dict[str, object]:
    """The submit_sm fields of one part."""
    source = message.from_address
    alphanumeric = not source.lstrip("+").isdigit()
    values = dict(config.custom_tlvs)
    dlt = message.options.dlt_template_id
    if dlt is not None and config.dlt_template_tlv:
        values[config.dlt_template_tlv] = dlt.encode()  # the message's own id wins over a fixed custom one
    tlvs = [smpp34.Tlv(tag, value) for tag, value in values.items()]
    short_message = part.short_message
    if config.long_message == "payload":
        tlvs.append(smpp34.Tlv(TLV_MESSAGE_PAYLOAD, part.data))
        short_message = b""
    if part.sar is not None:
        tlvs += [
            smpp34.Tlv(TLV_SAR_MSG_REF_NUM, part.sar.msg_ref_num.to_bytes(2, "big")),
            smpp34.Tlv(TLV_SAR_TOTAL_SEGMENTS, bytes((part.sar.total_segments,))),
            smpp34.Tlv(TLV_SAR_SEGMENT_SEQNUM, bytes((part.sar.segment_seqnum,))),
        ]
    return {
        "destination_addr": message.to_address.lstrip("+"),
        "short_message": short_message,
        "source_addr": source if alphanumeric else source.lstrip("+"),
        # An alphanumeric sender id is TON 5 (alphanumeric), NPI 0 whatever the numeric default.
        "source_addr_ton": 5 if alphanumeric else config.source_ton,
        "source_addr_npi": 0 if alphanumeric else config.source_npi,
        "dest_addr_ton": config.dest_ton,
        "dest_addr_npi": config.dest_npi,
        "esm_class": 0x40 if part.udhi else 0,
        "data_coding": data_coding_of(part, message.options),
        "registered_delivery": 1 if config.registered_delivery else 0,
        "tlvs": tlvs,
    }


def _reader_factory(
    factory: async_sessionmaker[AsyncSession],
) -> tuple[async_sessionmaker[AsyncSession], AsyncEngine | None]:
    """Sessions for reading part records on ``submit``'s path.

    On SQLite every transaction of the main engine begins IMMEDIATE, so a read from ``submit``
    would wait for the one write lock behind whoever holds it (the part writer, receipts,
    dispatch recording ``sent``), once for every message of the batches dispatch submits
    concurrently. A second engine that begins deferred reads the WAL snapshot beside the
    writers instead.
    """
    bind = factory.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return factory, None
    engine = create_async_engine(bind.url, connect_args={"isolation_level": None}, **JSON_CODEC)

    def _pragmas(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    def _begin(conn: object) -> None:
        conn.exec_driver_sql("BEGIN")  # type: ignore[attr-defined]

    event.listen(engine.sync_engine, "connect", _pragmas)
    event.listen(engine.sync_engine, "begin", _begin)
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False), engine


class SmppCarrier:
    """An SMPP carrier connection of this process (see the module docstring)."""

    def __init__(self, config: SmppConfig, runtime: CarrierRuntime) -> None:
        self.name = config.name
        self.config = config
        self.runtime = runtime
        factory = runtime.session_factory
        self._is_postgres = (
            isinstance(factory.kw.get("bind"), AsyncEngine) and factory.kw["bind"].dialect.name == "postgresql"
        )
        self._reader, self._reader_engine = _reader_factory(factory)
        self.recorded = RecordedParts(config.name, self._reader)
        self.receipts = ReceiptProcessor(config.name, factory)
        self.writer = PartWriter(config.name, factory, on_sent=self.receipts.sweep_soon)
        self.mo = MoHandler(config.name, factory, runtime.settings, config.mo_reassembly_seconds)
        self.pacer = Pacer(None if config.tps is None else config.tps / max(config.binds, 1))
        self.holder = f"{runtime.node_id}/{uuid.uuid4().hex[:12]}"
        self.leases = SlotLeases(config, factory, self.holder, on_change=self._slots_changed, node=runtime.node_id)
        self._runners: dict[int, asyncio.Task[None]] = {}
        self._sessions: dict[int, SlotSession] = {}
        self._unrecorded: dict[tuple[str, int], str] = {}
        self._busy_delay = BUSY_FIRST_DELAY
        self._started = False
        self._stopping = False

    # ── ManagedCarrier ─────────────────────────────────────────────────────────────────
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.writer.start()
        self.receipts.start()
        self.mo.start()
        self.leases.start()

    async def stop(self) -> None:
        self._stopping = True
        await self.leases.stop(release=False)
        runners = list(self._runners.values())
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        await asyncio.gather(*(session.close() for session in list(self._sessions.values())), return_exceptions=True)
        self._sessions.clear()
        await self.leases.release_all()
        await self.writer.stop()
        await self.receipts.stop()
        await self.mo.stop()
        if self._reader_engine is not None:
            await self._reader_engine.dispose()

    def is_up(self) -> bool:
        return any(session.bound for session in self._sessions.values())

    async def submit(self, message: OutboundMessage) -> SubmitResult:
        if not self.is_up():
            raise CarrierUnavailable(f"carrier {self.name} has no bound SMPP session")
        parts = split_message(self.config, message)
        done = await self._recorded_ids(message.sid)
        ids: dict[int, str] = {}
        for part in parts:
            known = done.get(part.index)
            if known is not None:
                ids[part.index] = known  # its submit_sm_resp was recorded: never again
                continue
            ids[part.index] = await self._submit_part(message, part)
        return SubmitResult(carrier_message_id=ids[1])

    # ── submitting ─────────────────────────────────────────────────────────────────────
    async def _recorded_ids(self, message_sid: str) -> dict[int, str]:
        try:
            ids = await self.recorded.of(message_sid)
        except Exception as exc:
            raise CarrierUnavailable(f"part records unreadable: {exc}") from exc
        # Answered in this process but not committed yet (the commit wait timed out).
        for (sid, index), carrier_id in list(self._unrecorded.items()):
            if sid == message_sid:
                ids.setdefault(index, carrier_id)
        return ids

    def _session_for_submit(self) -> SlotSession:
        bound = [session for session in self._sessions.values() if session.bound]
        if not bound:
            raise CarrierUnavailable(f"carrier {self.name} has no bound SMPP session")
        return max(bound, key=lambda session: (session.free_window, random.random()))

    async def _submit_part(self, message: OutboundMessage, part: PduPart) -> str:
        fields = submit_fields(self.config, message, part)
        busy = 0
        while True:
            await self.pacer.acquire(first=busy > 0)
            session = self._session_for_submit()
            self.writer.sending(message.sid, part.index, part.total)
            try:
                resp = await session.submit(**fields)
            except TimeoutError as exc:
                metrics.SUBMITS.labels(self.name, "timeout").inc()
                raise CarrierUnavailable(f"no submit_sm_resp within {self.config.response_timeout_seconds:g}s") from exc
            except (smpp34.SmppError, ConnectionError) as exc:
                metrics.SUBMITS.labels(self.name, "disconnected").inc()
                raise CarrierUnavailable(f"SMPP session lost: {exc}") from exc
            status = resp.command_status
            kind = classify(status)
            if kind is Kind.OK:
                metrics.SUBMITS.labels(self.name, "ok").inc()
                self._busy_delay = BUSY_FIRST_DELAY
                return await self._record_sent(message, part, resp.message_id or "")
            metrics.ERRORS.labels(self.name, f"0x{status:08X}").inc()
            if kind is Kind.BUSY:
                metrics.SUBMITS.labels(self.name, "busy").inc()
                busy += 1
                if busy > MAX_BUSY_RETRIES:
                    raise CarrierUnavailable(f"SMSC busy (command_status 0x{status:08X}) after {busy - 1} retries")
                self.pacer.pause(self._busy_delay)
                self._busy_delay = min(self._busy_delay * 2, BUSY_MAX_DELAY)
                continue
            if kind is Kind.TRANSIENT:
                metrics.SUBMITS.labels(self.name, "transient").inc()
                raise CarrierUnavailable(f"SMSC error (command_status 0x{status:08X})", code=30008)
            metrics.SUBMITS.labels(self.name, "rejected").inc()
            code, text = rejection(status)
            raise CarrierRejected(text, code=code)

    async def _record_sent(self, message: OutboundMessage, part: PduPart, carrier_id: str) -> str:
        key = (message.sid, part.index)
        self._unrecorded[key] = carrier_id
        committed = self.writer.sent(SentPart(message.sid, part.index, part.total, carrier_id, utcnow()))
        committed.add_done_callback(lambda _: self._unrecorded.pop(key, None))
        try:
            await asyncio.wait_for(asyncio.shield(committed), timeout=self.config.response_timeout_seconds)
        except TimeoutError:
            log.warning("part record not committed in time", carrier=self.name, sid=message.sid)
        return carrier_id

    # ── sessions ───────────────────────────────────────────────────────────────────────
    def _slots_changed(self, held: frozenset[int]) -> None:
        if self._stopping:
            return
        for slot in held - set(self._runners):
            self._runners[slot] = asyncio.create_task(self._run_slot(slot), name=f"smpp-slot-{self.name}-{slot}")
        for slot in set(self._runners) - held:
            self._runners.pop(slot).cancel()
        if self.config.tps is not None:
            # The carrier's TPS is shared by the nodes in proportion to the slots they hold.
            share = max(len(held), 1) / max(self.config.binds, 1)
            self.pacer.set_rate(max(self.config.tps * share, 0.1))

    async def _run_slot(self, slot: int) -> None:
        """Keep slot ``slot`` bound: reconnect with exponential backoff and jitter."""
        delay = self.config.reconnect_min_seconds
        session: SlotSession | None = None
        try:
            while True:
                session = SlotSession(self.config, slot, self._on_deliver)
                try:
                    await session.open()
                except BindFailed as exc:
                    log.warning("smpp bind failed", carrier=self.name, slot=slot, error=str(exc), retry_in=delay)
                    await asyncio.sleep(random.uniform(delay / 2, delay))
                    delay = min(delay * 2, self.config.reconnect_max_seconds)
                    continue
                log.info("smpp bound", carrier=self.name, slot=slot, mode=self.config.bind_mode)
                delay = self.config.reconnect_min_seconds
                self._sessions[slot] = session
                await session.closed.wait()
                self._sessions.pop(slot, None)
                await session.close(unbind=False)
                log.warning("smpp session closed; reconnecting", carrier=self.name, slot=slot)
                await asyncio.sleep(random.uniform(delay / 2, delay))
        except asyncio.CancelledError:
            if session is not None:
                self._sessions.pop(slot, None)
                await session.close(unbind=True)
            raise

    def _on_deliver(self, event: smpp34.DeliverSmEvent) -> None:
        tlvs = {tlv.tag: tlv.value for tlv in event.tlvs}
        if is_receipt(event.esm_class):
            try:
                self.receipts.put(read_receipt(event.short_message, tlvs))
            except ReceiptError as exc:
                log.warning("unreadable delivery receipt", carrier=self.name, error=str(exc))
            return
        self.mo.put(
            MoPdu(
                source_addr=event.source_addr,
                source_ton=event.source_addr_ton,
                destination_addr=event.destination_addr,
                dest_ton=event.dest_addr_ton,
                esm_class=event.esm_class,
                data_coding=event.data_coding,
                short_message=event.short_message,
                tlvs=tlvs,
            )
        )


def build_smpp_carrier(config: SmppConfig, runtime: CarrierRuntime) -> ManagedCarrier:
    """The contract with carrier management: an SMPP connection as a :class:`ManagedCarrier`."""
    return SmppCarrier(config, runtime)

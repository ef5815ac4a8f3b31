"""Writing what the SMPP connector learns: part records and delivery receipts.

Why a writer of its own. ``submit`` runs outside the dispatch transaction (dispatch ends
its read-only transaction before a network carrier and records ``sent`` in a new one), and
nothing it writes may depend on that transaction: part records must survive whatever
dispatch does next (a later part refused, a crash before dispatch commits). So
:class:`PartWriter` records parts from its own task, many parts per transaction:
``sending`` before a part leaves (counting every resend in ``attempts``), ``sent`` with the
carrier's id on its ``submit_sm_resp``. ``submit`` waits for the ``sent`` records to commit
before it returns, so a part whose response was recorded is never sent again; one commit
serves every part answered meanwhile (hundreds at 2,000 msg/s), which is what keeps the
throughput up on PostgreSQL, and on SQLite keeps the one write lock taken once per batch
rather than once per part. The wait is bounded by the response timeout: a caller that
(against dispatch's rule) calls ``submit`` inside a SQLite write transaction is slowed, not
deadlocked.

Receipts (:class:`ReceiptProcessor`) are applied in their own transactions too, in batches.
A receipt whose part is not recorded yet — it overtook its ``submit_sm_resp``, or the
response is recorded by another node — or whose message dispatch has not marked ``sent``
yet is parked in ``smpp_parked_receipts``; a sweep re-applies parked receipts whose part
has appeared (every half second, and right after each batch of ``sent`` records) and
leaves parked those whose message is still ``queued``, so none is lost and a receipt never
overtakes the ``sent`` that carries the carrier's id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.carriers.smpp import metrics
from message_exchange.carriers.smpp.models import SmppPart
from message_exchange.carriers.smpp.receipts import STATES, Receipt
from message_exchange.carriers.smpp.repository import SentPart, SmppRepository
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.service import StatusEvent, record_status
from message_exchange.messages.status import MessageStatus

log = get_logger("mx.smpp.store")

FINAL_STATES = frozenset(state for state, outcome in STATES.items() if outcome.status is not MessageStatus.SENT)
BATCH = 1000
RECEIPT_TASKS = 2
RETRY_SECONDS = 0.5


@dataclass
class _Pending:
    sending: list[tuple[str, int, int, datetime]] = field(default_factory=list)
    sent: list[SentPart] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class PartWriter:
    """Records part states from one task; see the module docstring for why."""

    def __init__(
        self, carrier: str, session_factory: async_sessionmaker[AsyncSession], on_sent: Callable[[], None]
    ) -> None:
        self.carrier = carrier
        self._sessions = session_factory
        self._pending = _Pending()
        self._wake = asyncio.Event()
        self._on_sent = on_sent
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"smpp-parts-{self.carrier}")

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
        except TimeoutError:
            self._task.cancel()

    def sending(self, message_sid: str, part_index: int, total: int) -> None:
        self._pending.sending.append((message_sid, part_index, total, utcnow()))
        self._wake.set()

    def sent(self, part: SentPart) -> asyncio.Future[None]:
        """Queue a ``sent`` record; the future is done once it is committed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.sent.append(part)
        self._pending.waiters.append(waiter)
        self._wake.set()
        return waiter

    _stopping = False

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, _Pending()
            if not batch.sending and not batch.sent:
                if self._stopping:
                    return
                continue
            while True:
                try:
                    async with self._sessions() as session, session.begin():
                        repo = SmppRepository(session, self.carrier)
                        await repo.record_sending(batch.sending)
                        await repo.record_sent(batch.sent)
                    break
                except Exception as exc:  # noqa: BLE001 - the database is away: keep the records, try again
                    log.warning("smpp part records not written; retrying", carrier=self.carrier, error=str(exc))
                    await asyncio.sleep(RETRY_SECONDS)
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_result(None)
            if batch.sent:
                self._on_sent()


class RecordedParts:
    """Which parts of a message were answered already — one query for every concurrent asker.

    Every ``submit`` asks before sending (a retried dispatch must skip answered parts); at
    thousands of messages a second a query each would be the connector's main cost, so
    the questions that arrive while one query runs are answered together by the next.
    """

    def __init__(self, carrier: str, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.carrier = carrier
        self._sessions = session_factory
        self._waiting: dict[str, list[asyncio.Future[dict[int, str]]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def of(self, message_sid: str) -> dict[int, str]:
        """part index → carrier message id, for the parts of ``message_sid`` recorded ``sent``."""
        waiter: asyncio.Future[dict[int, str]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(message_sid, []).append(waiter)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._answer(), name=f"smpp-recorded-{self.carrier}")
        return await waiter

    async def _answer(self) -> None:
        while self._waiting:
            asked, self._waiting = self._waiting, {}
            try:
                async with self._sessions() as session:
                    found = await SmppRepository(session, self.carrier).sent_ids(list(asked))
            except Exception as exc:  # noqa: BLE001 - each asker gets the error, not a hang
                for waiters in asked.values():
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                continue
            for sid, waiters in asked.items():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(dict(found.get(sid, {})))


class ReceiptProcessor:
    """Applies receipts to parts and messages, parking those whose part is not known yet."""

    def __init__(self, carrier: str, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.carrier = carrier
        self._sessions = session_factory
        self._queue: asyncio.Queue[tuple[Receipt, datetime]] = asyncio.Queue()
        self._sweep_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, sweep_seconds: float = 0.5) -> None:
        # Batches run side by side (one waits on the database while another is built); they
        # lock parts, then messages in sid order, so they queue on a shared row, never deadlock.
        self._tasks = [
            *(asyncio.create_task(self._run(), name=f"smpp-receipts-{self.carrier}") for _ in range(RECEIPT_TASKS)),
            asyncio.create_task(self._sweeper(sweep_seconds), name=f"smpp-parked-{self.carrier}"),
        ]

    async def stop(self) -> None:
        deadline = asyncio.get_running_loop().time() + 5
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - a bounded drain
            await asyncio.sleep(0.02)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def put(self, receipt: Receipt) -> None:
        metrics.RECEIPTS.labels(self.carrier, receipt.state).inc()
        self._queue.put_nowait((receipt, utcnow()))

    def sweep_soon(self) -> None:
        self._sweep_now.set()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < BATCH:
                batch.append(self._queue.get_nowait())
            while True:
                try:
                    async with self._sessions() as session, session.begin():
                        repo = SmppRepository(session, self.carrier)
                        applied = await self._apply_many(session, repo, batch)
                        await repo.park_many(
                            [
                                (receipt.message_id, receipt.state, receipt.error, received_at)
                                for (receipt, received_at), done in zip(batch, applied, strict=True)
                                if not done
                            ]
                        )
                    break
                except Exception as exc:  # noqa: BLE001
                    log.warning("smpp receipts not applied; retrying", carrier=self.carrier, error=str(exc))
                    await asyncio.sleep(RETRY_SECONDS)

    async def _sweeper(self, seconds: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sweep_now.wait(), timeout=seconds)
            self._sweep_now.clear()
            try:
                await self.reconcile_parked()
            except Exception as exc:  # noqa: BLE001
                log.warning("parked smpp receipts not reconciled", carrier=self.carrier, error=str(exc))

    async def reconcile_parked(self) -> int:
        """Apply parked receipts whose part is recorded now; how many were applied."""
        async with self._sessions() as session, session.begin():
            repo = SmppRepository(session, self.carrier)
            parked = await repo.parked_with_parts()
            items = [(Receipt(row.carrier_message_id, row.state, row.error), row.received_at) for row in parked]
            applied = await self._apply_many(session, repo, items)
            await repo.unpark([row.id for row, done in zip(parked, applied, strict=True) if done])
        return sum(applied)

    async def _apply_many(
        self, session: AsyncSession, repo: SmppRepository, items: list[tuple[Receipt, datetime]]
    ) -> list[bool]:
        """Apply receipts in a few statements; for each, False when it must stay (or be) parked.

        Locks in one order everywhere — parts, then messages by sid — so two batches (or a
        batch and a sweep) queue rather than deadlock.
        """
        exact = await repo.parts_by_ids([receipt.message_id for receipt, _ in items])
        # The id in another base or padded (or a part not recorded yet): one more query for them.
        others = await repo.parts_by_id_forms([r.message_id for r, _ in items if r.message_id not in exact])
        parts = [exact.get(r.message_id) or others.get(r.message_id) for r, _ in items]
        sids = sorted({part.message_sid for part in parts if part is not None})
        messages = await MessageRepository(session).get_many(sids, for_update=True)  # locked in sid order
        applied: list[bool] = []
        to_settle: dict[str, SmppPart] = {}
        for (receipt, received_at), part in zip(items, parts, strict=True):
            message = messages.get(part.message_sid) if part is not None else None
            if part is None or (message is not None and message.status == MessageStatus.QUEUED):
                applied.append(False)  # part unknown, or dispatch has not recorded ``sent`` yet
                continue
            applied.append(True)
            if part.receipt_state in FINAL_STATES:
                continue  # a repeated or late receipt: the first final word stands
            part.receipt_state = receipt.state
            part.receipt_error = receipt.error
            part.receipt_at = received_at
            if receipt.state in FINAL_STATES and part.sent_at is not None:
                latency = (received_at - part.sent_at).total_seconds()
                metrics.RECEIPT_LATENCY.labels(self.carrier).observe(max(latency, 0.0))
            if message is not None:
                to_settle[part.message_sid] = part
        await session.flush()
        multipart = sorted(sid for sid, part in to_settle.items() if part.total_parts > 1)
        siblings = await repo.parts_of_messages(multipart) if multipart else {}
        for sid, part in to_settle.items():
            states = siblings.get(sid) or [part]
            await self._settle_message(session, part.total_parts, states, messages[sid])
        return applied

    async def _settle_message(self, session: AsyncSession, total: int, parts: list[SmppPart], message: Message) -> None:
        """Delivered when every part is; undelivered / failed as soon as one part is."""
        failing = sorted(
            (p.part_index, p.receipt_state, p.receipt_error)
            for p in parts
            if p.receipt_state in FINAL_STATES and p.receipt_state != "DELIVRD"
        )
        delivered = sum(1 for p in parts if p.receipt_state == "DELIVRD")
        if failing:
            index, state, error = failing[0]
            outcome = STATES[state or "UNKNOWN"]
            detail = f"{outcome.error_message} (stat {state}" + (f", err {error})" if error else ")")
            if total > 1:
                detail += f", part {index} of {total}"
            event = StatusEvent(outcome.status, outcome.error_code, detail)
        elif delivered == total:
            event = StatusEvent(MessageStatus.DELIVERED)
        else:
            return  # intermediate states (ENROUTE / ACCEPTD) or parts still out: nothing to say
        await record_status(session, message, event)

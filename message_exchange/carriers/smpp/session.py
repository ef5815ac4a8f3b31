"""One bind slot's SMPP sessions on ``smpp34``: a transceiver, or a transmitter + receiver pair.

What smpp34 1.5.0 does and what we add:

- framing, sequence numbers, ``submit_sm_resp`` matching, enquire_link sending and answering,
  acking each ``deliver_sm``: smpp34's Rust core. Its Python ``Client`` does not expose the
  enquire_link period, so the wire period is the library's default; every
  ``enquire_link_seconds`` we ask :meth:`smpp34.Client.is_alive` and drop a session that is
  not, which is what the interval is for (finding a dead peer).
- a refused bind: smpp34 reports it only as "bind timed out" after ``connect_timeout_ms``
  (the bind_resp's command_status is not surfaced), so the connect timeout is the
  response timeout and a refusal reads as :class:`BindFailed`.
- draining ``deliver_sm``: several tasks await ``Smsc.next()`` at once (see
  :data:`INBOUND_CAPACITY`), handing each PDU to an in-memory queue of the carrier.
- the window: smpp34 queues submits past its own window; we bound in-flight submits with a
  semaphore of ``window`` so "window in use" is ours to measure and a full window makes
  callers wait in order.
- response timeouts: ``asyncio.wait_for`` around each submit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import smpp34

from message_exchange.carriers.smpp import metrics
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.core.logging import get_logger

log = get_logger("mx.smpp.session")

DeliverCallback = Callable[[smpp34.DeliverSmEvent], None]
# deliver_sm buffered in smpp34's core before it pushes back on the SMSC. A full buffer
# makes the core stop reading the socket — submit_sm_resps included — so keep it large and
# drain it with several concurrent next() calls: one await yields one PDU per event-loop
# turn, and a busy loop turns only a few hundred times a second.
INBOUND_CAPACITY = 65_536
PUMPS_PER_SESSION = 4


class BindFailed(Exception):
    """The SMSC did not bind us (refused, unreachable or silent)."""


class SlotSession:
    """The sessions of one bind slot, bound once :meth:`open` returns."""

    def __init__(self, config: SmppConfig, slot: int, on_deliver: DeliverCallback) -> None:
        self.config = config
        self.slot = slot
        self._on_deliver = on_deliver
        self._clients: list[smpp34.Client] = []
        self._smscs: list[smpp34.Smsc] = []
        self._transmitter: smpp34.Smsc | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()
        self.window = asyncio.Semaphore(max(config.window, 1))
        self.in_flight = 0
        self._unbinding = False

    @property
    def bound(self) -> bool:
        return self._transmitter is not None and not self.closed.is_set()

    @property
    def free_window(self) -> int:
        return self.config.window - self.in_flight

    def _client(self, bind_type: str) -> smpp34.Client:
        config = self.config
        return smpp34.Client(
            config.host,
            config.port,
            config.system_id,
            config.password,
            bind_type=bind_type,
            system_type=config.system_type,
            tls=config.tls,
            window_size=max(config.window, 1),
            inbound_capacity=INBOUND_CAPACITY,
            connect_timeout_ms=int(config.response_timeout_seconds * 1000),
        )

    async def open(self) -> None:
        """Bind (both halves in transmitter + receiver mode); raise :class:`BindFailed`."""
        kinds = ["TRX"] if self.config.bind_mode == "transceiver" else ["TX", "RX"]
        try:
            for kind in kinds:
                client = self._client(kind)
                self._clients.append(client)
                smsc = await client.connect()
                self._smscs.append(smsc)
                if kind in ("TRX", "TX"):
                    self._transmitter = smsc
                if kind in ("TRX", "RX"):
                    self._tasks += [
                        asyncio.create_task(self._pump(smsc), name=f"smpp-pump-{kind}")
                        for _ in range(PUMPS_PER_SESSION)
                    ]
                else:
                    self._tasks.append(asyncio.create_task(self._drain_tx(smsc), name="smpp-drain-TX"))
        except smpp34.SmppError as exc:
            await self.close(unbind=False)
            raise BindFailed(str(exc)) from exc
        self._tasks.append(asyncio.create_task(self._watchdog(), name="smpp-watchdog"))
        metrics.BINDS_UP.labels(self.config.name).inc()

    async def submit(self, **fields: Any) -> smpp34.SubmitSmResp:
        """One submit_sm within the window; raises ``SmppError`` / ``TimeoutError`` / ``ConnectionError``."""
        async with self.window:
            smsc = self._transmitter
            if smsc is None or self.closed.is_set():
                raise ConnectionError("session not bound")
            self.in_flight += 1
            metrics.WINDOW_IN_USE.labels(self.config.name).inc()
            try:
                return await asyncio.wait_for(smsc.submit_sm(**fields), timeout=self.config.response_timeout_seconds)
            finally:
                self.in_flight -= 1
                metrics.WINDOW_IN_USE.labels(self.config.name).dec()

    async def _pump(self, smsc: smpp34.Smsc) -> None:
        try:
            while True:
                event = await smsc.next()
                if isinstance(event, smpp34.Disconnected):
                    break
                try:
                    self._on_deliver(event)
                except Exception as exc:  # noqa: BLE001 - one bad PDU must not take the session down
                    log.warning("deliver_sm not handled", carrier=self.config.name, error=str(exc))
        finally:
            self._mark_closed()

    async def _drain_tx(self, smsc: smpp34.Smsc) -> None:
        # A transmitter gets no deliver_sm, but next() is how its end is reported.
        try:
            while not isinstance(await smsc.next(), smpp34.Disconnected):
                pass
        finally:
            self._mark_closed()

    async def _watchdog(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(self.config.enquire_link_seconds)
            for client in self._clients:
                try:
                    alive = await asyncio.wait_for(client.is_alive(), timeout=self.config.response_timeout_seconds)
                except (TimeoutError, smpp34.SmppError):
                    alive = False
                if not alive:
                    log.warning("smpp session not alive; reconnecting", carrier=self.config.name, slot=self.slot)
                    self._mark_closed()
                    return

    def _mark_closed(self) -> None:
        if not self.closed.is_set():
            if self._transmitter is not None:
                metrics.BINDS_UP.labels(self.config.name).dec()
            self.closed.set()

    async def close(self, *, unbind: bool = True) -> None:
        """Unbind gracefully (waiting for in-flight submits up to the response timeout), then stop."""
        if unbind and self._transmitter is not None and not self.closed.is_set():
            deadline = asyncio.get_running_loop().time() + self.config.response_timeout_seconds
            while self.in_flight and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - a bounded drain
                await asyncio.sleep(0.01)
            for smsc in self._smscs:
                try:
                    await asyncio.wait_for(smsc.unbind(), timeout=self.config.response_timeout_seconds)
                except Exception as exc:  # noqa: BLE001 - the peer went first: nothing left to unbind
                    log.debug("smpp unbind", carrier=self.config.name, error=str(exc))
        self._mark_closed()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        for client in self._clients:
            try:
                await asyncio.wait_for(client.stop(), timeout=self.config.response_timeout_seconds)
            except Exception as exc:  # noqa: BLE001 - already gone: nothing to release
                log.debug("smpp client stop", carrier=self.config.name, error=str(exc))
        self._clients = []
        self._smscs = []
        self._transmitter = None

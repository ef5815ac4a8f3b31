"""A tiny network carrier for tests: a real connector class over TCP, and the scripted peer it talks to.

``LineCarrier`` is a :class:`ManagedCarrier` whose transport is one line per message
(``SUBMIT <sid> <to>`` → ``OK <id>`` | ``REJECT <code> <text>`` | ``BUSY``). It connects in
the background on ``start()``, reconnects when the peer goes away, and raises
:class:`CarrierUnavailable` when it is not connected or the peer is busy — what dispatch
and the registry need to be tested against before (and besides) the SMPP connector.
Registered as connection type ``line`` through the registry's factory mechanism.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from message_exchange.carriers.base import (
    CarrierRejected,
    CarrierRuntime,
    CarrierUnavailable,
    OutboundMessage,
    SubmitResult,
)
from message_exchange.carriers.smpp.config import SmppConfig

TYPE = "line"
STARTED: list[LineCarrier] = []  # every connector the factory built, in order (tests inspect them)


class LineCarrier:
    def __init__(self, config: SmppConfig, runtime: CarrierRuntime) -> None:
        self.name = config.name
        self.config = config
        self.runtime = runtime
        self.stopped = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._io = asyncio.Lock()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_connected())

    async def stop(self) -> None:
        self.stopped = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._close()

    def is_up(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _keep_connected(self) -> None:
        while True:
            if not self.is_up():
                with contextlib.suppress(OSError):
                    reader, writer = await asyncio.open_connection(self.config.host, self.config.port)
                    writer.write(f"BIND {self.config.system_id} {self.config.password}\n".encode())
                    await writer.drain()
                    if (await reader.readline()).strip() == b"BOUND":
                        self._reader, self._writer = reader, writer
                    else:
                        writer.close()
            await asyncio.sleep(self.config.reconnect_min_seconds)

    async def submit(self, message: OutboundMessage) -> SubmitResult:
        async with self._io:
            if self._reader is None or self._writer is None or not self.is_up():
                raise CarrierUnavailable(f"{self.name} is not connected")
            try:
                self._writer.write(f"SUBMIT {message.sid} {message.to_address}\n".encode())
                await self._writer.drain()
                line = (await asyncio.wait_for(self._reader.readline(), self.config.response_timeout_seconds)).decode()
            except (OSError, TimeoutError) as exc:
                self._close()
                raise CarrierUnavailable(f"{self.name}: {exc!r}") from exc
        if not line:
            self._close()
            raise CarrierUnavailable(f"{self.name} closed the connection")
        verb, _, rest = line.strip().partition(" ")
        if verb == "OK":
            return SubmitResult(carrier_message_id=rest)
        if verb == "REJECT":
            code, _, text = rest.partition(" ")
            raise CarrierRejected(text, code=int(code))
        raise CarrierUnavailable(f"{self.name} is busy")


def build_line_carrier(config: SmppConfig, runtime: CarrierRuntime) -> LineCarrier:
    carrier = LineCarrier(config, runtime)
    STARTED.append(carrier)
    return carrier


@dataclass
class LinePeer:
    """The carrier's side: accepts binds with the right password, answers submits as scripted."""

    password: str = "secret"
    reject: dict[str, tuple[int, str]] = field(default_factory=dict)  # to → (code, text)
    busy: bool = False
    garble: bool = False  # answer "REJECT x …": the connector's int() fails (a connector bug, not a CarrierError)
    gate: asyncio.Event | None = None  # when set up: a submit is answered only once the gate opens
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set when a submit comes in
    submits: list[tuple[str, str]] = field(default_factory=list)  # (sid, to)
    binds: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self, port: int = 0) -> LinePeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            bind = (await reader.readline()).decode().split()
            if len(bind) != 3 or bind[2] != self.password:
                writer.write(b"REFUSED\n")
                return
            self.binds += 1
            writer.write(b"BOUND\n")
            await writer.drain()
            while line := (await reader.readline()).decode():
                _, sid, to = line.split()
                self.arrived.set()
                if self.gate is not None:
                    await self.gate.wait()
                if self.busy:
                    writer.write(b"BUSY\n")
                elif self.garble:
                    writer.write(b"REJECT x garbled\n")
                elif to in self.reject:
                    code, text = self.reject[to]
                    writer.write(f"REJECT {code} {text}\n".encode())
                else:
                    self.submits.append((sid, to))
                    writer.write(f"OK L{self.port}-{len(self.submits)}\n".encode())
                await writer.drain()
        except (OSError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

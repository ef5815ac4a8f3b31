"""The process's live carriers: one connector per enabled carrier connection, kept in step with the table.

One :class:`CarrierRegistry` runs per process that dispatches messages (``mx serve`` with
workers, ``mx worker``). It builds each enabled connection's connector through the factory
registered for the connection's ``type`` (``smpp`` → ``carriers/smpp/carrier.py``'s
``build_smpp_carrier``), starts it, and every ``MX_CARRIER_RELOAD_SECONDS`` re-reads the
``carrier_connections`` table: a new or re-enabled connection is started, a changed one is
replaced (the old connector stopped — unbound — first, so a bind count is never exceeded),
a disabled or removed one is stopped. Reading a handful of rows and comparing the decoded
configurations is cheaper and more robust than a version column (no missed change when
clocks of two nodes disagree). The same read refreshes an in-memory copy of the routes, so
dispatch resolves routes without a query per message (:meth:`CarrierRegistry.routes_for`);
a route change applies within the same few seconds. Each reload also publishes which
carriers are up here (``carrier_presence``, valid for three reload periods) and learns which
are up on other nodes, so dispatch steers a message only to a carrier that is really up
somewhere (:meth:`CarrierRegistry.up_elsewhere`). :meth:`CarrierRegistry.stop` stops every
connector and withdraws this node's presence.

Dispatch finds the running registry with :func:`current` (one per process, so a module
global); without one (a process that runs no workers) every configured carrier counts as
unavailable and only the sandbox can take messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.carriers import service
from message_exchange.carriers.base import CarrierRuntime, ManagedCarrier
from message_exchange.carriers.models import CarrierConnection
from message_exchange.carriers.repository import PresenceRepository
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.logging import get_logger
from message_exchange.core.metrics import CARRIER_RUNNING, CARRIER_UP
from message_exchange.db.base import utcnow
from message_exchange.jobs import service as jobs_service

log = get_logger("mx.carriers.registry")

CarrierFactory = Callable[[SmppConfig, CarrierRuntime], ManagedCarrier]


def _build_smpp(config: SmppConfig, runtime: CarrierRuntime) -> ManagedCarrier:
    # Imported on first use: a process with no SMPP connection never loads the SMPP stack.
    module = importlib.import_module("message_exchange.carriers.smpp.carrier")
    build = cast(CarrierFactory, module.build_smpp_carrier)
    return build(config, runtime)


_FACTORIES: dict[str, CarrierFactory] = {"smpp": _build_smpp}


def register_carrier_type(type_name: str, factory: CarrierFactory) -> None:
    """Let connections of ``type_name`` be created and run with ``factory`` (config, runtime) → connector."""
    _FACTORIES[type_name] = factory
    service.KNOWN_TYPES.add(type_name)


def unregister_carrier_type(type_name: str) -> None:
    if type_name != "smpp":
        _FACTORIES.pop(type_name, None)
        service.KNOWN_TYPES.discard(type_name)


def carrier_queue(name: str) -> str:
    """The job queue of the workers in whose process carrier ``name`` is up."""
    return f"carrier:{name}"


def node_id() -> str:
    """``host:pid:random``: unique per process start."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class _Running:
    type: str
    config: SmppConfig
    carrier: ManagedCarrier


# The running registry of this process (a list, so no ``global`` statement is needed).
_current: list[CarrierRegistry] = []


def current() -> CarrierRegistry | None:
    """The running registry of this process, if any."""
    return _current[-1] if _current else None


class CarrierRegistry:
    """Live connectors by connection name; see the module docstring."""

    def __init__(self, runtime: CarrierRuntime, *, reload_seconds: float | None = None) -> None:
        self.runtime = runtime
        self.reload_seconds = reload_seconds or runtime.settings.carrier_reload_seconds
        self._running: dict[str, _Running] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # Routing from memory: dispatch reads no routing table per message (refreshed with each reload).
        self._rules: list[service.RouteRule] = []
        self._connections_exist = False
        self._up_elsewhere: set[str] = set()

    def get(self, name: str) -> ManagedCarrier | None:
        running = self._running.get(name)
        return running.carrier if running is not None else None

    def routes_for(self, channel: str, to_address: str) -> list[str]:
        """:func:`~message_exchange.carriers.service.routes_for` as of the last reload."""
        return service.resolve(self._rules, self._connections_exist, channel, to_address)

    def up_elsewhere(self, name: str) -> bool:
        """Whether another live node said at its last reload that carrier ``name`` is up there."""
        return name in self._up_elsewhere

    def names(self) -> list[str]:
        return sorted(self._running)

    def served_queues(self) -> list[str]:
        """The job queues of the carriers up in this process: dispatch steers a message there
        when its carrier is up on another node only (fewer binds than worker processes)."""
        return [carrier_queue(name) for name, entry in self._running.items() if entry.carrier.is_up()]

    async def start(self) -> None:
        """Start every enabled connection's connector, then follow the table in the background."""
        if self._task is not None:
            raise RuntimeError("carrier registry already started")
        try:
            await self.reload()
        except Exception:
            log.exception("loading carrier connections failed; retrying in the background")
        self._task = asyncio.create_task(self._follow(), name="mx-carrier-registry")
        _current.append(self)
        jobs_service.add_queue_source(self.served_queues)

    async def stop(self) -> None:
        """Stop following the table and stop (unbind) every connector."""
        jobs_service.remove_queue_source(self.served_queues)
        if self in _current:
            _current.remove(self)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        async with self._lock:
            running, self._running = self._running, {}
            await asyncio.gather(*(self._stop_one(name, entry) for name, entry in running.items()))
        try:
            await self._publish_presence()
        except Exception:
            log.exception("withdrawing carrier presence failed; it runs out on its own")

    async def reload(self) -> None:
        """Bring the running connectors in line with the table now."""
        async with self._lock:
            async with self.runtime.session_factory() as session, session.begin():
                rows = await service.all_connections(session)
                self._rules, self._connections_exist = await service.routing_snapshot(session)
            wanted = self._wanted(rows)
            for name in [name for name in self._running if name not in wanted]:
                await self._stop_one(name, self._running.pop(name))
            for name, (type_name, config) in wanted.items():
                entry = self._running.get(name)
                if entry is not None and entry.type == type_name and entry.config == config:
                    continue
                if entry is not None:
                    log.info("carrier connection changed; restarting its connector", carrier=name)
                    await self._stop_one(name, self._running.pop(name))
                await self._start_one(name, type_name, config)
            self._update_gauges()
            await self._publish_presence()

    async def _publish_presence(self) -> None:
        running = {name: entry.carrier.is_up() for name, entry in self._running.items()}
        now = utcnow()
        async with self.runtime.session_factory() as session, session.begin():
            presence = PresenceRepository(session)
            # Published rows outlive a missed reload or two, but not a dead node for long.
            until = now + timedelta(seconds=3 * self.reload_seconds)
            await presence.publish(self.runtime.node_id, running, now=now, until=until)
            self._up_elsewhere = await presence.up_elsewhere(self.runtime.node_id, now)

    def _wanted(self, rows: list[CarrierConnection]) -> dict[str, tuple[str, SmppConfig]]:
        wanted: dict[str, tuple[str, SmppConfig]] = {}
        for row in rows:
            if not row.enabled:
                continue
            if row.type not in _FACTORIES:
                log.error("carrier connection has an unknown type; not started", carrier=row.name, type=row.type)
                continue
            try:
                wanted[row.name] = (row.type, service.to_smpp_config(row, self.runtime.secret_box))
            except ValueError:
                log.error("carrier password cannot be decrypted with MX_SECRET_KEY; not started", carrier=row.name)
        return wanted

    async def _start_one(self, name: str, type_name: str, config: SmppConfig) -> None:
        try:
            carrier = _FACTORIES[type_name](config, self.runtime)
            await carrier.start()
        except Exception:
            # Not recorded as running: the next reload tries again.
            log.exception("starting a carrier connector failed", carrier=name, type=type_name)
            return
        self._running[name] = _Running(type_name, config, carrier)
        CARRIER_RUNNING.labels(name).set(1)
        log.info("carrier connector started", carrier=name, type=type_name, host=config.host, port=config.port)

    async def _stop_one(self, name: str, entry: _Running) -> None:
        try:
            await entry.carrier.stop()
        except Exception:
            log.exception("stopping a carrier connector failed", carrier=name)
        CARRIER_RUNNING.labels(name).set(0)
        CARRIER_UP.labels(name).set(0)
        log.info("carrier connector stopped", carrier=name)

    def _update_gauges(self) -> None:
        for name, entry in self._running.items():
            with contextlib.suppress(Exception):
                CARRIER_UP.labels(name).set(1 if entry.carrier.is_up() else 0)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.reload_seconds)
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reloading carrier connections failed; keeping the running ones")


async def start_registry(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], secret_box: SecretBox | None = None
) -> CarrierRegistry:
    """Build and start this process's registry (``mx serve`` with workers, ``mx worker``)."""
    runtime = CarrierRuntime(
        settings=settings,
        session_factory=session_factory,
        secret_box=secret_box or SecretBox(settings.fernet_key),
        node_id=node_id(),
    )
    registry = CarrierRegistry(runtime)
    await registry.start()
    return registry

"""Bind slots shared by every node: a carrier's ``binds`` is a cluster-wide limit.

Slot ``0 … binds-1`` of a carrier is a row in ``smpp_bind_leases`` held by one process
until ``lease_until``. Each process tries every slot every third of
``bind_lease_seconds``: a slot that is free, expired or already its own becomes (or stays)
its own — one conditional UPDATE, so two nodes can never both win a slot. A node that dies
stops renewing and its slots are taken after the lease runs out. A node that cannot reach
the database for a whole lease gives its slots up (unbinds) rather than risk exceeding
``binds`` once another node takes them over.

Fair share. A node holds at most ``ceil(binds / nodes)`` slots, ``nodes`` being the live
nodes that run the carrier (``carrier_presence``, which every node's carrier registry
publishes, bound or not — itself counted even before its first row). Without it the first
node to start would take every slot and the others could only steer messages to it. When a
node joins, a node above its share stops renewing its highest slots at its next round and
unbinds their sessions; the newcomer takes them once their leases run out (so the two are
never bound on one slot at once); when a node dies, its row runs out,
the share grows and the others take its slots once their leases expire.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.carriers.repository import PresenceRepository
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.carriers.smpp.repository import SmppRepository
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow

log = get_logger("mx.smpp.leases")


class SlotLeases:
    def __init__(
        self,
        config: SmppConfig,
        session_factory: async_sessionmaker[AsyncSession],
        holder: str,
        on_change: Callable[[frozenset[int]], None],
        *,
        node: str | None = None,
    ) -> None:
        self.config = config
        self.holder = holder
        self.node = node  # this process in carrier_presence; None: no fair share (take what is free)
        self._sessions = session_factory
        self._on_change = on_change
        self.held: frozenset[int] = frozenset()
        self._task: asyncio.Task[None] | None = None
        self._last_ok = time.monotonic()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"smpp-leases-{self.config.name}")

    async def stop(self, *, release: bool) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if release:
            await self.release_all()

    async def release_all(self) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await SmppRepository(session, self.config.name).release_leases(self.holder)
        except Exception as exc:  # noqa: BLE001 - they expire on their own
            log.warning("bind slots not released", carrier=self.config.name, error=str(exc))
        self.held = frozenset()

    async def renew(self) -> frozenset[int]:
        """One round: keep our slots and take free ones up to our fair share; the slots held now."""
        now = utcnow()
        until = now + timedelta(seconds=self.config.bind_lease_seconds)
        held: set[int] = set()
        async with self._sessions() as session, session.begin():
            repo = SmppRepository(session, self.config.name)
            share = await self._share(session, now)
            # Our own slots first (the lowest), so a round never drops below the share it may keep.
            for slot in sorted(range(self.config.binds), key=lambda s: (s not in self.held, s)):
                if len(held) >= share:
                    break
                if await repo.try_lease(slot, self.holder, now, until):
                    held.add(slot)
        dropped = sorted(self.held - held)
        if dropped and len(held) == share:
            # Not renewed, not deleted: this node unbinds them now (on_change), and another
            # node can take them only once their lease runs out — after that unbind.
            log.info("leaving bind slots to other nodes", carrier=self.config.name, slots=dropped, share=share)
        return frozenset(held)

    async def _share(self, session: AsyncSession, now: datetime) -> int:
        if self.node is None:
            return self.config.binds
        others = await PresenceRepository(session).nodes_running(self.config.name, now) - {self.node}
        return math.ceil(self.config.binds / (len(others) + 1))

    async def _run(self) -> None:
        interval = self.config.bind_lease_seconds / 3
        while True:
            try:
                # Shielded: stop() cancels this task, and a renewal cut off inside its
                # transaction would leave SQLite's write lock to the garbage collector.
                held = await asyncio.shield(self.renew())
                self._last_ok = time.monotonic()
            except Exception as exc:  # noqa: BLE001
                log.warning("bind slot leases not renewed", carrier=self.config.name, error=str(exc))
                held = (
                    self.held
                    if time.monotonic() - self._last_ok < self.config.bind_lease_seconds * 0.9
                    else frozenset()
                )
            if held != self.held:
                log.info("bind slots", carrier=self.config.name, holder=self.holder, slots=sorted(held))
                self.held = held
                self._on_change(held)
            await asyncio.sleep(interval)

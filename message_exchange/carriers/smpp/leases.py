"""Bind slots shared by every node: a carrier's ``binds`` is a cluster-wide limit.

Slot ``0 … binds-1`` of a carrier is a row in ``smpp_bind_leases`` held by one process
until ``lease_until``. Each process tries every slot every third of
``bind_lease_seconds``: a slot that is free, expired or already its own becomes (or stays)
its own — one conditional UPDATE, so two nodes can never both win a slot. A node that dies
stops renewing and its slots are taken after the lease runs out. A node that cannot reach
the database for a whole lease gives its slots up (unbinds) rather than risk exceeding
``binds`` once another node takes them over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
    ) -> None:
        self.config = config
        self.holder = holder
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
        """One round: keep or take every slot we can; the slots held now."""
        now = utcnow()
        until = now + timedelta(seconds=self.config.bind_lease_seconds)
        held: set[int] = set()
        async with self._sessions() as session, session.begin():
            repo = SmppRepository(session, self.config.name)
            for slot in range(self.config.binds):
                if await repo.try_lease(slot, self.holder, now, until):
                    held.add(slot)
        return frozenset(held)

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

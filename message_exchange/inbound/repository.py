"""All SQL of the inbound domain."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.inbound.models import InboundReceipt, OptOut
from message_exchange.messages.models import Message


class InboundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(self, receipt: InboundReceipt, message: Message) -> bool:
        """Insert the receipt and its message; False (nothing written) if the receipt exists.

        Runs in a savepoint so a duplicate — even one committed by a concurrent transaction
        a moment ago (PostgreSQL waits on the unique key, then fails) — leaves the caller's
        transaction usable.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(receipt)
                self.session.add(message)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def is_opted_out(self, subscriber: str, phone_number: str) -> bool:
        query = select(OptOut.subscriber).where(OptOut.subscriber == subscriber, OptOut.phone_number == phone_number)
        return (await self.session.execute(query)).first() is not None

    async def opted_out_pairs(self, pairs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (subscriber, phone number) ``pairs`` that are blocked (one query)."""
        if not pairs:
            return set()
        query = select(OptOut.subscriber, OptOut.phone_number).where(
            tuple_(OptOut.subscriber, OptOut.phone_number).in_(sorted(pairs))
        )
        return {(row.subscriber, row.phone_number) for row in await self.session.execute(query)}

    async def add_opt_out(self, subscriber: str, phone_number: str, now: datetime) -> None:
        """Record the block; already blocked (or blocked concurrently) is fine."""
        if await self.is_opted_out(subscriber, phone_number):
            return
        try:
            async with self.session.begin_nested():
                self.session.add(OptOut(subscriber=subscriber, phone_number=phone_number, created_at=now))
                await self.session.flush()
        except IntegrityError:
            pass

    async def remove_opt_out(self, subscriber: str, phone_number: str) -> None:
        await self.session.execute(
            delete(OptOut).where(OptOut.subscriber == subscriber, OptOut.phone_number == phone_number)
        )

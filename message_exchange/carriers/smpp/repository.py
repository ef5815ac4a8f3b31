"""SQL of the SMPP connector's tables (see :mod:`.models`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers.smpp.models import SmppBindLease, SmppMoPart, SmppParkedReceipt, SmppPart
from message_exchange.carriers.smpp.receipts import id_forms
from message_exchange.db.engine import on_postgres

_parts = cast(Table, SmppPart.__table__)
_mo_parts = cast(Table, SmppMoPart.__table__)
_leases = cast(Table, SmppBindLease.__table__)
_parked = cast(Table, SmppParkedReceipt.__table__)


def _insert(session: AsyncSession, table: Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_*`` on both SQLite and PostgreSQL."""
    if on_postgres(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class SentPart:
    message_sid: str
    part_index: int
    total_parts: int
    carrier_message_id: str
    sent_at: datetime


class SmppRepository:
    def __init__(self, session: AsyncSession, carrier: str) -> None:
        self.session = session
        self.carrier = carrier

    # ── parts ──────────────────────────────────────────────────────────────────────────
    async def sent_ids(self, message_sids: Sequence[str]) -> dict[str, dict[int, str]]:
        """message sid → {part index → carrier id} of its parts recorded ``sent``."""
        query = select(SmppPart.message_sid, SmppPart.part_index, SmppPart.carrier_message_id).where(
            SmppPart.carrier == self.carrier,
            SmppPart.message_sid.in_(list(message_sids)),
            SmppPart.state == "sent",
        )
        found: dict[str, dict[int, str]] = {}
        for sid, index, carrier_id in (await self.session.execute(query)).all():
            if carrier_id:
                found.setdefault(sid, {})[index] = carrier_id
        return found

    async def record_sending(self, rows: Sequence[tuple[str, int, int, datetime]]) -> None:
        """(message_sid, part_index, total, at): a part goes out; count the attempt, never un-send it."""
        if not rows:
            return
        statement = _insert(self.session, _parts)
        statement = statement.on_conflict_do_update(
            index_elements=["message_sid", "carrier", "part_index"],
            set_={"attempts": _parts.c.attempts + 1},
        )
        values = [
            {
                "message_sid": sid,
                "carrier": self.carrier,
                "part_index": index,
                "total_parts": total,
                "state": "sending",
                "attempts": 1,
                "submitted_at": at,
            }
            for sid, index, total, at in rows
        ]
        await self.session.execute(statement, values)

    async def record_sent(self, parts: Sequence[SentPart]) -> None:
        if not parts:
            return
        statement = _insert(self.session, _parts)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["message_sid", "carrier", "part_index"],
            set_={
                "state": "sent",
                "carrier_message_id": excluded.carrier_message_id,
                "id_hex": excluded.id_hex,
                "id_dec": excluded.id_dec,
                "sent_at": excluded.sent_at,
                "command_status": 0,
            },
        )
        values = []
        for part in parts:
            as_hex, as_dec = id_forms(part.carrier_message_id)
            values.append(
                {
                    "message_sid": part.message_sid,
                    "carrier": self.carrier,
                    "part_index": part.part_index,
                    "total_parts": part.total_parts,
                    "state": "sent",
                    "attempts": 1,
                    "carrier_message_id": part.carrier_message_id,
                    "id_hex": as_hex,
                    "id_dec": as_dec,
                    "command_status": 0,
                    "submitted_at": part.sent_at,
                    "sent_at": part.sent_at,
                }
            )
        await self.session.execute(statement, values)

    async def record_refused(self, message_sid: str, part_index: int, command_status: int) -> None:
        await self.session.execute(
            update(SmppPart)
            .where(
                SmppPart.message_sid == message_sid,
                SmppPart.carrier == self.carrier,
                SmppPart.part_index == part_index,
                SmppPart.state != "sent",
            )
            .values(state="failed", command_status=command_status)
        )

    async def parts_by_id_forms(self, carrier_message_ids: Sequence[str]) -> dict[str, SmppPart]:
        """Parts the ids name in another form — the same number in the other base, or padded —
        locked (in key order), by the id asked for; one query for them all."""
        forms = {carrier_id: id_forms(carrier_id) for carrier_id in set(carrier_message_ids)}
        hexes = {as_hex for as_hex, _ in forms.values() if as_hex is not None}
        numbers = hexes | {as_dec for _, as_dec in forms.values() if as_dec is not None}
        if not numbers:
            return {}
        query = (
            select(SmppPart)
            .where(
                SmppPart.carrier == self.carrier,
                or_(SmppPart.id_hex.in_(sorted(numbers)), SmppPart.id_dec.in_(sorted(hexes))),
            )
            .order_by(SmppPart.message_sid, SmppPart.part_index)
            .with_for_update()
        )
        by_hex: dict[str, SmppPart] = {}
        by_dec: dict[str, SmppPart] = {}
        for part in (await self.session.execute(query)).scalars():
            if part.id_hex is not None:
                by_hex.setdefault(part.id_hex, part)
            if part.id_dec is not None:
                by_dec.setdefault(part.id_dec, part)
        found: dict[str, SmppPart] = {}
        for carrier_id, (as_hex, as_dec) in forms.items():
            # A receipt's id read as hex against the part's id in either base, or read as
            # decimal against the part's id read as hex (see ``receipts.id_forms``).
            match = (by_hex.get(as_hex) or by_dec.get(as_hex)) if as_hex is not None else None
            if match is None and as_dec is not None:
                match = by_hex.get(as_dec)
            if match is not None:
                found[carrier_id] = match
        return found

    async def parts_by_ids(self, carrier_message_ids: Sequence[str]) -> dict[str, SmppPart]:
        """Parts by their exact carrier id, locked (in key order)."""
        query = (
            select(SmppPart)
            .where(SmppPart.carrier == self.carrier, SmppPart.carrier_message_id.in_(list(set(carrier_message_ids))))
            .order_by(SmppPart.message_sid, SmppPart.part_index)
            .with_for_update()
        )
        return {part.carrier_message_id or "": part for part in (await self.session.execute(query)).scalars()}

    async def parts_of_messages(self, message_sids: Sequence[str]) -> dict[str, list[SmppPart]]:
        query = select(SmppPart).where(SmppPart.carrier == self.carrier, SmppPart.message_sid.in_(list(message_sids)))
        found: dict[str, list[SmppPart]] = {}
        for part in (await self.session.execute(query)).scalars():
            found.setdefault(part.message_sid, []).append(part)
        return found

    # ── parked receipts ────────────────────────────────────────────────────────────────
    async def park_many(self, receipts: Sequence[tuple[str, str, str | None, datetime]]) -> None:
        """Keep receipts (carrier id, state, error, received at) until their part is known."""
        if not receipts:
            return
        rows = []
        for carrier_message_id, state, error, at in receipts:
            as_hex, as_dec = id_forms(carrier_message_id)
            rows.append(
                {
                    "carrier": self.carrier,
                    "carrier_message_id": carrier_message_id,
                    "id_hex": as_hex,
                    "id_dec": as_dec,
                    "state": state,
                    "error": error,
                    "received_at": at,
                }
            )
        await self.session.execute(insert(_parked), rows)

    async def parked_with_parts(self, limit: int = 500) -> list[SmppParkedReceipt]:
        """Parked receipts whose part is now recorded (in any id form), oldest first."""
        part = select(SmppPart.message_sid).where(
            SmppPart.carrier == self.carrier,
            or_(
                SmppPart.carrier_message_id == SmppParkedReceipt.carrier_message_id,
                and_(SmppParkedReceipt.id_hex.is_not(None), SmppPart.id_hex == SmppParkedReceipt.id_hex),
                and_(SmppParkedReceipt.id_hex.is_not(None), SmppPart.id_dec == SmppParkedReceipt.id_hex),
                and_(SmppParkedReceipt.id_dec.is_not(None), SmppPart.id_hex == SmppParkedReceipt.id_dec),
            ),
        )
        query = (
            select(SmppParkedReceipt)
            .where(SmppParkedReceipt.carrier == self.carrier, part.exists())
            .order_by(SmppParkedReceipt.id)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def unpark(self, receipt_ids: Sequence[int]) -> None:
        if receipt_ids:
            await self.session.execute(delete(_parked).where(_parked.c.id.in_(list(receipt_ids))))

    async def count_parked(self) -> int:
        query = select(func.count()).select_from(SmppParkedReceipt).where(SmppParkedReceipt.carrier == self.carrier)
        return int((await self.session.execute(query)).scalar_one())

    # ── MO reassembly ──────────────────────────────────────────────────────────────────
    async def add_mo_part(self, values: dict[str, Any]) -> None:
        """Store one part; a repeated part (same position of the same message) is ignored."""
        statement = _insert(self.session, _mo_parts).on_conflict_do_nothing()
        await self.session.execute(statement, [{"carrier": self.carrier, **values}])

    async def mo_group(self, source: str, destination: str, ref: int, total: int) -> list[SmppMoPart]:
        query = (
            select(SmppMoPart)
            .where(
                SmppMoPart.carrier == self.carrier,
                SmppMoPart.source_addr == source,
                SmppMoPart.destination_addr == destination,
                SmppMoPart.ref == ref,
                SmppMoPart.total == total,
            )
            .order_by(SmppMoPart.seq)
            .with_for_update()
        )
        return list((await self.session.execute(query)).scalars())

    async def delete_mo_parts(self, ids: Sequence[int]) -> None:
        await self.session.execute(delete(SmppMoPart).where(SmppMoPart.id.in_(list(ids))))

    async def stale_mo_groups(self, before: datetime) -> list[tuple[str, str, int, int]]:
        query = (
            select(SmppMoPart.source_addr, SmppMoPart.destination_addr, SmppMoPart.ref, SmppMoPart.total)
            .where(SmppMoPart.carrier == self.carrier)
            .group_by(SmppMoPart.source_addr, SmppMoPart.destination_addr, SmppMoPart.ref, SmppMoPart.total)
            .having(func.min(SmppMoPart.received_at) < before)
        )
        return [(row[0], row[1], row[2], row[3]) for row in (await self.session.execute(query)).all()]

    # ── bind slot leases ───────────────────────────────────────────────────────────────
    async def try_lease(self, slot: int, holder: str, now: datetime, until: datetime) -> bool:
        """Take slot ``slot`` if it is free, expired, or ours already; True when we hold it."""
        statement = _insert(self.session, _leases).on_conflict_do_nothing()
        await self.session.execute(
            statement,
            [{"carrier": self.carrier, "slot": slot, "holder": holder, "lease_until": until, "acquired_at": now}],
        )
        result = await self.session.execute(
            update(SmppBindLease)
            .where(
                SmppBindLease.carrier == self.carrier,
                SmppBindLease.slot == slot,
                or_(SmppBindLease.holder == holder, SmppBindLease.lease_until < now),
            )
            .values(holder=holder, lease_until=until)
            .returning(SmppBindLease.slot)
        )
        return result.first() is not None

    async def release_leases(self, holder: str, slots: Sequence[int] | None = None) -> None:
        query = delete(SmppBindLease).where(SmppBindLease.carrier == self.carrier, SmppBindLease.holder == holder)
        if slots is not None:
            query = query.where(SmppBindLease.slot.in_(list(slots)))
        await self.session.execute(query)

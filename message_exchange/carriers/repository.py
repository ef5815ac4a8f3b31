"""All SQL about carrier connections and carrier routes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers.models import CarrierConnection, CarrierPresence, CarrierRoute


class ConnectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, sid: str) -> CarrierConnection | None:
        return await self.session.get(CarrierConnection, sid)

    async def get_by_name(self, name: str) -> CarrierConnection | None:
        query = select(CarrierConnection).where(CarrierConnection.name == name)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add(self, connection: CarrierConnection) -> None:
        self.session.add(connection)
        await self.session.flush()

    async def delete(self, connection: CarrierConnection) -> None:
        await self.session.delete(connection)
        await self.session.flush()

    async def count(self) -> int:
        query = select(func.count()).select_from(CarrierConnection)
        return int((await self.session.execute(query)).scalar_one())

    async def page(self, *, offset: int, limit: int) -> list[CarrierConnection]:
        query = select(CarrierConnection).order_by(CarrierConnection.name).offset(offset).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def all(self) -> list[CarrierConnection]:
        query = select(CarrierConnection).order_by(CarrierConnection.name)
        return list((await self.session.execute(query)).scalars())

    async def any_exists(self) -> bool:
        query = select(CarrierConnection.sid).limit(1)
        return (await self.session.execute(query)).first() is not None


class PresenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def publish(self, node: str, running: Mapping[str, bool], *, now: datetime, until: datetime) -> None:
        """Replace ``node``'s rows with the carriers it runs (name → bound now), valid until
        ``until``; drop everyone's expired rows."""
        stale = or_(CarrierPresence.node == node, CarrierPresence.up_until <= now)
        await self.session.execute(delete(CarrierPresence).where(stale))
        rows = [{"carrier": name, "node": node, "up_until": until, "bound": running[name]} for name in sorted(running)]
        if rows:
            await self.session.execute(insert(CarrierPresence), rows)

    async def up_elsewhere(self, node: str, now: datetime) -> set[str]:
        """Carriers some other live node says are up (bound) there."""
        query = (
            select(CarrierPresence.carrier)
            .where(CarrierPresence.node != node, CarrierPresence.up_until > now, CarrierPresence.bound.is_(True))
            .distinct()
        )
        return set((await self.session.execute(query)).scalars())

    async def nodes_running(self, carrier: str, now: datetime) -> set[str]:
        """The live nodes that run ``carrier``, bound or not."""
        query = select(CarrierPresence.node).where(CarrierPresence.carrier == carrier, CarrierPresence.up_until > now)
        return set((await self.session.execute(query)).scalars())


class RouteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, sid: str) -> CarrierRoute | None:
        return await self.session.get(CarrierRoute, sid)

    async def find(self, channel: str, prefix: str, carrier: str) -> CarrierRoute | None:
        query = select(CarrierRoute).where(
            CarrierRoute.channel == channel, CarrierRoute.prefix == prefix, CarrierRoute.carrier == carrier
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add(self, route: CarrierRoute) -> None:
        self.session.add(route)
        await self.session.flush()

    async def delete(self, route: CarrierRoute) -> None:
        await self.session.delete(route)
        await self.session.flush()

    async def count(self, carrier: str | None = None) -> int:
        query = select(func.count()).select_from(CarrierRoute)
        if carrier is not None:
            query = query.where(CarrierRoute.carrier == carrier)
        return int((await self.session.execute(query)).scalar_one())

    async def page(self, *, offset: int, limit: int) -> list[CarrierRoute]:
        query = (
            select(CarrierRoute)
            .order_by(CarrierRoute.channel, CarrierRoute.prefix, CarrierRoute.priority, CarrierRoute.carrier)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def all(self) -> list[CarrierRoute]:
        return list((await self.session.execute(select(CarrierRoute))).scalars())

    async def candidates(self, channel: str, prefixes: list[str]) -> list[CarrierRoute]:
        """Routes of ``channel`` (or ``*``) whose prefix is one of ``prefixes`` (the number's own prefixes)."""
        query = select(CarrierRoute).where(CarrierRoute.channel.in_((channel, "*")), CarrierRoute.prefix.in_(prefixes))
        return list((await self.session.execute(query)).scalars())

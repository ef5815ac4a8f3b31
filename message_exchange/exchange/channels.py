"""Chat channels (Webex, Teams) plugged into the shared exchange.

A channel registers itself once (at import) with :func:`register_channel`. The exchange
then:

- offers every inbound SMS/MMS to the channels first (:func:`route_inbound`, hooked into
  the inbound router): a channel that has a live mapping for the number takes it, and the
  number's own SmsUrl is not called;
- tells the channel when an SMS/MMS its user sent was not delivered
  (:mod:`message_exchange.exchange.delivery`), so the user sees it in the chat.

A channel marks the SMS/MMS it sends with ``created_via = <channel name>``.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.config import Settings
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.inbound import service as inbound
from message_exchange.messages.models import Message


class ChatChannel(Protocol):
    name: str

    async def route_inbound(self, session: AsyncSession, message: Message, settings: Settings) -> bool:
        """Take ``message`` (an inbound SMS/MMS, stored) if one of this channel's mappings owns its number."""
        ...

    async def report_failure(self, session: AsyncSession, record: ExchangeMessage, settings: Settings) -> None:
        """Show the chat user that their message ``record`` was not delivered (called once per record)."""
        ...


_CHANNELS: dict[str, ChatChannel] = {}


def register_channel(channel: ChatChannel) -> None:
    _CHANNELS[channel.name] = channel


def channel(name: str) -> ChatChannel | None:
    return _CHANNELS.get(name)


def channel_names() -> frozenset[str]:
    return frozenset(_CHANNELS)


async def route_inbound(session: AsyncSession, message: Message, settings: Settings) -> bool:
    for candidate in list(_CHANNELS.values()):
        if await candidate.route_inbound(session, message, settings):
            return True
    return False


inbound.add_route(route_inbound)

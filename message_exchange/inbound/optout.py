"""Opt-out keywords (Twilio's standard set) and the send-time check.

A single-word inbound body, trimmed and case-insensitive:

- ``STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT`` → block the pair (that subscriber,
  our number): later sends from our number to the subscriber → 400, code 21610;
- ``START, YES, UNSTOP`` → lift the block;
- ``HELP, INFO`` → auto reply with ``MX_HELP_REPLY``.

The inbound message itself is stored and delivered to the number's SmsUrl either way.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.core.errors import BadRequest
from message_exchange.inbound.repository import InboundRepository

UNSUBSCRIBED_RECIPIENT = 21610

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


def keyword_of(body: str) -> Keyword | None:
    """The opt-out keyword ``body`` is, if it is exactly one (``" stop "`` is; ``"stop it"`` is not)."""
    word = body.strip().upper()
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


def unsubscribed(sender: str, recipient: str, *, param: str) -> BadRequest:
    """The 400 / 21610 a send from ``sender`` to an opted-out ``recipient`` gets."""
    return BadRequest(
        f"Attempt to send to unsubscribed recipient {recipient}: it replied STOP to {sender}",
        param=param,
        code=UNSUBSCRIBED_RECIPIENT,
    )


async def ensure_not_opted_out(session: AsyncSession, sender: str, recipient: str, *, param: str) -> None:
    """400 / 21610 when ``recipient`` sent STOP to our number ``sender`` and not START since."""
    if await InboundRepository(session).is_opted_out(recipient, sender):
        raise unsubscribed(sender, recipient, param=param)

"""The message status machine.

Outbound: ``queued → sending → sent → delivered | undelivered``, or ``failed`` from any
non-final state. Inbound messages are ``received`` and never change. Events from carriers
arrive out of order (a receipt before its submit response, a retried callback): a status
only ever moves forward, so a late ``sent`` after ``delivered`` is ignored and a
``delivered`` that overtakes ``sent`` is taken as is. Final states never change.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    RECEIVED = "received"


_RANK: dict[MessageStatus, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.RECEIVED: 3,
}

FINAL = frozenset(status for status, rank in _RANK.items() if rank == 3)
# What a status callback may report (the document's MessageStatus values).
CALLBACK_STATUSES = frozenset(
    {
        MessageStatus.SENDING,
        MessageStatus.SENT,
        MessageStatus.FAILED,
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
    }
)


def advance(current: MessageStatus, event: MessageStatus) -> MessageStatus | None:
    """The new status if ``event`` moves ``current`` forward, else None (ignore the event)."""
    if current in FINAL or event is MessageStatus.RECEIVED or event is MessageStatus.QUEUED:
        return None
    return event if _RANK[event] > _RANK[current] else None


def is_final(status: MessageStatus) -> bool:
    return status in FINAL

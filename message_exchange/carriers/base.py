"""The carrier connector protocol.

Core code talks to every carrier (sandbox, SMPP, HTTP) through :class:`Carrier`. A
connector converts its transport's failures into :class:`CarrierError` subclasses:

::

    CarrierError
     ├── CarrierRejected      permanent: the message will never be accepted → failed
     └── CarrierUnavailable   transient: try again later (or another route)

Submission is keyed by the message sid; connectors whose peer takes an idempotency key
pass it, so a resubmission after a crash never produces a duplicate there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class MediaItem:
    url: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    sid: str
    account_sid: str
    channel: str  # "sms" | "mms"
    from_address: str  # E.164 number or alphanumeric sender id
    to_address: str  # E.164 number
    body: str
    media: tuple[MediaItem, ...] = field(default=())
    num_segments: int = 1


@dataclass(frozen=True, slots=True)
class SubmitResult:
    carrier_message_id: str


class CarrierError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class CarrierRejected(CarrierError):
    """The carrier refused the message for good (bad number, content, account)."""


class CarrierUnavailable(CarrierError):
    """The carrier could not take the message now (down, throttled, timeout)."""


@runtime_checkable
class Carrier(Protocol):
    name: str

    async def submit(self, message: OutboundMessage) -> SubmitResult:
        """Hand ``message`` to the carrier; raise CarrierRejected / CarrierUnavailable."""
        ...

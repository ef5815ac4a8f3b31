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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from message_exchange.config import Settings
    from message_exchange.core.crypto import SecretBox


@dataclass(frozen=True, slots=True)
class MediaItem:
    url: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitOptions:
    """How a message asks to be submitted, beyond its text (the Messaging API's ``type`` / ``extras``).

    Stored with the message (``messages.options``, :meth:`to_stored`; NULL when all are
    default). A connector applies what its transport can express and ignores the rest:

    - ``flash``: display at once, not stored (SMS message class 0);
    - ``binary``: ``body`` is the payload in hexadecimal, sent as 8-bit data;
    - ``encoding`` ``"ucs2"``: send UCS-2 even when the text fits GSM-7;
    - ``dlt_template_id``: the India DLT content template id (TRAI TCCCPR).
    """

    flash: bool = False
    binary: bool = False
    encoding: Literal["ucs2"] | None = None
    dlt_template_id: str | None = None

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> SubmitOptions:
        """The options a message row holds (``None`` or ``{}``: the defaults)."""
        if not stored:
            return DEFAULT_OPTIONS
        dlt = stored.get("dlt_template_id")
        return cls(
            flash=stored.get("flash") is True,
            binary=stored.get("binary") is True,
            encoding="ucs2" if stored.get("encoding") == "ucs2" else None,
            dlt_template_id=str(dlt) if dlt not in (None, "") else None,
        )

    def to_stored(self) -> dict[str, Any] | None:
        """The JSON a message row keeps: only the options set; ``None`` when none is."""
        stored: dict[str, Any] = {}
        if self.flash:
            stored["flash"] = True
        if self.binary:
            stored["binary"] = True
        if self.encoding is not None:
            stored["encoding"] = self.encoding
        if self.dlt_template_id is not None:
            stored["dlt_template_id"] = self.dlt_template_id
        return stored or None


DEFAULT_OPTIONS = SubmitOptions()


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
    options: SubmitOptions = DEFAULT_OPTIONS


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


@runtime_checkable
class ManagedCarrier(Carrier, Protocol):
    """A carrier with a live connection the process keeps up (an SMPP bind, a pool …).

    The :class:`~message_exchange.carriers.registry.CarrierRegistry` builds one per enabled
    carrier connection, calls :meth:`start` once, and :meth:`stop` when the connection is
    removed, disabled, changed (a new one replaces it) or the process shuts down.
    ``submit`` on a carrier that is not up raises :class:`CarrierUnavailable`, so dispatch
    fails over to the next route.
    """

    async def start(self) -> None:
        """Begin connecting in the background; return without waiting for the peer."""
        ...

    async def stop(self) -> None:
        """Leave gracefully (unbind, let in-flight submits finish or fail) and release everything."""
        ...

    def is_up(self) -> bool:
        """Whether a submit may be attempted now (at least one bound session)."""
        ...


@dataclass(frozen=True, slots=True)
class CarrierRuntime:
    """What a connector needs from the process that runs it."""

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    secret_box: SecretBox
    node_id: str  # unique per process: names this node's bind slots, logs and metrics

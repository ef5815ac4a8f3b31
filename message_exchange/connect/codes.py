"""The Messaging API v1's codes: request outcomes and delivery notification codes.

Request codes (the synchronous answer, always HTTP 200 as the platform documents):
``1001`` Queued, ``7000`` Invalid JSON, ``7001`` Authentication failed (wrong ``key``),
``7002`` Service Key Missing, ``7003`` a mandatory parameter is missing (the description
names it), ``7004`` Invalid parameters/Values (includes channels this platform does not
carry), ``7101`` Invalid Sender ID, ``7102`` Invalid address, ``7107`` Message too long.

Notification codes (``deliveryInfoNotification.deliveryInfo.code``), the platform's SMS
table: ``7501`` Submitted, ``7500`` Delivered, ``7102`` Invalid address, ``7109`` User in
DnD (the destination sent STOP to the sender), ``7201`` Delivery failed at Operator,
``7202`` Delivery failed at platform, ``7203`` Unknown Subscriber address, ``7207``
Subscriber out of coverage area or not reachable, ``7208`` Message expired. Contact policy
outcomes have no published number; ours are ``7701`` Consent not available and ``7702``
Frequency cap exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass

from message_exchange.core.errors import BadRequest
from message_exchange.messages.status import MessageStatus

QUEUED = "1001"
INVALID_JSON = "7000"
AUTH_FAILED = "7001"
KEY_MISSING = "7002"
PARAM_MISSING = "7003"
INVALID_VALUE = "7004"
INVALID_SENDER = "7101"
INVALID_ADDRESS = "7102"
TOO_LONG = "7107"

# Error codes stored on a message the policy kept from being sent (messages.error_code).
NO_CONSENT = 7701
CAP_EXCEEDED = 7702
OPTED_OUT = 7109
EXPIRED = 30036  # Twilio's "Validity Period Expired", on the message; notified as 7208


class ConnectError(BadRequest):
    """A request the API answers with ``{"response": {"code": …, "description": …}}``."""

    def __init__(self, code: str, description: str, *, param: str | None = None) -> None:
        super().__init__(description, code=code, param=param, status_code=200)


def missing(param: str, where: str = "") -> ConnectError:
    # The platform's own wording: "param 'text' missing for channel sms", "param 'x' is missing".
    text = f"param '{param}' missing{where}" if where else f"param '{param}' is missing"
    return ConnectError(PARAM_MISSING, text, param=param)


def invalid(param: str, why: str) -> ConnectError:
    return ConnectError(INVALID_VALUE, f"Invalid parameters/Values: {param} {why}", param=param)


@dataclass(frozen=True, slots=True)
class Notice:
    """What a notification says about one status: code, Description, deliveryStatus."""

    code: str
    description: str
    delivery_status: str


SUBMITTED = Notice("7501", "Submitted", "Submitted")
DELIVERED = Notice("7500", "Delivered", "Delivered")

_BY_ERROR: dict[int, tuple[str, str]] = {
    21211: ("7102", "Invalid address"),
    21610: ("7109", "User in DnD"),
    OPTED_OUT: ("7109", "User in DnD"),
    30003: ("7207", "Subscriber out of coverage area or not reachable"),
    30005: ("7203", "Unknown Subscriber address"),
    30007: ("7201", "Delivery failed at Operator"),
    30008: ("7202", "Delivery failed at platform"),
    EXPIRED: ("7208", "Message expired"),
    NO_CONSENT: ("7701", "Consent not available"),
    CAP_EXCEEDED: ("7702", "Frequency cap exceeded"),
}


def notice_for(status: str, error_code: int | None) -> Notice | None:
    """The notification of a message reaching ``status``; None for states not notified.

    ``queued`` is the synchronous answer and ``sending`` an internal step of one dispatch,
    so notifications start at Submitted (``sent``), as the platform's do.
    """
    if status == MessageStatus.SENT:
        return SUBMITTED
    if status == MessageStatus.DELIVERED:
        return DELIVERED
    if status not in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        return None
    undelivered = status == MessageStatus.UNDELIVERED or error_code == EXPIRED
    default = ("7201", "Delivery failed at Operator") if undelivered else ("7202", "Delivery failed at platform")
    code, description = _BY_ERROR.get(error_code or 0, default)
    return Notice(code, description, "Undelivered" if undelivered else "Failed")

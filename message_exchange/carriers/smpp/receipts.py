"""Delivery receipts in ``deliver_sm``: recognising, parsing and mapping them (pure logic).

A ``deliver_sm`` is a receipt when its ``esm_class`` message type bits (0x3C) say "SMSC
delivery receipt" (0x04) or "intermediate delivery notification" (0x20). The
``receipted_message_id`` / ``message_state`` TLVs win when present; otherwise the text of
SMPP 3.4 Appendix B is read::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text: …

Fields are matched by name, case-insensitively and in any order (SMSCs reorder them, drop
``text:``, pad ids with zeros or put a ``submit_date``), so an unknown or missing field never
makes a receipt unreadable: only the id and the state are required.

Receipt state → message status (:data:`STATES`):

=========  ===========  =====================  ===========
stat       state TLV    message status         error code
=========  ===========  =====================  ===========
DELIVRD    2            delivered              —
ACCEPTD    6            sent (no change)       —
ENROUTE    1            sent (no change)       —
UNDELIV    5            undelivered            30003
EXPIRED    3            undelivered            30003
DELETED    4            undelivered            30008
UNKNOWN    7            undelivered            30008
REJECTD    8            failed                 30007
=========  ===========  =====================  ===========

EXPIRED means the handset stayed unreachable through the validity period (30003 as for
UNDELIV); DELETED / UNKNOWN are the network's own failures (30008, unknown error); REJECTD
is the network refusing the message itself, which Twilio reports as ``failed`` / 30007.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from message_exchange.messages.status import MessageStatus

ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_RECEIPT = 0x04
ESM_CLASS_INTERMEDIATE = 0x20

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_NETWORK_ERROR_CODE = 0x0423


@dataclass(frozen=True, slots=True)
class StateOutcome:
    status: MessageStatus
    error_code: int | None = None
    error_message: str | None = None


STATES: dict[str, StateOutcome] = {
    "DELIVRD": StateOutcome(MessageStatus.DELIVERED),
    "ACCEPTD": StateOutcome(MessageStatus.SENT),
    "ENROUTE": StateOutcome(MessageStatus.SENT),
    "UNDELIV": StateOutcome(MessageStatus.UNDELIVERED, 30003, "Unreachable destination handset"),
    "EXPIRED": StateOutcome(MessageStatus.UNDELIVERED, 30003, "Message expired before delivery"),
    "DELETED": StateOutcome(MessageStatus.UNDELIVERED, 30008, "Message deleted by the carrier"),
    "UNKNOWN": StateOutcome(MessageStatus.UNDELIVERED, 30008, "Unknown error"),
    "REJECTD": StateOutcome(MessageStatus.FAILED, 30007, "Message rejected by the carrier"),
}
# SMPP 3.4 §5.2.28 message_state values.
MESSAGE_STATE_NAMES: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
# Spellings seen in the wild for the same states.
_ALIASES = {"DELIVERED": "DELIVRD", "UNDELIVERABLE": "UNDELIV", "ACCEPTED": "ACCEPTD", "REJECTED": "REJECTD"}

_FIELD = re.compile(r"(?P<name>id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s*:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a receipt says about one submitted part."""

    message_id: str
    state: str  # one of STATES' keys
    error: str | None = None  # the ``err:`` field or network_error_code, as the carrier wrote it
    done_at: datetime | None = None

    @property
    def outcome(self) -> StateOutcome:
        return STATES[self.state]


class ReceiptError(ValueError):
    """The deliver_sm is a receipt but says no id or no state we can read."""


def is_receipt(esm_class: int) -> bool:
    return (esm_class & ESM_CLASS_TYPE_MASK) in (ESM_CLASS_RECEIPT, ESM_CLASS_INTERMEDIATE)


def normalise_state(text: str) -> str:
    word = text.strip().upper()
    word = _ALIASES.get(word, word)
    return word if word in STATES else "UNKNOWN"


def parse_receipt_text(text: str) -> dict[str, str]:
    """The ``name:value`` fields of a receipt text, names lower-cased with ``_`` for spaces."""
    fields: dict[str, str] = {}
    matches = list(_FIELD.finditer(text))
    for position, match in enumerate(matches):
        end = matches[position + 1].start() if position + 1 < len(matches) else len(text)
        name = match.group("name").lower().replace(" ", "_")
        if name == "text":  # free text runs to the end; it may contain anything, even "id:"
            fields.setdefault(name, text[match.end() :].strip())
            break
        fields.setdefault(name, text[match.end() : end].strip())
    return fields


def parse_smpp_date(value: str) -> datetime | None:
    """``YYMMDDhhmm`` (or with seconds) as UTC; None when it is not such a date."""
    digits = value.strip()
    if not digits.isdigit() or len(digits) not in (10, 12):
        return None
    # By hand rather than strptime (ten times slower, once per receipt): the same fields, and
    # strptime's %y rule for the century (69–99 → 19xx, 00–68 → 20xx).
    year = int(digits[0:2])
    year += 1900 if year >= 69 else 2000
    seconds = int(digits[10:12]) if len(digits) == 12 else 0
    try:
        return datetime(
            year, int(digits[2:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), seconds, tzinfo=UTC
        )
    except ValueError:
        return None


def read_receipt(short_message: bytes, tlvs: dict[int, bytes]) -> Receipt:
    """A receipt from a deliver_sm's body and TLVs; TLVs win. Raises :class:`ReceiptError`."""
    text = short_message.decode("latin-1") if short_message else ""
    fields = parse_receipt_text(text) if text else {}
    message_id = _c_string(tlvs[TLV_RECEIPTED_MESSAGE_ID]) if TLV_RECEIPTED_MESSAGE_ID in tlvs else ""
    if not message_id:
        message_id = fields.get("id", "").split()[0] if fields.get("id", "").split() else ""
    if not message_id:
        raise ReceiptError("receipt carries no message id")
    state: str | None = None
    raw_state = tlvs.get(TLV_MESSAGE_STATE)
    if raw_state:
        state = MESSAGE_STATE_NAMES.get(raw_state[0], "UNKNOWN")
    elif fields.get("stat", "").split():
        state = normalise_state(fields["stat"].split()[0])
    if state is None:
        raise ReceiptError(f"receipt for {message_id} carries no state")
    error = fields.get("err", "").split()[0] if fields.get("err", "").split() else None
    network_error = tlvs.get(TLV_NETWORK_ERROR_CODE)
    if error is None and network_error and len(network_error) == 3:
        error = str(int.from_bytes(network_error[1:], "big"))
    done = parse_smpp_date(fields.get("done_date", "")) if "done_date" in fields else None
    return Receipt(message_id=message_id, state=state, error=error, done_at=done)


def _c_string(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("latin-1").strip()


def id_forms(message_id: str) -> tuple[str | None, str | None]:
    """``(value if read as hex, value if read as decimal)`` as decimal strings, or None.

    Carriers answer submit_sm with an id in one base and report it in the receipt in the
    other (``1A2B`` / ``6699``), or zero-pad it. Two ids denote the same message when their
    raw text is equal, or one's hex value equals the other's decimal value, or their hex
    values are equal.
    """
    text = message_id.strip()
    as_hex = str(int(text, 16)) if text and len(text) <= 32 and _is_hex(text) else None
    as_dec = str(int(text, 10)) if text and len(text) <= 40 and text.isascii() and text.isdigit() else None
    return as_hex, as_dec


def same_message_id(left: str, right: str) -> bool:
    if left == right:
        return True
    left_hex, left_dec = id_forms(left)
    right_hex, right_dec = id_forms(right)
    return (left_hex is not None and left_hex in (right_hex, right_dec)) or (
        left_dec is not None and left_dec == right_hex
    )


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdefABCDEF" for char in text)

"""What a ``submit_sm_resp`` command_status means for the message.

Three kinds (:func:`classify`):

- **retry here** — ``ESME_RTHROTTLED`` (0x58), ``ESME_RMSGQFUL`` (0x14): the SMSC is busy;
  the connector backs off (doubling from 50 ms) and re-sends the same part, in order, up to
  ``MAX_BUSY_RETRIES`` times, then gives up with :class:`CarrierUnavailable`.
- **transient** — the session is the problem, not the message (``ESME_RINVBNDSTS`` not
  bound, ``ESME_RSYSERR`` system error, ``ESME_RX_T_APPN``): :class:`CarrierUnavailable`,
  so dispatch retries later or fails over.
- **permanent** — everything else: :class:`CarrierRejected` with the code of
  :data:`PERMANENT` (the message ends ``failed`` with it), 30008 for a status not listed.

==========================================  ==========  ==========================
command_status                              code        meaning
==========================================  ==========  ==========================
0x0B RINVDSTADR, 0x50 RINVDSTTON,           21211       invalid 'To' number
0x51 RINVDSTNPI, 0x33 RINVNUMDESTS
0x0A RINVSRCADR, 0x48 RINVSRCTON,           21212       invalid 'From' number
0x49 RINVSRCNPI
0x01 RINVMSGLEN                             21617       body too long for the carrier
0x43 RINVESMCLASS, 0xC0–0xC4 (TLV errors),  30008       the carrier refused the PDU
0x61 RINVSCHED, 0x62 RINVEXPIRY,
0x45 RSUBMITFAIL, 0x66 RX_R_APPN, other
0x65 RX_P_APPN                              30007       filtered by the carrier
==========================================  ==========  ==========================
"""

from __future__ import annotations

from enum import Enum

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVBNDSTS = 0x04
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RMSGQFUL = 0x14
ESME_RINVNUMDESTS = 0x33
ESME_RINVSRCTON = 0x48
ESME_RINVSRCNPI = 0x49
ESME_RINVDSTTON = 0x50
ESME_RINVDSTNPI = 0x51
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64
ESME_RX_P_APPN = 0x65

MAX_BUSY_RETRIES = 8
BUSY = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL})
TRANSIENT = frozenset({ESME_RINVBNDSTS, ESME_RSYSERR, ESME_RX_T_APPN})
UNKNOWN_REJECTION = 30008

PERMANENT: dict[int, tuple[int, str]] = {
    ESME_RINVDSTADR: (21211, "Invalid 'To' phone number"),
    ESME_RINVDSTTON: (21211, "Invalid 'To' phone number (type of number)"),
    ESME_RINVDSTNPI: (21211, "Invalid 'To' phone number (numbering plan)"),
    ESME_RINVNUMDESTS: (21211, "Invalid 'To' phone number"),
    ESME_RINVSRCADR: (21212, "Invalid 'From' phone number"),
    ESME_RINVSRCTON: (21212, "Invalid 'From' phone number (type of number)"),
    ESME_RINVSRCNPI: (21212, "Invalid 'From' phone number (numbering plan)"),
    ESME_RINVMSGLEN: (21617, "Message body too long for the carrier"),
    ESME_RX_P_APPN: (30007, "Message filtered by the carrier"),
}


class Kind(Enum):
    OK = "ok"
    BUSY = "busy"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


def classify(command_status: int) -> Kind:
    if command_status == ESME_ROK:
        return Kind.OK
    if command_status in BUSY:
        return Kind.BUSY
    if command_status in TRANSIENT:
        return Kind.TRANSIENT
    return Kind.PERMANENT


def rejection(command_status: int) -> tuple[int, str]:
    """The error code and text a permanent refusal gives the message."""
    code, text = PERMANENT.get(command_status, (UNKNOWN_REJECTION, "The carrier refused the message"))
    return code, f"{text} (SMPP command_status 0x{command_status:08X})"

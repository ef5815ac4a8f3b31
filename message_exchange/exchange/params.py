"""Query-parameter values both exchanges' record listings take (Webex and Teams)."""

from __future__ import annotations

from message_exchange.core.errors import BadRequest

DIRECTIONS = ("INBOUND", "OUTBOUND")
TYPES = ("SMS", "MMS")


def optional(value: str | None) -> str | None:
    """An absent or empty parameter is no filter."""
    return value if value not in (None, "") else None


def one_of(value: str | None, allowed: tuple[str, ...], param: str) -> str | None:
    """``value`` (any case) as one of ``allowed``; None when absent; 400 otherwise."""
    if value is None or value == "":
        return None
    text = value.strip().upper()
    if text not in allowed:
        raise BadRequest(f"{param} must be one of {', '.join(allowed)}, got {value!r}", param=param)
    return text

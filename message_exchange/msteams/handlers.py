"""Job handlers of the Teams exchange (imported by every worker): posting, relaying, notices, delivery status."""

from __future__ import annotations

from message_exchange.exchange import delivery as _delivery  # noqa: F401
from message_exchange.msteams import bridge as _bridge  # noqa: F401
from message_exchange.msteams import relay as _relay  # noqa: F401

"""Job handlers of the Webex exchange (imported by every worker): posting, relaying, delivery status."""

from __future__ import annotations

from message_exchange.exchange import delivery as _delivery  # noqa: F401
from message_exchange.webex import bridge as _bridge  # noqa: F401
from message_exchange.webex import relay as _relay  # noqa: F401

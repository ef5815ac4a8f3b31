"""What the Webex and Teams HTTP clients share: their error's shape and a 429's ``Retry-After``."""

from __future__ import annotations

import httpx

from message_exchange.core.errors import UpstreamError

MAX_RETRY_AFTER = 3600.0


class ChatApiError(UpstreamError):
    """A chat platform's API failed: ``status`` its HTTP status (None: network error / timeout);
    ``retryable`` whether trying again later can help (network, 5xx, 429)."""

    def __init__(self, message: str, *, status: int | None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def retry_after(response: httpx.Response) -> float:
    """A 429's ``Retry-After`` in seconds (1 when absent or unreadable), within [0, MAX_RETRY_AFTER]."""
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 1.0

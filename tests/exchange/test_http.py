"""The chat clients' shared 429 reading: ``Retry-After`` in seconds, defaulted and clamped."""

from __future__ import annotations

import httpx
import pytest

from message_exchange.exchange.http import MAX_RETRY_AFTER, ChatApiError, retry_after
from message_exchange.msteams.client import TeamsApiError
from message_exchange.webex.client import WebexApiError


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2.5", 2.5), (None, 1.0), ("soon", 1.0), ("-3", 0.0), ("999999", MAX_RETRY_AFTER)],
)
def test_retry_after_reads_the_header_defaults_and_clamps(header: str | None, seconds: float) -> None:
    headers = {} if header is None else {"Retry-After": header}
    assert retry_after(httpx.Response(429, headers=headers)) == seconds


def test_both_clients_errors_are_the_shared_chat_error() -> None:
    for error in (WebexApiError("x", status=503, retryable=True), TeamsApiError("x", status=None, retryable=False)):
        assert isinstance(error, ChatApiError)
    assert (error.status, error.retryable) == (None, False)

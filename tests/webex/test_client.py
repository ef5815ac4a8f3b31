"""The Webex client against the fake Webex: 429 Retry-After, outages, errors (no database involved)."""

from __future__ import annotations

import time

import pytest

from message_exchange.webex.client import WebexApiError, WebexClient, WebexThrottled
from tests.fakes.webex import FakeWebex, Person
from tests.support.processes import free_port


def _me_requests(webex: FakeWebex) -> int:
    return sum(1 for request in webex.requests if request == ("GET", "/v1/people/me"))


async def test_a_short_retry_after_is_waited_out_then_the_request_repeated(webex: FakeWebex, bot: Person) -> None:
    webex.throttle(times=2, retry_after=0.3)
    started = time.monotonic()
    async with WebexClient(webex.base_url, str(bot.token), max_wait_seconds=5) as client:
        me = await client.me()
    assert me["id"] == bot.id
    assert time.monotonic() - started >= 0.6  # both waits honoured, not cut short
    assert _me_requests(webex) == 3


async def test_a_long_retry_after_is_handed_back_without_waiting(webex: FakeWebex, bot: Person) -> None:
    webex.throttle(times=1, retry_after=30)
    started = time.monotonic()
    async with WebexClient(webex.base_url, str(bot.token), max_wait_seconds=5) as client:
        with pytest.raises(WebexThrottled) as caught:
            await client.me()
    assert caught.value.retry_after == 30 and caught.value.retryable and caught.value.status == 429
    assert time.monotonic() - started < 5
    assert _me_requests(webex) == 1  # no request inside the window Webex asked us to keep


async def test_throttling_that_does_not_end_gives_up_after_the_retries(webex: FakeWebex, bot: Person) -> None:
    webex.throttle(times=10, retry_after=0.01)
    async with WebexClient(webex.base_url, str(bot.token), max_throttled_retries=2) as client:
        with pytest.raises(WebexThrottled):
            await client.me()
    assert _me_requests(webex) == 3


async def test_errors_say_whether_a_retry_can_help(webex: FakeWebex, bot: Person) -> None:
    async with WebexClient(webex.base_url, str(bot.token)) as client:
        webex.fail(times=1, status=503)
        with pytest.raises(WebexApiError) as outage:
            await client.me()
        assert (outage.value.status, outage.value.retryable) == (503, True)
        with pytest.raises(WebexApiError) as missing:
            await client.get_message("nope")
        assert (missing.value.status, missing.value.retryable) == (404, False)
        assert "Message not found" in missing.value.message
        with pytest.raises(WebexApiError):
            await client.download("https://elsewhere.example.com/file")  # only Webex URLs get the token
    async with WebexClient(webex.base_url, "wrong-token") as client:
        with pytest.raises(WebexApiError) as refused:
            await client.me()
        assert (refused.value.status, refused.value.retryable) == (401, False)


async def test_an_unreachable_webex_is_a_retryable_error() -> None:
    async with WebexClient(f"http://127.0.0.1:{free_port()}/v1/", "token", timeout=2) as client:
        with pytest.raises(WebexApiError) as caught:
            await client.me()
    assert (caught.value.status, caught.value.retryable) == (None, True)
    assert "unreachable" in caught.value.message

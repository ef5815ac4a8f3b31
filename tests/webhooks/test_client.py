"""send_webhook against a real HTTP server: forms, signatures, bodies, failures, the guard."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from message_exchange.config import Settings
from message_exchange.webhooks import client as client_module
from message_exchange.webhooks import guard
from message_exchange.webhooks.client import send_webhook
from message_exchange.webhooks.guard import WebhookRefused
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.callback_sink import CallbackSink, closed_port_url

TOKEN = "f" * 32
PARAMS = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "sent", "Body": "héllo & bye=1"}


def _settings(*, allow_private: bool = True, timeout: float = 2.0) -> Settings:
    return Settings(secret_key=TEST_SECRET_KEY, webhook_allow_private=allow_private, webhook_timeout_seconds=timeout)


async def test_post_is_form_encoded_and_signed(sink: CallbackSink) -> None:
    result = await send_webhook(sink.url("/status?x=1"), "POST", PARAMS, auth_token=TOKEN, settings=_settings())
    assert result.ok and result.status_code == 200 and result.error is None
    [request] = sink.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["user-agent"] == "MessageExchange/0.1"
    assert request.form == PARAMS
    assert request.url == sink.url("/status?x=1")
    assert request.signature is not None
    assert RequestValidator(TOKEN).validate(request.url, request.form, request.signature)
    assert not RequestValidator("wrong").validate(request.url, request.form, request.signature)


async def test_get_carries_params_in_the_query_and_is_signed(sink: CallbackSink) -> None:
    result = await send_webhook(sink.url("/status"), "GET", PARAMS, auth_token=TOKEN, settings=_settings())
    assert result.ok
    [request] = sink.requests
    assert request.method == "GET"
    assert request.body == b""
    assert request.params == PARAMS
    assert request.signature is not None
    assert RequestValidator(TOKEN).validate(request.url, {}, request.signature)


async def test_response_body_and_type_are_returned_and_capped(sink: CallbackSink) -> None:
    xml = "<Response><Message>hi</Message></Response>"
    sink.respond("/sms", body=xml, content_type="application/xml")
    sink.respond("/big", body="x" * 200_000)
    result = await send_webhook(sink.url("/sms"), "POST", PARAMS, auth_token=TOKEN, settings=_settings())
    assert result.body == xml
    assert result.content_type is not None and result.content_type.startswith("application/xml")
    big = await send_webhook(sink.url("/big"), "POST", PARAMS, auth_token=TOKEN, settings=_settings())
    assert len(big.body) == client_module.MAX_BODY_BYTES


async def test_http_errors_are_results_not_exceptions(sink: CallbackSink) -> None:
    sink.respond("/x", status=503)
    sink.respond("/x", status=429)
    sink.respond("/x", status=404)
    sink.respond("/x", status=302, headers={"Location": "http://169.254.169.254/"})
    outcomes = [
        await send_webhook(sink.url("/x"), "POST", PARAMS, auth_token=TOKEN, settings=_settings()) for _ in range(4)
    ]
    assert [(r.status_code, r.retryable, r.ok) for r in outcomes] == [
        (503, True, False),
        (429, True, False),
        (404, False, False),
        (302, False, False),  # redirects are not followed
    ]
    assert len(sink.requests) == 4


async def test_timeout_and_refused_connection_are_errors() -> None:
    down = await send_webhook(closed_port_url(), "POST", PARAMS, auth_token=TOKEN, settings=_settings())
    assert down.status_code is None and down.retryable and down.error
    async with CallbackSink() as slow:
        slow.respond("/slow", delay=1.0)
        result = await send_webhook(
            slow.url("/slow"), "POST", PARAMS, auth_token=TOKEN, settings=_settings(timeout=0.2)
        )
        assert result.status_code is None and result.retryable
        assert result.error is not None and "timeout" in result.error
    await client_module.close_clients()


async def test_loopback_is_refused_at_connect_time_unless_allowed(sink: CallbackSink) -> None:
    with pytest.raises(WebhookRefused):
        await send_webhook(sink.url("/x"), "POST", PARAMS, auth_token=TOKEN, settings=_settings(allow_private=False))
    with pytest.raises(WebhookRefused):
        await send_webhook("ftp://example.com/x", "POST", PARAMS, auth_token=TOKEN, settings=_settings())
    assert sink.requests == []


async def test_connects_to_the_address_the_guard_checked(sink: CallbackSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is resolved once, by the guard: the connection goes where the check looked.

    ``rebind.invalid`` resolves nowhere in real DNS; the request still reaches the sink, so the
    HTTP client did not resolve it again itself. With private targets forbidden the same
    resolution is refused, and nothing is sent.
    """
    seen: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(guard, "resolve", resolve)
    url = f"http://rebind.invalid:{sink.port}/pinned"
    result = await send_webhook(url, "POST", PARAMS, auth_token=TOKEN, settings=_settings())
    assert result.ok
    [request] = sink.requests
    assert request.headers["host"] == f"rebind.invalid:{sink.port}"
    assert RequestValidator(TOKEN).validate(url, request.form, request.signature)
    assert seen == ["rebind.invalid"]
    with pytest.raises(WebhookRefused, match="loopback"):
        await send_webhook(
            url.replace("pinned", "other"), "POST", PARAMS, auth_token=TOKEN, settings=_settings(allow_private=False)
        )
    assert len(sink.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://2130706433:9/x",  # 127.0.0.1 as one decimal number
        "http://127.1:9/x",  # the short dotted form
        "http://0x7f000001:9/x",
        "http://[::ffff:127.0.0.1]:9/x",
        "http://[::1]:9/x",
        "http://localhost:9/x",
    ],
)
async def test_every_spelling_of_a_loopback_host_is_refused(url: str) -> None:
    """IP-literal hosts are connected to without resolving, so they are checked before the request."""
    with pytest.raises(WebhookRefused):
        await send_webhook(url, "POST", PARAMS, auth_token=TOKEN, settings=_settings(allow_private=False))
    await client_module.close_clients()

"""SSRF guard: private/loopback/link-local/... targets and non-http schemes are refused."""

from __future__ import annotations

import pytest

from message_exchange.webhooks import guard
from message_exchange.webhooks.guard import WebhookRefused, check_url

REFUSED = [
    "http://127.0.0.1/x",
    "http://127.1.2.3:8080/x",
    "http://10.0.0.5/x",
    "http://172.16.3.4/x",
    "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/x",
    "http://100.64.0.1/x",
    "http://224.0.0.1/x",
    "http://[::1]/x",
    "http://[::]/x",
    "http://[fe80::1]/x",
    "http://[fc00::1]/x",
    "http://[ff02::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::ffff:10.0.0.1]/x",
    "http://[::ffff:169.254.169.254]/x",
    "http://localhost:9/x",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(WebhookRefused):
        await check_url(url, allow_private=False)


@pytest.mark.parametrize("url", REFUSED)
async def test_private_targets_are_allowed_when_settings_allow(url: str) -> None:
    assert await check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/hook",
        "http://8.8.8.8:8080/x",
        "http://[2606:4700:4700::1111]/x",
        "http://[::ffff:8.8.8.8]/",
    ],
)
async def test_public_addresses_pass(url: str) -> None:
    assert await check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://8.8.8.8/x",
        "file:///etc/passwd",
        "gopher://8.8.8.8/",
        "javascript:alert(1)",
        "http:///nohost",
        "8.8.8.8/x",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_non_http_urls_are_refused(url: str, allow_private: bool) -> None:
    with pytest.raises(WebhookRefused):
        await check_url(url, allow_private=allow_private)


async def test_a_name_with_any_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["8.8.8.8", "10.0.0.1"]

    monkeypatch.setattr(guard, "resolve", resolve)
    with pytest.raises(WebhookRefused, match=r"10\.0\.0\.1"):
        await check_url("https://mixed.example/x", allow_private=False)


async def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(WebhookRefused, match="does not resolve"):
        await check_url("http://no-such-host.invalid/x", allow_private=False)

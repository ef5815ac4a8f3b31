"""Send one signed webhook request and report what happened; never raises for HTTP outcomes.

::

    result = await send_webhook(url, "POST", {"MessageSid": sid, ...}, auth_token=token, settings=settings)
    if result.ok: ...            # 2xx; result.body holds the reply (e.g. RCML XML), capped at 64 KiB
    elif result.retryable: ...   # network error, timeout, 5xx or 429

POST sends the parameters form-encoded, or, given ``json_body``, those bytes as an
``application/json`` body to the URL with ``?bodySHA256=<hex>`` (and no parameters); GET
appends the parameters to the URL's query string. The ``X-Twilio-Signature`` header is
computed over the exact URL requested (and, for a form POST, the parameters), keyed with
the account's auth token. Redirects are not followed (a
redirect could point past the SSRF guard, and Twilio does not follow them either).

One ``httpx.AsyncClient`` per process and guard mode serves every webhook, so connections
to a busy customer endpoint are reused. Its network backend is the guard's
(:class:`~message_exchange.webhooks.guard.GuardedBackend`): every new connection goes only
to an address checked at connect time. A refused target raises
:class:`~message_exchange.webhooks.guard.WebhookRefused` (so callers can tell "never
allowed" from "failed this time").
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import httpcore
import httpx

from message_exchange.config import Settings
from message_exchange.webhooks.guard import GuardedBackend, WebhookRefused, check_url_syntax
from message_exchange.webhooks.signing import (
    SIGNATURE_HEADER,
    Params,
    signed_json_url,
    twilio_signature,
    url_with_query,
)

USER_AGENT = "MessageExchange/0.1"
MAX_BODY_BYTES = 64 * 1024
METHODS = ("GET", "POST")
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0)

# Per event loop (a client's pooled connections belong to the loop that opened them), then
# per guard mode. A production process has one loop, so one client per mode.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What one webhook request got: a status and body, or an error (network, timeout)."""

    url: str
    status_code: int | None
    body: str
    content_type: str | None
    duration_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        """Worth trying again later: no response at all, a 5xx, or 429 Too Many Requests."""
        return self.status_code is None or self.status_code >= 500 or self.status_code == 429


def _transport(allow_private: bool) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(limits=LIMITS, trust_env=False, retries=0)
    # httpx takes no network backend argument: give its connection pool the guard's backend
    # (same pool settings as httpx builds from LIMITS).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=LIMITS.max_connections,
        max_keepalive_connections=LIMITS.max_keepalive_connections,
        keepalive_expiry=LIMITS.keepalive_expiry,
        http1=True,
        http2=False,
        retries=0,
        network_backend=GuardedBackend(allow_private=allow_private),
    )
    return transport


def get_client(allow_private: bool) -> httpx.AsyncClient:
    """The process's shared client for this guard mode (created on first use)."""
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(allow_private)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            transport=_transport(allow_private),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )
        clients[allow_private] = client
    return client


async def close_clients() -> None:
    """Close this event loop's shared clients (at shutdown)."""
    clients = _CLIENTS.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        await client.aclose()


def _form_pairs(params: Params) -> list[tuple[str, str]]:
    return [(key, item) for key, value in params.items() for item in ([value] if isinstance(value, str) else value)]


async def send_webhook(
    url: str,
    method: str,
    params: Mapping[str, str | Sequence[str]],
    *,
    auth_token: str,
    settings: Settings,
    json_body: bytes | None = None,
) -> WebhookResult:
    """Request ``url`` with ``params`` (form POST, or GET query) or a ``json_body`` (POST),
    signed with ``auth_token``.

    Returns the outcome, including HTTP errors and network failures; raises only
    :class:`WebhookRefused` (scheme, host or address not allowed) and ValueError (method,
    or a JSON body with a GET or with parameters).
    """
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"webhook method must be GET or POST, got {method!r}")
    if json_body is not None and (method != "POST" or params):
        raise ValueError("a JSON body goes alone, by POST")
    check_url_syntax(url)
    client = get_client(settings.webhook_allow_private)
    try:
        if method == "GET":
            request = client.build_request(
                method, url_with_query(url, params), timeout=settings.webhook_timeout_seconds
            )
        elif json_body is not None:
            request = client.build_request(
                method,
                signed_json_url(url, json_body),
                content=json_body,
                headers={"Content-Type": "application/json"},
                timeout=settings.webhook_timeout_seconds,
            )
        else:
            request = client.build_request(
                method,
                url,
                content=urlencode(_form_pairs(params)).encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=settings.webhook_timeout_seconds,
            )
    except (httpx.InvalidURL, ValueError) as exc:
        raise WebhookRefused(f"Webhook URL is malformed: {exc}") from None
    # Signed over the URL exactly as it goes on the wire (httpx may normalize what it was given).
    target = str(request.url)
    form = params if method == "POST" and json_body is None else None
    request.headers[SIGNATURE_HEADER] = twilio_signature(auth_token, target, form)
    started = time.monotonic()
    try:
        response = await client.send(request, stream=True)
        try:
            body = await _read_capped(response)
        finally:
            await response.aclose()
    except WebhookRefused:
        raise
    except httpx.TimeoutException as exc:
        return _failure(target, started, f"timeout: {type(exc).__name__} after {settings.webhook_timeout_seconds:g}s")
    except httpx.HTTPError as exc:
        return _failure(target, started, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return WebhookResult(
        url=target,
        status_code=response.status_code,
        body=body,
        content_type=response.headers.get("content-type"),
        duration_ms=_elapsed_ms(started),
    )


async def _read_capped(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_BYTES:
            break
    raw = b"".join(chunks)[:MAX_BODY_BYTES]
    return raw.decode(response.encoding or "utf-8", errors="replace")


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _failure(url: str, started: float, error: str) -> WebhookResult:
    return WebhookResult(
        url=url, status_code=None, body="", content_type=None, duration_ms=_elapsed_ms(started), error=error[:2000]
    )

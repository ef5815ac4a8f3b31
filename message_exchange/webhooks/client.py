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

One ``aiohttp.ClientSession`` per event loop and guard mode serves every webhook, so
connections to a busy customer endpoint are reused. aiohttp, not httpx (which the chat
clients use): a webhook sender makes thousands of requests a second, and httpx's async
pool cost ~1.5 ms of CPU a request at 32 in flight against aiohttp's ~0.06 ms (measured
here; encode/httpx#3215). Its resolver is the guard's (:class:`GuardedResolver`): a new
connection goes only to an address checked when it was resolved; an IP-literal host, which
aiohttp connects to without resolving, is checked here first. A refused target raises
:class:`~message_exchange.webhooks.guard.WebhookRefused` (so callers can tell "never
allowed" from "failed this time").
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from message_exchange.config import Settings
from message_exchange.webhooks.guard import WebhookRefused, check_addresses, check_url_syntax, resolve_allowed
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
MAX_CONNECTIONS = 200
KEEPALIVE_SECONDS = 30.0

# Per event loop (a session's pooled connections belong to the loop that opened them), then
# per guard mode. A production process has one loop, so one session per mode.
_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, aiohttp.ClientSession]] = (
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


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, through the guard: the addresses a connection may go to, all checked."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await resolve_allowed(host, port, allow_private=self.allow_private)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def get_session(allow_private: bool) -> aiohttp.ClientSession:
    """The process's shared session for this guard mode (created on first use)."""
    sessions = _SESSIONS.setdefault(asyncio.get_running_loop(), {})
    session = sessions.get(allow_private)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(
            limit=MAX_CONNECTIONS,
            keepalive_timeout=KEEPALIVE_SECONDS,
            resolver=GuardedResolver(allow_private=allow_private),
            use_dns_cache=False,  # resolved (and checked) for every new connection
        )
        session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": USER_AGENT}, trust_env=False, auto_decompress=True
        )
        sessions[allow_private] = session
    return session


async def close_clients() -> None:
    """Close this event loop's shared sessions (at shutdown)."""
    sessions = _SESSIONS.pop(asyncio.get_running_loop(), {})
    for session in sessions.values():
        await session.close()


def _check_literal_host(host: str, *, allow_private: bool) -> None:
    """aiohttp connects to an IP-literal host without asking the resolver: check it here."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    check_addresses(host, [host], allow_private=allow_private)


@functools.lru_cache(maxsize=4096)
def _checked(url: str, allow_private: bool) -> None:
    """The URL's syntax and an IP-literal host (WebhookRefused). Cached while it passes: an
    account's callback URL is the same for every message it sends."""
    _, host, _ = check_url_syntax(url)
    _check_literal_host(host, allow_private=allow_private)


def _parse_wire(target: str) -> URL:
    try:
        return URL(target)  # normalised (percent-encoding) as it goes on the wire
    except (ValueError, TypeError) as exc:
        raise WebhookRefused(f"Webhook URL is malformed: {exc}") from None


# A POST goes to the callback URL itself: the same for every message, parsed once.
_wire = functools.lru_cache(maxsize=4096)(_parse_wire)


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
    _checked(url, settings.webhook_allow_private)
    headers: dict[str, str] = {}
    if method == "GET":
        target, content = url_with_query(url, params), None
    elif json_body is not None:
        target, content = signed_json_url(url, json_body), json_body
        headers["Content-Type"] = "application/json"
    else:
        target, content = url, urlencode(_form_pairs(params)).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    wire = _wire(target) if target == url else _parse_wire(target)
    # Signed over the URL exactly as it is requested.
    signed = str(wire)
    form = params if method == "POST" and json_body is None else None
    headers[SIGNATURE_HEADER] = twilio_signature(auth_token, signed, form)
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)
    started = time.monotonic()
    try:
        async with get_session(settings.webhook_allow_private).request(
            method, wire, data=content, headers=headers, allow_redirects=False, timeout=timeout
        ) as response:
            body = await _read_capped(response)
            status, content_type = response.status, response.headers.get("Content-Type")
    except WebhookRefused:
        raise
    except TimeoutError:
        return _failure(signed, started, f"timeout after {settings.webhook_timeout_seconds:g}s")
    except aiohttp.InvalidURL as exc:
        raise WebhookRefused(f"Webhook URL is malformed: {exc}") from None
    except (aiohttp.ClientError, OSError) as exc:
        return _failure(signed, started, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return WebhookResult(
        url=signed, status_code=status, body=body, content_type=content_type, duration_ms=_elapsed_ms(started)
    )


async def _read_capped(response: aiohttp.ClientResponse) -> str:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY_BYTES:
        chunk = await response.content.read(MAX_BODY_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode(response.charset or "utf-8", errors="replace")


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _failure(url: str, started: float, error: str) -> WebhookResult:
    return WebhookResult(
        url=url, status_code=None, body="", content_type=None, duration_ms=_elapsed_ms(started), error=error[:2000]
    )

"""SSRF guard: webhooks only go to public http(s) addresses, unless settings allow private ones.

A customer chooses its webhook URLs, so without a guard it could make us call our own
database, cloud metadata (169.254.169.254) or anything else on our private network.

Refused: a scheme other than http/https, a URL without a host, and any host that resolves to
a loopback, private, link-local, multicast, reserved, unspecified or otherwise non-global
address — IPv4 and IPv6, including IPv4-mapped (``::ffff:127.0.0.1``) and IPv4-compatible
IPv6 addresses, which are judged by the IPv4 address they carry. If a name resolves to
several addresses and any is refused, the whole host is refused (an attacker controls which
one a client would pick).

DNS rebinding: checking a name and then letting the HTTP client resolve it again would let a
name answer a public address to the check and ``127.0.0.1`` to the connect. So the check is
done *at connect time, on the addresses actually connected to*: :mod:`.client` gives its
HTTP client a resolver (:class:`~message_exchange.webhooks.client.GuardedResolver`) that
resolves the host once per new connection with :func:`resolve_allowed` and hands back only
those checked addresses to connect to. The URL keeps its host name, so the ``Host`` header,
TLS SNI and certificate verification are unchanged, and a pooled keep-alive connection was
checked when it was opened.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from message_exchange.core.errors import BadRequest

ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(BadRequest):
    """The webhook target is not allowed (scheme, unresolvable host, private address)."""

    default_code = 21609
    default_message = "Webhook URL refused"


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be a webhook target, or None if it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is None and address.packed[:12] == bytes(12) and int(address) > 1:
            mapped = ipaddress.IPv4Address(address.packed[12:])  # deprecated IPv4-compatible ::a.b.c.d
        if mapped is not None:
            reason = refusal_reason(mapped)
            return f"{reason} (IPv4-mapped)" if reason else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address {address}"
    return None


def parse_address(text: str) -> IPAddress:
    """An address as getaddrinfo returns it (an IPv6 zone ``%eth0`` is dropped)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def check_addresses(host: str, addresses: Iterable[str], *, allow_private: bool) -> None:
    if allow_private:
        return
    for text in addresses:
        reason = refusal_reason(parse_address(text))
        if reason is not None:
            raise WebhookRefused(f"Webhook host {host} resolves to a {reason}")


def check_url_syntax(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host; anything else → WebhookRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"Webhook URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise WebhookRefused(f"Webhook URL scheme must be http or https, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise WebhookRefused("Webhook URL has no host")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(f"Webhook host {host} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise WebhookRefused(f"Webhook host {host} does not resolve")
    return addresses


async def resolve_allowed(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of ``host`` to connect to, all checked; WebhookRefused if any is refused."""
    addresses = await resolve(host, port)
    check_addresses(host, addresses, allow_private=allow_private)
    return addresses


async def check_url(url: str, *, allow_private: bool) -> list[str]:
    """Check a webhook URL up front (scheme, host, addresses); the checked addresses."""
    _, host, port = check_url_syntax(url)
    return await resolve_allowed(host, port, allow_private=allow_private)

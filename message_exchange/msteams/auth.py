"""Verifying the Bot Framework's requests to the bot: the JWT in ``Authorization: Bearer``.

Every activity POSTed to the messaging endpoint carries a token the Bot Connector signed.
It is accepted only when:

- it is an RS256 JWT signed by a key of the configured OpenID metadata's ``jwks_uri``
  (``MX_MSTEAMS_OPENID_METADATA_URL``; keys cached for a day, fetched again — at most once
  a minute — when a token names an unknown ``kid``), and that key is endorsed for the
  activity's ``channelId`` when the key lists endorsements;
- ``iss`` is ``MX_MSTEAMS_TOKEN_ISSUER``, ``aud`` the business customer's applicationId,
  ``exp`` / ``nbf`` hold with ``MX_MSTEAMS_JWT_LEEWAY_SECONDS`` of clock skew;
- its ``serviceurl`` claim equals the activity's ``serviceUrl``, whose host is one of
  ``MX_MSTEAMS_ALLOWED_SERVICE_HOSTS`` (the bridge only ever calls those hosts).

Anything else raises :class:`~message_exchange.core.errors.Unauthorized` (401).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from message_exchange.config import Settings
from message_exchange.core.errors import Unauthorized
from message_exchange.core.logging import get_logger

log = get_logger("mx.msteams")

ALGORITHMS = ["RS256"]
KEYS_TTL = 24 * 3600.0
REFRESH_INTERVAL = 60.0


def _unauthorized(why: str) -> Unauthorized:
    return Unauthorized(f"Bot Framework token rejected: {why}", headers={"WWW-Authenticate": "Bearer"})


@dataclass
class _KeySet:
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_KEYSETS: dict[str, _KeySet] = {}


async def _fetch_keys(metadata_url: str, timeout_seconds: float) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as http:
        metadata = (await http.get(metadata_url)).raise_for_status().json()
        jwks_uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
        if not isinstance(jwks_uri, str):
            raise ValueError("OpenID metadata has no jwks_uri")
        jwks = (await http.get(jwks_uri)).raise_for_status().json()
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    return {str(key["kid"]): key for key in keys or [] if isinstance(key, dict) and key.get("kid")}


async def signing_key(settings: Settings, kid: str) -> dict[str, Any] | None:
    """The JWK ``kid`` of the configured metadata (refetched when stale or when ``kid`` is new)."""
    url = settings.msteams_openid_metadata_url
    keyset = _KEYSETS.setdefault(url, _KeySet())
    age = time.monotonic() - keyset.fetched_at
    if kid in keyset.keys and age < KEYS_TTL:
        return keyset.keys[kid]
    async with keyset.lock:
        age = time.monotonic() - keyset.fetched_at
        if (kid not in keyset.keys or age >= KEYS_TTL) and (age >= REFRESH_INTERVAL or not keyset.keys):
            try:
                keyset.keys = await _fetch_keys(url, settings.msteams_timeout_seconds)
                keyset.fetched_at = time.monotonic()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("bot framework keys not fetched", url=url, error=repr(exc))
    return keyset.keys.get(kid)


def forget_keys() -> None:
    _KEYSETS.clear()


def service_host_allowed(service_url: str, settings: Settings) -> bool:
    parts = urlsplit(service_url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return False
    for pattern in settings.msteams_allowed_service_hosts.split(","):
        allowed = pattern.strip().lower()
        if not allowed:
            continue
        if allowed.startswith("*."):
            if host.endswith(allowed[1:]):
                return True
        elif host == allowed:
            return True
    return False


async def verify_request(
    authorization: str | None, activity: dict[str, Any], *, app_id: str, settings: Settings
) -> dict[str, Any]:
    """The token's claims, when the request is the Bot Framework's for this app; else 401."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("no Bearer token")
    try:
        header = jwt.get_unverified_header(token.strip())
    except jwt.PyJWTError:
        raise _unauthorized("malformed token") from None
    if header.get("alg") not in ALGORITHMS:
        raise _unauthorized("algorithm not allowed")
    kid = header.get("kid")
    jwk = await signing_key(settings, str(kid)) if isinstance(kid, str) and kid else None
    if jwk is None:
        raise _unauthorized("unknown signing key")
    endorsements = jwk.get("endorsements")
    channel = activity.get("channelId")
    if isinstance(endorsements, list) and endorsements and channel not in endorsements:
        raise _unauthorized("signing key not endorsed for this channel")
    try:
        key = jwt.PyJWK(jwk, algorithm="RS256").key
        claims: dict[str, Any] = jwt.decode(
            token.strip(),
            key,
            algorithms=ALGORITHMS,
            audience=app_id,
            issuer=settings.msteams_token_issuer,
            leeway=settings.msteams_jwt_leeway_seconds,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(str(exc)) from None
    service_url = activity.get("serviceUrl")
    if not isinstance(service_url, str) or claims.get("serviceurl") != service_url:
        raise _unauthorized("serviceurl claim does not match the activity")
    if not service_host_allowed(service_url, settings):
        raise _unauthorized("serviceUrl host is not allowed")
    return claims

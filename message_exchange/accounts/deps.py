"""The authenticated caller: HTTP Basic with account sid (or email) and auth token."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from message_exchange.accounts import service
from message_exchange.accounts.models import Account
from message_exchange.core.errors import Unauthorized
from message_exchange.db.session import DBSession


def parse_basic(header: str | None) -> tuple[str, str]:
    """``Authorization: Basic base64(user:secret)`` → (user, secret); anything else → 401."""
    if not header:
        raise Unauthorized()
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthorized("Authentication Error - use HTTP Basic with your account sid and auth token")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Authentication Error - malformed Basic credentials") from None
    user, sep, secret = decoded.partition(":")
    if not sep or not user or not secret:
        raise Unauthorized("Authentication Error - malformed Basic credentials")
    return user, secret


async def current_account(request: Request, session: DBSession) -> Account:
    user, secret = parse_basic(request.headers.get("authorization"))
    return await service.authenticate(session, user, secret)


CurrentAccount = Annotated[Account, Depends(current_account)]


async def caller_from_header(request: Request) -> service.Caller:
    """The caller, re-verified only the first time its credentials are seen (see CallerCache).

    For hot paths that re-check the caller in their own transaction (``service.recheck_caller``);
    everything else uses :data:`CurrentAccount`.
    """
    user, secret = parse_basic(request.headers.get("authorization"))
    cache: service.CallerCache = request.app.state.caller_cache
    caller = cache.get(user, secret)
    if caller is None:
        async with request.app.state.session_factory() as session:
            caller = await service.authenticate_cached(session, cache, user, secret)
    return caller


RememberedCaller = Annotated[service.Caller, Depends(caller_from_header)]

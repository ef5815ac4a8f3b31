"""The console's browser session: a signed cookie, CSRF tokens and the sign-in lock-out.

The cookie (``mx_console``; HttpOnly, SameSite=Lax, Path=/console, Secure over HTTPS) holds
``{account sid, credential fingerprint, CSRF token, issue time}`` as base64 JSON and an
HMAC-SHA256 of it, keyed with a key derived from ``MX_SECRET_KEY``: a browser can read
nothing useful from it and change nothing in it. Nothing is stored server side, so any node
of a cluster (same ``MX_SECRET_KEY``) accepts it.

The fingerprint is a hash of the stored credential the user signed in with (password hash
or auth token digest): changing the password or rotating the token ends the session on the
next request, as it does for the API's remembered callers. Suspended or closed accounts
(or ones under a suspended parent) are refused on every request.

Every session, signed in or not, carries a random CSRF token; every form POST must send it
back (``csrf_token``) or is refused with 403. Signing in issues a new token and a new
cookie (no session fixation).

Lock-out: after :data:`MAX_FAILURES` failed sign-ins for one user name within
:data:`FAILURE_WINDOW` seconds, sign-in for that name is refused for :data:`LOCK_SECONDS`,
even with the right secret. The count is kept per process (a cluster multiplies it by its
node count at most).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

import orjson

COOKIE = "mx_console"
COOKIE_PATH = "/console"
MAX_AGE_SECONDS = 12 * 3600
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60
LOCK_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class SessionData:
    account_sid: str | None
    fingerprint: str | None
    csrf: str
    issued: float

    @classmethod
    def anonymous(cls) -> SessionData:
        return cls(account_sid=None, fingerprint=None, csrf=secrets.token_urlsafe(24), issued=time.time())

    @classmethod
    def signed_in(cls, account_sid: str, credential: str) -> SessionData:
        return cls(account_sid, fingerprint(credential), secrets.token_urlsafe(24), time.time())


def fingerprint(credential: str) -> str:
    """A short hash of a stored credential hash (so the cookie never carries the hash itself)."""
    return hashlib.sha256(f"mx-console:{credential}".encode()).hexdigest()[:32]


def session_key(fernet_key: bytes) -> bytes:
    return hmac.new(fernet_key, b"mx-console-session-v1", hashlib.sha256).digest()


def encode(data: SessionData, key: bytes) -> str:
    payload = base64.urlsafe_b64encode(
        orjson.dumps({"a": data.account_sid, "f": data.fingerprint, "t": data.csrf, "i": data.issued})
    ).decode()
    signature = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def decode(value: str | None, key: bytes, *, now: float | None = None) -> SessionData | None:
    """The session in a cookie value; None when absent, tampered with, malformed or expired."""
    if not value or "." not in value:
        return None
    payload, _, signature = value.rpartition(".")
    expected = hmac.new(key, payload.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(raw, dict):
        return None
    account_sid, print_, csrf, issued = raw.get("a"), raw.get("f"), raw.get("t"), raw.get("i")
    if not isinstance(csrf, str) or not isinstance(issued, int | float):
        return None
    if (now if now is not None else time.time()) - issued > MAX_AGE_SECONDS:
        return None
    return SessionData(
        account_sid if isinstance(account_sid, str) else None,
        print_ if isinstance(print_, str) else None,
        csrf,
        float(issued),
    )


def csrf_ok(session: SessionData, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode("utf-8", "surrogatepass"))


@dataclass(slots=True)
class LockOut:
    """Failed sign-ins per user name (case-insensitive); see the module docstring."""

    max_failures: int = MAX_FAILURES
    window: float = FAILURE_WINDOW
    lock_seconds: float = LOCK_SECONDS
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def _key(username: str) -> str:
        return username.strip().lower()

    def locked(self, username: str, *, now: float | None = None) -> bool:
        until = self._locked_until.get(self._key(username))
        return until is not None and (now if now is not None else time.monotonic()) < until

    def failed(self, username: str, *, now: float | None = None) -> bool:
        """Count a failure; True when the name is now locked."""
        moment = now if now is not None else time.monotonic()
        key = self._key(username)
        recent = [t for t in self._failures.get(key, []) if moment - t < self.window]
        recent.append(moment)
        self._failures[key] = recent
        if len(self._failures) > 100_000:  # bounded: forget the oldest names
            self._failures.pop(next(iter(self._failures)))
        if len(recent) >= self.max_failures:
            self._locked_until[key] = moment + self.lock_seconds
            self._failures.pop(key, None)
            return True
        return False

    def succeeded(self, username: str) -> None:
        self._failures.pop(self._key(username), None)

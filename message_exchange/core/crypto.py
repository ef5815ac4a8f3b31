"""Secrets: random tokens, their lookup hash, encryption at rest, password hashing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

# OWASP's argon2id minimum (19 MiB, t=2, p=1): ~0.1 s here instead of the library default's
# ~0.4 s, which matters because Basic auth with email + password verifies on every request.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def generate_token() -> str:
    """128 random bits as 32 hex digits (the shape Twilio/Restcomm clients expect)."""
    return secrets.token_hex(16)


def token_digest(token: str) -> str:
    """The lookup hash of a token (hex SHA-256); any string, even a malformed one, hashes."""
    # A fast hash is right here: tokens are 128-bit random, so there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def digests_match(token: str, digest: str) -> bool:
    """Constant-time check of ``token`` against a stored digest (never raises on odd input)."""
    return hmac.compare_digest(token_digest(token).encode(), digest.encode("utf-8", "surrogatepass"))


def mask(secret: str, visible: int = 4) -> str:
    """``************************cdef``: at least four stars, the last ``visible`` characters.

    A short secret shows at most a quarter of itself, so masking never reveals it whole.
    """
    if not secret:
        return ""
    shown = max(0, min(visible, len(secret) // 4))
    return "*" * max(len(secret) - shown, 4) + secret[len(secret) - shown :]


class SecretBox:
    """Encrypts secrets at rest (auth tokens, bot secrets, SMPP passwords) with Fernet."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("utf-8", "surrogatepass")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise ValueError("secret cannot be decrypted with the configured MX_SECRET_KEY") from exc


async def hash_password(password: str) -> str:
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)

"""Resource ids: a two-to-three letter prefix and 32 lowercase hex digits (a uuid4)."""

from __future__ import annotations

import os
import re
import threading

_SID_RE = re.compile(r"[A-Z]{2,3}[0-9a-f]{32}")
_POOL_BYTES = 1 << 16


class _Entropy:
    """The operating system's randomness, read 64 KiB at a time.

    A message makes about ten ids (its sid, its events', its callbacks'), each from
    ``os.urandom``: one system call apiece, a few per cent of a busy worker. One read serves
    four thousand sids here. A forked child starts on a fresh read, never its parent's bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._at = b"", 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._at + count > len(self._buffer):
                self._buffer, self._at = os.urandom(max(_POOL_BYTES, count)), 0
            out = self._buffer[self._at : self._at + count]
            self._at += count
            return out


random_bytes = _Entropy().take


def random_hex(count: int) -> str:
    """``count`` random bytes as hex (``secrets.token_hex(count)``, from the pool)."""
    return random_bytes(count).hex()


def new_sid(prefix: str) -> str:
    # uuid.uuid4().hex, built without the UUID object: a third of the time, and a batch of
    # 1,000 destinations makes three thousand of them.
    raw = bytearray(random_bytes(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return prefix + raw.hex()


def is_sid(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and len(value) == len(prefix) + 32 and _SID_RE.fullmatch(value) is not None

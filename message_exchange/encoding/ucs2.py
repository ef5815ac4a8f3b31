"""UCS-2 (SMPP ``data_coding`` 8) and Latin-1 (``data_coding`` 3).

"UCS-2" on today's networks is UTF-16 big-endian: a character outside the Basic Multilingual
Plane (most emoji) is sent as a surrogate pair, two 16-bit code units that must stay in the
same message part. Handsets reassemble and render them; splitting a pair leaves two
unpaired surrogates that render as garbage (or break a peer that re-encodes each part).
"""

from __future__ import annotations

import re
from typing import Final

from message_exchange.encoding.errors import EncodingError
from message_exchange.encoding.gsm7 import DecodeErrors

ASTRAL_RE: Final = re.compile("[\U00010000-\U0010ffff]")
"""Matches characters outside the BMP: each takes two UTF-16 code units (a surrogate pair)."""

SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
"""Matches surrogate code points standing alone in a str: not valid Unicode text."""

_FIRST_ASTRAL: Final = "\U00010000"


def ucs2_units(text: str) -> int:
    """UTF-16 code units the text takes: 1 per BMP character, 2 per astral character."""
    if not text or max(text) < _FIRST_ASTRAL:
        return len(text)
    return len(text) + len(ASTRAL_RE.findall(text))


def encode_ucs2(text: str) -> bytes:
    """UTF-16-BE, astral characters as surrogate pairs. Unpaired surrogates raise EncodingError."""
    try:
        return text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"cannot encode as UCS-2: {exc.reason} at {exc.start}") from exc


def decode_ucs2(data: bytes, *, errors: DecodeErrors = "strict") -> str:
    """Decode UTF-16-BE. An odd trailing octet or an unpaired surrogate raises, or becomes U+FFFD."""
    try:
        return data.decode("utf-16-be", errors)
    except UnicodeDecodeError as exc:
        raise EncodingError(f"cannot decode UCS-2: {exc.reason} at octet {exc.start}") from exc


def is_latin1(text: str) -> bool:
    """Whether every character is in ISO-8859-1 (U+0000 to U+00FF)."""
    return not text or max(text) <= "\xff"


def encode_latin1(text: str) -> bytes:
    """ISO-8859-1, one octet per character. Characters above U+00FF raise EncodingError."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"character U+{ord(text[exc.start]):04X} at {exc.start} is not in Latin-1") from exc


def decode_latin1(data: bytes) -> str:
    """ISO-8859-1: every octet is a character, so this never fails."""
    return data.decode("latin-1")

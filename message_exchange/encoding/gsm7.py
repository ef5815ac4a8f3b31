"""GSM 03.38 (3GPP TS 23.038) 7-bit default alphabet and its basic extension table.

Two representations of GSM-7 text appear on the wire:

* **unpacked septets** — one octet per septet, values 0x00–0x7F. This is what SMPP 3.4
  carries in ``short_message`` / ``message_payload`` with ``data_coding`` 0; the SMSC packs it
  for the air interface. :func:`encode_gsm7` / :func:`decode_gsm7` work in this form.
* **packed septets** — 8 septets in 7 octets, least significant bit first, as in the SMS
  TP-User-Data. :func:`pack_septets` / :func:`unpack_septets` convert, with the fill bits that
  align the first septet after a User Data Header.

A character of the extension table takes two septets: the escape 0x1B then its code. The
two must never be separated (see :mod:`message_exchange.encoding.segments`).

Only the default alphabet and the basic extension table are supported (no national language
shift tables). The mapping is strict: ``Ç`` (0x09) is GSM-7, ``ç`` is not (some encoders map
``ç`` to 0x09 lossily; we send it as UCS-2 so the recipient sees what was written).

Note for SMPP: ``@`` encodes as octet 0x00. ``short_message`` is an octet string with an
explicit ``sm_length``, so NUL is legal there, but peers that treat the body as a C string
truncate the message at the first ``@``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

from message_exchange.encoding.errors import EncodingError

ESCAPE: Final = 0x1B
"""The septet that switches the next septet to the extension table."""

CR: Final = 0x0D

# The default alphabet, septet 0x00 to 0x7F, 16 per row. 0x1B is the escape, not a character.
GSM7_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)

GSM7_EXTENSION: Final[Mapping[str, int]] = {
    "\f": 0x0A,  # form feed (page break)
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
"""Characters reached through the escape: character → septet following 0x1B."""

_BASIC_CODES: Final[dict[str, int]] = {char: code for code, char in enumerate(GSM7_BASIC) if code != ESCAPE}
_EXTENSION_BY_CODE: Final[dict[int, str]] = {code: char for char, code in GSM7_EXTENSION.items()}

# str.translate tables: character → its septet(s) as latin-1 characters (encode); septet → character (decode).
_ENCODE_TABLE: Final[dict[int, str]] = {
    **{ord(char): chr(code) for char, code in _BASIC_CODES.items()},
    **{ord(char): chr(ESCAPE) + chr(code) for char, code in GSM7_EXTENSION.items()},
}
_DECODE_TABLE: Final[dict[int, str]] = {code: char for char, code in _BASIC_CODES.items()}


def _char_class(chars: str) -> str:
    return "".join(f"\\u{ord(char):04x}" for char in sorted(set(chars)))


NON_GSM7_RE: Final = re.compile("[^" + _char_class("".join(_BASIC_CODES) + "".join(GSM7_EXTENSION)) + "]")
"""Matches any character outside the default alphabet and the extension table."""

EXTENSION_RE: Final = re.compile("[" + _char_class("".join(GSM7_EXTENSION)) + "]")
"""Matches the characters that take two septets."""

_INVALID_SEPTET_RE: Final = re.compile(rb"[\x80-\xff]")

DecodeErrors = Literal["strict", "replace"]


def is_gsm7(text: str) -> bool:
    """Whether every character is in the default alphabet or the basic extension table."""
    return NON_GSM7_RE.search(text) is None


def gsm7_septets(text: str) -> int:
    """Septets the text takes: 1 per character, 2 per extension character. Raises if not GSM-7."""
    _require_gsm7(text)
    return len(text) + len(EXTENSION_RE.findall(text))


def encode_gsm7(text: str) -> bytes:
    """Unpacked septets (one octet each), extension characters as 0x1B + code."""
    _require_gsm7(text)
    return text.translate(_ENCODE_TABLE).encode("latin-1")


def decode_gsm7(data: bytes, *, errors: DecodeErrors = "strict") -> str:
    """Decode unpacked septets.

    Follows 3GPP TS 23.038: an escape followed by a code the extension table does not define
    shows the default-alphabet character of that code; 0x1B 0x1B (reserved for a further
    table) shows a space. Octets above 0x7F and a dangling final escape are errors: with
    ``errors="strict"`` they raise :class:`EncodingError`, with ``"replace"`` they become U+FFFD.
    """
    if ESCAPE not in data and _INVALID_SEPTET_RE.search(data) is None:
        return data.decode("latin-1").translate(_DECODE_TABLE)
    out: list[str] = []
    index = 0
    length = len(data)
    while index < length:
        code = data[index]
        index += 1
        if code > 0x7F:
            out.append(_decode_error(errors, f"octet 0x{code:02X} is not a septet", index - 1))
        elif code != ESCAPE:
            out.append(_DECODE_TABLE[code])
        elif index == length:
            out.append(_decode_error(errors, "escape septet at the end of the data", index - 1))
        else:
            follower = data[index]
            index += 1
            if follower == ESCAPE:
                out.append(" ")
            elif follower > 0x7F:
                out.append(_decode_error(errors, f"octet 0x{follower:02X} is not a septet", index - 1))
            else:
                out.append(_EXTENSION_BY_CODE.get(follower) or _DECODE_TABLE[follower])
    return "".join(out)


def pack_septets(septets: bytes, *, fill_bits: int = 0, pad_cr: bool = False) -> bytes:
    """Pack septets 8-into-7 octets, least significant bit first (3GPP TS 23.038 §6.1.2.1).

    ``fill_bits`` (0–6) zero bits come first, so the first septet starts on a septet boundary
    after a User Data Header (see :func:`udh_fill_bits`). ``pad_cr`` applies the rule for
    carriers without a septet count (USSD, CBS; §6.1.2.3.1): when 7 spare bits would remain
    they hold a CR instead of zeros (which would read as ``@``), and a message that ends on an
    octet boundary with a wanted CR gets a second CR. SMS does not need it: TP-UDL counts septets.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError("fill_bits must be between 0 and 6")
    if _INVALID_SEPTET_RE.search(septets) is not None:
        raise EncodingError("septets must be between 0x00 and 0x7F")
    if pad_cr:
        spare = -(fill_bits + 7 * len(septets)) % 8
        if spare == 7 or (spare == 0 and septets.endswith(b"\r")):
            septets += b"\r"
    # One big little-endian integer: septet i occupies bits fill + 7i … fill + 7i + 6.
    value = 0
    shift = fill_bits
    for septet in septets:
        value |= septet << shift
        shift += 7
    return value.to_bytes((shift + 7) // 8, "little")


def unpack_septets(data: bytes, count: int | None = None, *, fill_bits: int = 0) -> bytes:
    """Unpack octets into septets (the inverse of :func:`pack_septets`).

    With ``count`` (the SMS TP-UDL), exactly that many septets are returned. Without it, every
    whole septet in the data is returned, except that when the septets fill the octets exactly
    and the last one is CR, that CR is taken for the §6.1.2.3.1 padding and dropped. So data
    packed with ``pad_cr=True`` unpacks to the original septets, except a message ending in a
    wanted CR on an octet boundary, which reads back with the spec's doubled CR (displayed the same).
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError("fill_bits must be between 0 and 6")
    available_bits = 8 * len(data) - fill_bits
    whole = max(available_bits, 0) // 7
    if count is None:
        count = whole
        strip_cr = count > 0 and available_bits == 7 * count
    else:
        if not 0 <= count <= whole:
            raise EncodingError(f"{len(data)} octets hold {whole} septets, not {count}")
        strip_cr = False
    value = int.from_bytes(data, "little") >> fill_bits
    septets = bytearray(count)
    for index in range(count):
        septets[index] = value & 0x7F
        value >>= 7
    if strip_cr and septets[-1] == CR:
        del septets[-1]
    return bytes(septets)


def udh_fill_bits(udh_length: int) -> int:
    """Zero bits between a UDH of ``udh_length`` octets (with its UDHL octet) and the first septet."""
    return -(8 * udh_length) % 7


def _require_gsm7(text: str) -> None:
    match = NON_GSM7_RE.search(text)
    if match is not None:
        raise EncodingError(f"character U+{ord(match.group()):04X} at {match.start()} is not in the GSM-7 alphabet")


def _decode_error(errors: DecodeErrors, reason: str, position: int) -> str:
    if errors == "strict":
        raise EncodingError(f"cannot decode GSM-7: {reason} (position {position})")
    return "\ufffd"

"""Choosing the encoding of a message body and cutting it into SMS segments.

A body goes as GSM-7 when every character is in the GSM 03.38 default alphabet or its
extension table, otherwise as UCS-2 (UTF-16). One SMS carries 140 octets of user data:

========  ===========  ============================  ==============================
encoding  unit         one segment                   each part of a longer message
========  ===========  ============================  ==============================
GSM-7     septet       160                           153 (140 − 6-octet UDH, 1 fill bit)
UCS-2     code unit    70                            67
========  ===========  ============================  ==============================

With a 16-bit concatenation reference (7-octet UDH) the part sizes are 152 and 66.

An extension character (two septets, 0x1B + code) and an astral character (a surrogate
pair, two code units) are never split across parts, so a part may be one unit shorter than
the maximum. Parts are filled greedily, which is optimal: no split obeying that rule has
fewer parts.

Both :func:`segment` and :func:`count_segments` are O(n) with the scanning done by the
regex engine; a Python-level loop only runs over the two-unit characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from message_exchange.encoding.errors import BodyNotText, BodyTooLong
from message_exchange.encoding.gsm7 import EXTENSION_RE, NON_GSM7_RE
from message_exchange.encoding.ucs2 import ASTRAL_RE, SURROGATE_RE

MAX_BODY_CHARS: Final = 1600
"""Longest body the Messages API accepts, in characters as the user sees them (code points)."""

USER_DATA_OCTETS: Final = 140
CONCAT_UDH_LENGTH: Final = 6
"""Octets of the concatenation UDH with an 8-bit reference: UDHL, IEI 0x00, IEDL, ref, total, seq."""
CONCAT16_UDH_LENGTH: Final = 7
"""Octets of the concatenation UDH with a 16-bit reference (IEI 0x08)."""

GSM7_SINGLE_SEPTETS: Final = 160
UCS2_SINGLE_UNITS: Final = 70


class TextEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """How a body travels as SMS: its encoding and the text of each part, in order.

    ``units`` is the size of the whole body in the encoding's unit (septets for GSM-7, UTF-16
    code units for UCS-2). An empty body is one empty part.
    """

    encoding: TextEncoding
    parts: tuple[str, ...]
    units: int

    @property
    def num_segments(self) -> int:
        return len(self.parts)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def gsm7_part_septets(udh_length: int = CONCAT_UDH_LENGTH) -> int:
    """Septets in one part of a concatenated GSM-7 message after a UDH of ``udh_length`` octets."""
    return (8 * (USER_DATA_OCTETS - udh_length)) // 7


def ucs2_part_units(udh_length: int = CONCAT_UDH_LENGTH) -> int:
    """UTF-16 code units in one part of a concatenated UCS-2 message."""
    return (USER_DATA_OCTETS - udh_length) // 2


def segment(text: str, *, force_ucs2: bool = False, udh_length: int = CONCAT_UDH_LENGTH) -> SegmentPlan:
    """Choose the encoding of ``text`` and cut it into parts.

    ``force_ucs2`` sends a GSM-7-compatible text as UCS-2 anyway. ``udh_length`` is the UDH
    each part of a concatenated message carries (7 for a 16-bit reference).
    """
    encoding, heavy, single, multi = _layout(text, force_ucs2, udh_length)
    ends = _part_ends(len(text), heavy, single, multi)
    parts: list[str] = []
    start = 0
    for end in ends:
        parts.append(text[start:end])
        start = end
    return SegmentPlan(encoding=encoding, parts=tuple(parts), units=len(text) + len(heavy))


def count_segments(text: str, *, force_ucs2: bool = False, udh_length: int = CONCAT_UDH_LENGTH) -> int:
    """``segment(text).num_segments`` without building the parts (the Messages API's ``num_segments``)."""
    _, heavy, single, multi = _layout(text, force_ucs2, udh_length)
    length = len(text)
    if length + len(heavy) <= single:
        return 1
    if not heavy:
        return math.ceil(length / multi)
    return len(_part_ends(length, heavy, single, multi))


def body_length(text: str) -> int:
    """Length of a body as counted against :data:`MAX_BODY_CHARS`.

    Code points: an emoji outside the BMP counts 1 (as the user sees it, though it takes two
    UCS-2 units in the segments); a sequence joined by ZWJ or with a skin-tone modifier counts
    each of its code points.
    """
    return len(text)


def validate_body(text: str, *, max_chars: int = MAX_BODY_CHARS) -> None:
    """Raise :class:`BodyTooLong` or :class:`BodyNotText` for a body the API must refuse with 400.

    NUL and unpaired surrogates (JSON can carry ``"\\ud83d"``) are refused: they cannot be
    stored (PostgreSQL text, UTF-8) nor encoded for the network.
    """
    length = body_length(text)
    if length > max_chars:
        raise BodyTooLong(length, max_chars)
    nul = text.find("\x00")
    if nul >= 0:
        raise BodyNotText(nul, "NUL character")
    surrogate = SURROGATE_RE.search(text)
    if surrogate is not None:
        raise BodyNotText(surrogate.start(), f"unpaired surrogate U+{ord(surrogate.group()):04X}")


def _layout(text: str, force_ucs2: bool, udh_length: int) -> tuple[TextEncoding, list[int], int, int]:
    """Encoding, positions of the characters that take two units, single-part size, part size."""
    if not force_ucs2 and NON_GSM7_RE.search(text) is None:
        heavy = [match.start() for match in EXTENSION_RE.finditer(text)]
        return TextEncoding.GSM7, heavy, GSM7_SINGLE_SEPTETS, gsm7_part_septets(udh_length)
    heavy = [match.start() for match in ASTRAL_RE.finditer(text)]
    return TextEncoding.UCS2, heavy, UCS2_SINGLE_UNITS, ucs2_part_units(udh_length)


def _part_ends(length: int, heavy: Sequence[int], single: int, multi: int) -> list[int]:
    """End index (exclusive) of each part of a text of ``length`` characters.

    Characters weigh one unit, except those at the (ascending) ``heavy`` positions, which
    weigh two and are indivisible. One part if the total fits ``single`` units, else greedy
    parts of at most ``multi`` units.
    """
    if length + len(heavy) <= single:
        return [length]
    if multi < 2:
        raise ValueError("a part must hold at least two units")
    ends: list[int] = []
    start = 0
    next_heavy = 0
    count = len(heavy)
    while start < length:
        # The window [start, end) weighs (end - start) + heavy characters counted so far ≤ multi.
        end = start + multi
        while next_heavy < count and heavy[next_heavy] < end:
            end -= 1  # the heavy character's second unit pushes the window's last character out
            if heavy[next_heavy] >= end:
                break  # it was that last character: it starts the next part instead
            next_heavy += 1
        end = min(end, length)
        ends.append(end)
        start = end
    return ends

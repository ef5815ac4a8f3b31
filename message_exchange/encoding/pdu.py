"""Message parts for SMPP 3.4 ``submit_sm`` and reassembly of concatenated ``deliver_sm``.

Long messages leave in one of three ways (:class:`ConcatMethod`):

* ``udh`` / ``udh16`` — each part's ``short_message`` starts with a User Data Header
  holding the concatenation IE (3GPP TS 23.040 §9.2.3.24.1 / .8) and ``esm_class`` has
  UDHI (0x40) set. 8-bit reference: ``05 00 03 ref total seq``; 16-bit:
  ``06 08 04 refhi reflo total seq``.
* ``sar`` — plain ``short_message`` parts plus the ``sar_msg_ref_num`` (16-bit),
  ``sar_total_segments`` and ``sar_segment_seqnum`` TLVs. The SMSC builds the UDH, so parts
  are sized to leave room for it: a 6-octet UDH when the reference fits 8 bits, else 7.
* ``message_payload`` — the whole message in one ``message_payload`` TLV; the SMSC splits.

Part sizes on the air (140 octets of user data):

============================  ======  ==============  ===============
data_coding                   single  part, 8-bit ref  part, 16-bit ref
============================  ======  ==============  ===============
0 GSM-7 (septets)             160     153             152
8 UCS-2 (code units)          70      67              66
3 Latin-1 (octets)            140     134             133
============================  ======  ==============  ===============

GSM-7 goes unpacked (one octet per septet, so a 153-septet part is a 159-octet
``short_message``) unless ``pack_gsm7`` is asked for. Escape pairs and surrogate pairs are
never split (see :mod:`message_exchange.encoding.segments`).

For reassembly, join the parts' *bytes* (:func:`reassemble`) and decode once: a sender that
split an escape pair or a surrogate pair still decodes correctly that way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from message_exchange.encoding.errors import EncodingError, UdhError
from message_exchange.encoding.gsm7 import (
    DecodeErrors,
    decode_gsm7,
    encode_gsm7,
    is_gsm7,
    pack_septets,
    udh_fill_bits,
)
from message_exchange.encoding.segments import (
    CONCAT16_UDH_LENGTH,
    CONCAT_UDH_LENGTH,
    USER_DATA_OCTETS,
    TextEncoding,
    segment,
)
from message_exchange.encoding.ucs2 import decode_latin1, decode_ucs2, encode_latin1, encode_ucs2, is_latin1

IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08


class DataCoding(IntEnum):
    """The SMPP ``data_coding`` values this project sends."""

    SMSC_DEFAULT = 0x00  # carried as GSM 03.38 septets
    LATIN1 = 0x03
    UCS2 = 0x08


class ConcatMethod(StrEnum):
    UDH = "udh"
    UDH16 = "udh16"
    SAR = "sar"
    PAYLOAD = "message_payload"


@dataclass(frozen=True, slots=True)
class SarParams:
    msg_ref_num: int
    total_segments: int
    segment_seqnum: int


@dataclass(frozen=True, slots=True)
class PduPart:
    """One ``submit_sm`` worth of a message.

    ``index`` counts from 1 to ``total``. ``data`` is the encoded text of the part (``text``)
    without any UDH. ``udh`` is set for the UDH methods (send ``short_message`` with
    ``esm_class`` UDHI), ``sar`` for the SAR method; both are None for a single-part message
    and for ``message_payload``. ``ref`` is None for a single-part message.
    """

    index: int
    total: int
    ref: int | None
    data_coding: DataCoding
    text: str
    data: bytes
    udh: bytes | None = None
    sar: SarParams | None = None

    @property
    def short_message(self) -> bytes:
        return self.data if self.udh is None else self.udh + self.data

    @property
    def udhi(self) -> bool:
        """Whether ``esm_class`` must carry the UDH indicator (0x40)."""
        return self.udh is not None


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    """One part of a concatenated message: from a UDH (:func:`parse_udh`) or from SAR TLVs."""

    ref: int
    total: int
    seq: int
    body: bytes


def concat_udh(ref: int, total: int, seq: int, *, ref_bits: int = 8) -> bytes:
    """The UDH (with its UDHL octet) carrying only the concatenation IE."""
    _check_part_numbers(total, seq)
    if ref_bits == 8:
        _check_ref(ref, 0xFF)
        return bytes((5, IEI_CONCAT_8BIT, 3, ref, total, seq))
    if ref_bits == 16:
        _check_ref(ref, 0xFFFF)
        return bytes((6, IEI_CONCAT_16BIT, 4, ref >> 8, ref & 0xFF, total, seq))
    raise ValueError("ref_bits must be 8 or 16")


def split_for_smpp(
    text: str,
    *,
    ref: int,
    method: ConcatMethod = ConcatMethod.UDH,
    data_coding: DataCoding | None = None,
    pack_gsm7: bool = False,
) -> tuple[PduPart, ...]:
    """Cut ``text`` into ``submit_sm`` parts.

    ``data_coding`` None picks GSM-7 (0) when the text allows it, else UCS-2 (8). Asking for
    0 or 3 with a text that charset cannot hold raises :class:`EncodingError` (the caller
    falls back to UCS-2). ``ref`` is the concatenation reference: 0–255 for ``udh``, 0–65535
    otherwise; it is not used when the text fits one part. ``pack_gsm7`` sends GSM-7 packed
    (with the fill bits after the UDH) for SMSCs that want the TP-UD form; not with SAR.
    """
    if method is ConcatMethod.UDH:
        _check_ref(ref, 0xFF)
    else:
        _check_ref(ref, 0xFFFF)
    if pack_gsm7 and method is ConcatMethod.SAR:
        raise ValueError("packed GSM-7 cannot go with SAR: the SMSC inserts the UDH and the fill bits")
    coding = _choose_coding(text, data_coding)
    if method is ConcatMethod.PAYLOAD:
        return (PduPart(1, 1, None, coding, text, _encode(text, coding, pack=pack_gsm7)),)
    udh_length = CONCAT16_UDH_LENGTH if method is ConcatMethod.UDH16 or ref > 0xFF else CONCAT_UDH_LENGTH
    texts = _split_text(text, coding, udh_length)
    total = len(texts)
    if total == 1:
        return (PduPart(1, 1, None, coding, text, _encode(text, coding, pack=pack_gsm7)),)
    if total > 255:
        raise EncodingError(f"{total} parts: concatenation allows at most 255")
    parts: list[PduPart] = []
    for index, part_text in enumerate(texts, start=1):
        if method is ConcatMethod.SAR:
            data = _encode(part_text, coding, pack=pack_gsm7)
            parts.append(PduPart(index, total, ref, coding, part_text, data, sar=SarParams(ref, total, index)))
        else:
            udh = concat_udh(ref, total, index, ref_bits=8 if udh_length == CONCAT_UDH_LENGTH else 16)
            data = _encode(part_text, coding, pack=pack_gsm7, fill_bits=udh_fill_bits(len(udh)))
            parts.append(PduPart(index, total, ref, coding, part_text, data, udh=udh))
    return tuple(parts)


def split_udh(short_message: bytes) -> tuple[tuple[tuple[int, bytes], ...], bytes]:
    """Separate a UDH from the body: ``((iei, data), …)`` in order, and the octets after the UDH."""
    if not short_message:
        raise UdhError("UDHI set but the message is empty")
    udhl = short_message[0]
    if udhl + 1 > len(short_message):
        raise UdhError(f"UDH length {udhl} runs past the {len(short_message)}-octet message")
    header = short_message[1 : udhl + 1]
    elements: list[tuple[int, bytes]] = []
    position = 0
    while position < len(header):
        if position + 2 > len(header):
            raise UdhError("information element header runs past the UDH")
        iei, length = header[position], header[position + 1]
        if position + 2 + length > len(header):
            raise UdhError(f"information element 0x{iei:02X} runs past the UDH")
        elements.append((iei, bytes(header[position + 2 : position + 2 + length])))
        position += 2 + length
    return tuple(elements), bytes(short_message[udhl + 1 :])


def parse_udh(short_message: bytes) -> ConcatInfo | None:
    """The concatenation IE of a ``short_message`` sent with UDHI, and the body after the UDH.

    None when the UDH has no valid concatenation IE (23.040: an IE with total or sequence 0,
    or a sequence past the total, is ignored); then the message stands alone
    (:func:`split_udh` gives its body). When the IE repeats, the last one counts (23.040
    §9.2.3.24). A malformed UDH raises :class:`UdhError`.
    """
    elements, body = split_udh(short_message)
    found: ConcatInfo | None = None
    for iei, data in elements:
        if iei == IEI_CONCAT_8BIT and len(data) == 3:
            candidate = ConcatInfo(ref=data[0], total=data[1], seq=data[2], body=body)
        elif iei == IEI_CONCAT_16BIT and len(data) == 4:
            candidate = ConcatInfo(ref=(data[0] << 8) | data[1], total=data[2], seq=data[3], body=body)
        else:
            continue
        if 1 <= candidate.seq <= candidate.total:
            found = candidate
    return found


def reassemble(parts: Iterable[ConcatInfo]) -> bytes:
    """Join the bodies of all parts of one message in sequence order.

    Duplicate parts (a re-sent ``deliver_sm``) are ignored. Raises ``ValueError`` when parts
    disagree on reference or total, or when a part is missing.
    """
    by_seq: dict[int, bytes] = {}
    key: tuple[int, int] | None = None
    for part in parts:
        if key is None:
            key = (part.ref, part.total)
        elif key != (part.ref, part.total):
            raise ValueError("parts of different messages (reference or total differ)")
        by_seq.setdefault(part.seq, part.body)
    if key is None:
        raise ValueError("no parts")
    total = key[1]
    missing = [seq for seq in range(1, total + 1) if seq not in by_seq]
    if missing or len(by_seq) != total:
        raise ValueError(f"incomplete message: parts {missing} of {total} missing")
    return b"".join(by_seq[seq] for seq in range(1, total + 1))


def decode_short_message(data: bytes, data_coding: int, *, errors: DecodeErrors = "replace") -> str:
    """Decode an MO body by its ``data_coding`` (UDH already removed).

    0 and the GSM message-class group 0xF0–0xF3 are GSM-7 septets, unpacked; 1 (IA5) is read
    as ASCII-compatible Latin-1; 3 is Latin-1; 8 is UCS-2/UTF-16. Binary and the other
    national charsets raise :class:`EncodingError`.
    """
    if data_coding == 0 or 0xF0 <= data_coding <= 0xF3:
        return decode_gsm7(data, errors=errors)
    if data_coding in (1, 3):
        return decode_latin1(data)
    if data_coding == 8:
        return decode_ucs2(data, errors=errors)
    raise EncodingError(f"data_coding 0x{data_coding:02X} is not text this exchange decodes")


def _choose_coding(text: str, requested: DataCoding | None) -> DataCoding:
    if requested is None:
        return DataCoding.SMSC_DEFAULT if is_gsm7(text) else DataCoding.UCS2
    if requested is DataCoding.SMSC_DEFAULT and not is_gsm7(text):
        raise EncodingError("text is not GSM-7: cannot send with data_coding 0")
    if requested is DataCoding.LATIN1 and not is_latin1(text):
        raise EncodingError("text is not Latin-1: cannot send with data_coding 3")
    return requested


def _split_text(text: str, coding: DataCoding, udh_length: int) -> list[str]:
    if coding is DataCoding.LATIN1:
        if len(text) <= USER_DATA_OCTETS:
            return [text]
        size = USER_DATA_OCTETS - udh_length
        return [text[start : start + size] for start in range(0, len(text), size)]
    plan = segment(text, force_ucs2=coding is DataCoding.UCS2, udh_length=udh_length)
    expected = TextEncoding.UCS2 if coding is DataCoding.UCS2 else TextEncoding.GSM7
    if plan.encoding is not expected:  # pragma: no cover - _choose_coding guarantees it
        raise EncodingError(f"text is not {expected}")
    return list(plan.parts)


def _encode(text: str, coding: DataCoding, *, pack: bool, fill_bits: int = 0) -> bytes:
    if coding is DataCoding.SMSC_DEFAULT:
        septets = encode_gsm7(text)
        return pack_septets(septets, fill_bits=fill_bits) if pack else septets
    if coding is DataCoding.UCS2:
        return encode_ucs2(text)
    return encode_latin1(text)


def _check_ref(ref: int, limit: int) -> None:
    if not 0 <= ref <= limit:
        raise ValueError(f"concatenation reference {ref} is outside 0–{limit}")


def _check_part_numbers(total: int, seq: int) -> None:
    if not 1 <= seq <= total <= 255:
        raise ValueError(f"part {seq} of {total} is not a valid concatenation position")

"""GSM-7 / UCS-2 / Latin-1 encoding, SMS segmentation and SMPP concatenation (pure logic, no I/O).

- :mod:`.gsm7` — GSM 03.38 alphabet: detection, septet counting, (un)packed septets.
- :mod:`.ucs2` — UTF-16 "UCS-2" and Latin-1.
- :mod:`.segments` — encoding choice, segment plans, ``num_segments``, body validation.
- :mod:`.pdu` — ``submit_sm`` parts with UDH or SAR, UDH parsing and MO reassembly.
"""

from message_exchange.encoding.errors import BodyError, BodyNotText, BodyTooLong, EncodingError, UdhError
from message_exchange.encoding.gsm7 import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    decode_gsm7,
    encode_gsm7,
    gsm7_septets,
    is_gsm7,
    pack_septets,
    udh_fill_bits,
    unpack_septets,
)
from message_exchange.encoding.pdu import (
    ConcatInfo,
    ConcatMethod,
    DataCoding,
    PduPart,
    SarParams,
    concat_udh,
    decode_short_message,
    parse_udh,
    reassemble,
    split_for_smpp,
    split_udh,
)
from message_exchange.encoding.segments import (
    MAX_BODY_CHARS,
    SegmentPlan,
    TextEncoding,
    body_length,
    count_segments,
    segment,
    validate_body,
)
from message_exchange.encoding.ucs2 import (
    decode_latin1,
    decode_ucs2,
    encode_latin1,
    encode_ucs2,
    is_latin1,
    ucs2_units,
)

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_BODY_CHARS",
    "BodyError",
    "BodyNotText",
    "BodyTooLong",
    "ConcatInfo",
    "ConcatMethod",
    "DataCoding",
    "EncodingError",
    "PduPart",
    "SarParams",
    "SegmentPlan",
    "TextEncoding",
    "UdhError",
    "body_length",
    "concat_udh",
    "count_segments",
    "decode_gsm7",
    "decode_latin1",
    "decode_short_message",
    "decode_ucs2",
    "encode_gsm7",
    "encode_latin1",
    "encode_ucs2",
    "gsm7_septets",
    "is_gsm7",
    "is_latin1",
    "pack_septets",
    "parse_udh",
    "reassemble",
    "segment",
    "split_for_smpp",
    "split_udh",
    "ucs2_units",
    "udh_fill_bits",
    "unpack_septets",
    "validate_body",
]

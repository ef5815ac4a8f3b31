"""A slow, obvious reference for the property tests, written from the standards, not from our module.

Sources: 3GPP TS 23.038 §6.2.1 (GSM 7-bit default alphabet, table 6.2.1.1) and §6.2.1.1
(default alphabet extension table), §6.1.2.1 (packing of 7-bit characters); 3GPP TS
23.040 §9.2.3.24.1 (concatenation IE); RFC 2781 (UTF-16 surrogate pairs). The tables are
Unicode code points, row by row, as printed in the standard; nothing here imports
``message_exchange``.

Everything works one character, one bit, one candidate split at a time.
"""

from __future__ import annotations

# Table 6.2.1.1: septet → Unicode code point. None marks 0x1B, the escape to the extension table.
DEFAULT_ALPHABET: tuple[int | None, ...] = (
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,  # 0x00  @ £ $ ¥ è é ù ì
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,  # 0x08  ò Ç LF Ø ø CR Å å
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,  # 0x10  Δ _ Φ Γ Λ Ω Π Ψ
    0x03A3, 0x0398, 0x039E, None,   0x00C6, 0x00E6, 0x00DF, 0x00C9,  # 0x18  Σ Θ Ξ ESC Æ æ ß É
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,  # 0x20  SP ! " # ¤ % & '
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,  # 0x28  ( ) * + , - . /
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,  # 0x30  0 1 2 3 4 5 6 7
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,  # 0x38  8 9 : ; < = > ?
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,  # 0x40  ¡ A B C D E F G
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,  # 0x48  H I J K L M N O
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,  # 0x50  P Q R S T U V W
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,  # 0x58  X Y Z Ä Ö Ñ Ü §
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,  # 0x60  ¿ a b c d e f g
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,  # 0x68  h i j k l m n o
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,  # 0x70  p q r s t u v w
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,  # 0x78  x y z ä ö ñ ü à
)  # fmt: skip

ESCAPE = 0x1B

# §6.2.1.1: septet after the escape → Unicode code point.
EXTENSION: dict[int, int] = {
    0x0A: 0x000C,  # FORM FEED
    0x14: 0x005E,  # CIRCUMFLEX ACCENT
    0x28: 0x007B,  # LEFT CURLY BRACKET
    0x29: 0x007D,  # RIGHT CURLY BRACKET
    0x2F: 0x005C,  # REVERSE SOLIDUS
    0x3C: 0x005B,  # LEFT SQUARE BRACKET
    0x3D: 0x007E,  # TILDE
    0x3E: 0x005D,  # RIGHT SQUARE BRACKET
    0x40: 0x007C,  # VERTICAL LINE
    0x65: 0x20AC,  # EURO SIGN
}

BASIC_CHARS: str = "".join(chr(cp) for cp in DEFAULT_ALPHABET if cp is not None)
EXTENSION_CHARS: str = "".join(chr(cp) for cp in EXTENSION.values())
ALL_GSM_CHARS: str = BASIC_CHARS + EXTENSION_CHARS

# Octets of TP-User-Data in one SMS (23.040 §9.2.3.16), and the limits that follow from it.
USER_DATA_OCTETS = 140
LIMITS: dict[tuple[str, int], tuple[int, int]] = {
    # (encoding, UDH octets) → (units in a single SMS, units in each part of a concatenated one)
    ("GSM-7", 6): (160, 153),  # 6 UDH octets = 48 bits + 1 fill bit = 7 septets: 160 - 7
    ("GSM-7", 7): (160, 152),  # 7 UDH octets = 56 bits = 8 septets
    ("UCS-2", 6): (70, 67),
    ("UCS-2", 7): (70, 66),
    ("Latin-1", 6): (140, 134),
    ("Latin-1", 7): (140, 133),
}


_SEPTETS_BY_CP: dict[int, list[int]] = {
    **{cp: [septet] for septet, cp in enumerate(DEFAULT_ALPHABET) if cp is not None},
    **{cp: [ESCAPE, code] for code, cp in EXTENSION.items()},
}


def septets_of(char: str) -> list[int] | None:
    """The septet(s) of one character, or None when it is not in the alphabet."""
    return _SEPTETS_BY_CP.get(ord(char))


def is_gsm7(text: str) -> bool:
    return all(septets_of(char) is not None for char in text)


def encode(text: str) -> bytes:
    out: list[int] = []
    for char in text:
        septets = septets_of(char)
        assert septets is not None, f"{char!r} is not GSM-7"
        out.extend(septets)
    return bytes(out)


def decode(septets: bytes) -> str:
    """Lenient decoding as 23.038 asks of a receiver: unknown escapes show the base character, 1B 1B a space.

    A trailing lone escape and octets above 0x7F become U+FFFD.
    """
    out = ""
    i = 0
    while i < len(septets):
        septet = septets[i]
        if septet > 0x7F:
            out += "\ufffd"
            i += 1
        elif septet != ESCAPE:
            cp = DEFAULT_ALPHABET[septet]
            assert cp is not None
            out += chr(cp)
            i += 1
        elif i + 1 == len(septets):
            out += "\ufffd"
            i += 1
        else:
            follower = septets[i + 1]
            if follower in EXTENSION:
                out += chr(EXTENSION[follower])
            elif follower == ESCAPE:
                out += " "
            elif follower > 0x7F:
                out += "\ufffd"
            else:
                base = DEFAULT_ALPHABET[follower]
                assert base is not None
                out += chr(base)
            i += 2
    return out


def pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """§6.1.2.1 packing with a list of bits: septet bits LSB first, octets filled LSB first."""
    bits: list[int] = [0] * fill_bits
    for septet in septets:
        bits.extend((septet >> k) & 1 for k in range(7))
    while len(bits) % 8:
        bits.append(0)
    return bytes(sum(bits[i + k] << k for k in range(8)) for i in range(0, len(bits), 8))


def unpack(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    bits = [(octet >> k) & 1 for octet in data for k in range(8)][fill_bits:]
    return bytes(sum(bits[7 * i + k] << k for k in range(7)) for i in range(count))


def utf16_units(char: str) -> list[int]:
    """RFC 2781 §2.1: a code point above U+FFFF becomes a high and a low surrogate."""
    cp = ord(char)
    if cp < 0x10000:
        return [cp]
    cp -= 0x10000
    return [0xD800 | (cp >> 10), 0xDC00 | (cp & 0x3FF)]


def encode_utf16be(text: str) -> bytes:
    return b"".join(unit.to_bytes(2, "big") for char in text for unit in utf16_units(char))


def encoding_for(text: str, force_ucs2: bool = False) -> str:
    return "GSM-7" if not force_ucs2 and is_gsm7(text) else "UCS-2"


def units(text: str, encoding: str) -> int:
    """Size in the encoding's unit: septets, UTF-16 code units or Latin-1 octets."""
    if encoding == "GSM-7":
        return len(encode(text))
    if encoding == "UCS-2":
        return sum(len(utf16_units(char)) for char in text)
    return len(text.encode("latin-1"))


def min_segments(text: str, encoding: str, udh_octets: int = 6) -> int:
    """Fewest parts when cuts fall only between characters, by dynamic programming over prefixes.

    fewest[i] = parts needed for text[:i]; the last part is text[j:i] for the smallest j whose
    weight fits (fewest is non-decreasing in i, so the smallest feasible j is the best one).
    """
    single, multi = LIMITS[(encoding, udh_octets)]
    if units(text, encoding) <= single:
        return 1
    weights = [units(char, encoding) for char in text]
    fewest = [0] * (len(text) + 1)
    j = 0
    window = 0
    for i in range(1, len(text) + 1):
        window += weights[i - 1]
        while window > multi:
            window -= weights[j]
            j += 1
        fewest[i] = fewest[j] + 1
    return fewest[len(text)]


def concat_ie(udh: bytes) -> tuple[int, int, int] | None:
    """(reference, total, sequence) from a UDH holding one concatenation IE, 8- or 16-bit (23.040 §9.2.3.24)."""
    if udh[0] == 5 and udh[1] == 0x00 and udh[2] == 3 and len(udh) == 6:
        return udh[3], udh[4], udh[5]
    if udh[0] == 6 and udh[1] == 0x08 and udh[2] == 4 and len(udh) == 7:
        return udh[3] * 256 + udh[4], udh[5], udh[6]
    return None

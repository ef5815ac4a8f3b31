"""Channel URIs of the Messages API: ``sms:+15553334444``, ``mms:+15553334444``.

The document requires the E.164 form inside a URI, so this is strict: a ``+``, then a
number ``phonenumbers`` considers possible for its region. A sender may instead be an
alphanumeric id of at most 11 characters from ``[A-Za-z0-9 ]`` with at least one letter
(an all-digit id would be a short code or a malformed number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from message_exchange.core.errors import BadRequest

CHANNELS = ("sms", "mms")
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


@dataclass(frozen=True, slots=True)
class ChannelAddress:
    channel: str
    address: str
    alphanumeric: bool = False

    @property
    def uri(self) -> str:
        return f"{self.channel}:{self.address}"


def parse_e164(raw: str, *, param: str, code: int = 21211) -> str:
    """A strict E.164 number (``+`` and digits, a possible number) or 400 naming ``param``."""
    text = raw.strip()
    if not re.fullmatch(r"\+[1-9]\d{6,14}", text):
        raise BadRequest(f"{param} must be an E.164 number such as +15551234567, got {raw!r}", param=param, code=code)
    if not _possible(text):
        raise BadRequest(f"{param} {raw!r} is not a possible phone number", param=param, code=code)
    return text


@lru_cache(maxsize=65_536)
def _possible(e164: str) -> bool:
    # Cached: this is the costliest step of a send, and senders (at least) repeat.
    if _possible_by_country_code(e164):
        return True
    # What the shortcut refuses gets the full parse, so it never refuses a number parse accepts.
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(e164, None)))
    except phonenumbers.NumberParseException:
        return False


def _possible_by_country_code(e164: str) -> bool:
    """``is_possible_number`` without ``phonenumbers.parse`` (6x cheaper): country calling codes
    are prefix-free, so the first 1-3 digits that name one are it."""
    digits = e164[1:]
    for size in (1, 2, 3):
        country = int(digits[:size])
        if country in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            if not national or national[0] == "0":
                return False
            number = phonenumbers.PhoneNumber(country_code=country, national_number=int(national))
            return bool(phonenumbers.is_possible_number(number))
    return False


def parse_channel_uri(raw: str | None, *, param: str, sender: bool = False) -> ChannelAddress:
    """``<channel>:<address>``; a bad channel or address → 400 naming ``param``."""
    code = 21212 if sender else 21211
    if raw is None or not raw.strip():
        raise BadRequest(f"{param} is required", param=param, code=21604 if not sender else 21603)
    channel, sep, address = raw.strip().partition(":")
    if not sep or channel.lower() not in CHANNELS:
        raise BadRequest(
            f"{param} must be a channel URI such as sms:+15551234567 (channels: {', '.join(CHANNELS)}), got {raw!r}",
            param=param,
            code=code,
        )
    channel = channel.lower()
    if sender and not address.startswith("+"):
        if not _ALPHANUMERIC.match(address):
            raise BadRequest(
                f"{param} must be an E.164 number or an alphanumeric sender of up to 11 characters [A-Za-z0-9 ]",
                param=param,
                code=code,
            )
        return ChannelAddress(channel, address, alphanumeric=True)
    return ChannelAddress(channel, parse_e164(address, param=param, code=code))

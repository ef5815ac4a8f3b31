"""Errors of the encoding domain. Pure ``ValueError`` subclasses: callers map them to their API's envelope.

::

    ValueError
     ├── EncodingError        text not representable in the asked charset, or bytes not decodable
     │    └── UdhError        a malformed User Data Header
     └── BodyError            a message body the Messages API must refuse (400)
          ├── BodyTooLong     more than MAX_BODY_CHARS characters (Twilio code 21617)
          └── BodyNotText     NUL or unpaired surrogates: not storable text (PostgreSQL refuses NUL)
"""

from __future__ import annotations


class EncodingError(ValueError):
    """Text cannot be encoded in the requested charset, or bytes cannot be decoded strictly."""


class UdhError(EncodingError):
    """A User Data Header whose lengths run past the data it claims to describe."""


class BodyError(ValueError):
    """A message body that cannot be accepted."""

    code: int = 21100


class BodyTooLong(BodyError):
    """The body has more characters (code points) than the limit."""

    code = 21617

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"The message body exceeds the {limit} character limit ({length} characters)")


class BodyNotText(BodyError):
    """The body holds a NUL character or an unpaired UTF-16 surrogate (invalid Unicode text)."""

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        super().__init__(f"The message body is not valid text: {reason} at character {position}")

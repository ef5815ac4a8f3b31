"""Date parsing and the date formats of each API family.

Filters (``StartTime``/``EndTime``) accept an ISO-8601 date or date-time, or an RFC 2822
date as the Restcomm documents print them. Times without a zone are UTC. Whatever a client
sends, parsing either returns an aware UTC datetime or raises :class:`BadRequest` naming the
parameter — never anything else (out-of-range years and offsets included).

Formatting treats a naive datetime as UTC (SQLite hands back naive values), never as the
server's local time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime

from message_exchange.core.errors import BadRequest

_OFFSET_DAYS = re.compile(r"([+-])([0-9]{1,5})days", re.ASCII)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Longer inputs are not dates; refusing them early keeps parsing cheap.
_MAX_LENGTH = 64


def _as_utc(moment: datetime) -> datetime:
    """A naive datetime is UTC; an aware one is converted. May raise OverflowError at the edges."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_date(text: str) -> date | None:
    """An ISO-8601 calendar date (``2018-10-05``, ``20181005``) with no time part."""
    if not text.isascii() or "T" in text or ":" in text or " " in text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text if "T" in text else text.replace(" ", "T", 1))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    try:
        return _as_utc(parsed)
    except (OverflowError, ValueError):
        return None


def parse_time_filter(value: str, *, param: str, end_of_range: bool) -> datetime:
    """Parse ``StartTime`` / ``EndTime``: an ISO-8601 date or date-time, inclusive, UTC.

    A bare date as the end of a range means the whole of that day (up to its last
    microsecond); as the start, its midnight. Times without a zone are UTC. Anything else →
    400 naming ``param``.
    """
    text = value.strip()
    if len(text) <= _MAX_LENGTH:
        day = _parse_date(text)
        if day is not None:
            start = datetime.combine(day, time.min, tzinfo=UTC)
            if not end_of_range:
                return start
            return datetime.combine(day, time.max, tzinfo=UTC)
        if _DATE_ONLY.fullmatch(text):
            raise BadRequest(f"{param} is not a valid date: {value!r}", param=param)
        parsed = _parse_datetime(text) if text else None
        if parsed is not None:
            return parsed
    raise BadRequest(f"{param} must be an ISO-8601 date (YYYY-MM-DD) or date-time, got {value!r}", param=param)


def parse_day_or_offset(value: str, *, param: str, today: date) -> date:
    """A usage date: ``YYYY-MM-DD`` or an offset from today such as ``-30days``/``+30days``."""
    text = value.strip()
    offset = _OFFSET_DAYS.fullmatch(text)
    if offset:
        days = int(offset.group(2))
        try:
            return today + timedelta(days=days if offset.group(1) == "+" else -days)
        except OverflowError:
            raise BadRequest(f"{param} is out of range: {value!r}", param=param) from None
    if _DATE_ONLY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise BadRequest(f"{param} must be YYYY-MM-DD or ±Ndays, got {value!r}", param=param)


def rfc2822(moment: datetime | None) -> str | None:
    """Restcomm/Twilio families: ``Tue, 10 May 2022 12:33:28 +0000`` (English names, any locale)."""
    if moment is None:
        return None
    utc = _as_utc(moment)
    # By hand rather than email.utils.format_datetime: same text, a fifth of the time, on every resource.
    return (
        f"{_DAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} +0000"
    )


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def iso8601_compact(moment: datetime | None) -> str | None:
    """Teams exchange: ``2019-10-10T13:13:48+0000``."""
    if moment is None:
        return None
    utc = _as_utc(moment)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}+0000"


def webex_timestamp(moment: datetime | None) -> str | None:
    """Webex exchange: ``2019-09-10 10:07:32.0`` (tenths of a second, truncated)."""
    if moment is None:
        return None
    utc = _as_utc(moment)
    return f"{utc.year:04d}-{utc:%m-%d %H:%M:%S}.{utc.microsecond // 100000}"

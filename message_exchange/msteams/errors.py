"""The Teams exchange's documented error codes and its error envelope.

Errors render as ``{"errorCode": "4051", "message": "…", "data": …}`` (the code a string,
as the document's examples show) with the documented HTTP status (409 for the resource
codes, 400 for 451 and 452). ``data`` is the offending value when there is one.

- 451: mandatory parameters missing — every missing one is named, comma-separated;
- 452: an error of the underlying platform (an account, a number or the messages service
  refused what was asked), its message passed on;
- errors without a documented code (a bad filter, paging or sort value, authentication,
  unknown paths) carry their HTTP status as the code: ``{"errorCode": "400", …}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from message_exchange.core.errors import BadRequest, Conflict, MXError
from message_exchange.core.rendering import JSONResponse

ENTERPRISE_NAME_TAKEN = "4050"
EMAIL_TAKEN = "4001"
ENTERPRISE_NOT_FOUND = "4051"
MAPPING_NOT_FOUND = "480"
BOT_NOT_FOUND = "481"
MESSAGE_NOT_FOUND = "481"
EXTERNAL_TAKEN = "482"
MICROSOFT_ADDRESS_INVALID = "485"
MISSING_PARAMETER = "451"
PLATFORM_ERROR = "452"


class TeamsError(Conflict):
    """A documented Teams exchange error: a string code, HTTP 409 unless said otherwise."""

    def __init__(self, code: str, message: str, data: Any = None, *, status_code: int | None = None) -> None:
        super().__init__(message, code=code, status_code=status_code)
        self.data = data


class MissingParameters(BadRequest):
    """451: one error naming every missing mandatory parameter."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(names)
        joined = ", ".join(self.names)
        super().__init__(f"Mandatory parameter {joined} is missing.", code=MISSING_PARAMETER, param=self.names[0])
        self.data = joined


class PlatformError(BadRequest):
    """452: the underlying platform refused (its message is passed on)."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message, code=PLATFORM_ERROR)
        self.data = data


def require(values: dict[str, Any]) -> None:
    """451 naming every entry of ``values`` (documented name → value) that is absent or blank."""
    missing = [
        name for name, value in values.items() if value is None or (isinstance(value, str) and not value.strip())
    ]
    if missing:
        raise MissingParameters(missing)


def teams_error(error: MXError, path: str) -> Response:
    code = error.code if isinstance(error.code, str) else str(error.status_code)
    body = {"errorCode": code, "message": error.message, "data": getattr(error, "data", None)}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)

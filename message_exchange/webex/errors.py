"""The Webex exchange's documented error codes and its error envelope.

Errors render as ``{"errorCode": "460", "message": "…", "data": …}`` (the code a string, as
the documents' examples show) with the documented HTTP status. Errors without a documented
code (bad parameters, authentication, unknown paths) carry their HTTP status as the code:
``{"errorCode": "400", …}``. ``data`` is the offending value when there is one, else null.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from message_exchange.core.errors import Conflict, MXError
from message_exchange.core.rendering import JSONResponse

ENTERPRISE_NAME_TAKEN = "460"
MAPPING_WEBEX_TAKEN = "465"
MAPPING_EXTERNAL_TAKEN = "466"
MAPPING_ENTERPRISE_NOT_FOUND = "467"
UPDATE_ENTERPRISE_NAME_TAKEN = "470"
UPDATE_ENTERPRISE_NOT_FOUND = "471"
UPDATE_MAPPING_NOT_FOUND = "478"
DELETE_ENTERPRISE_NOT_FOUND = "481"
DELETE_ENTERPRISE_HAS_MAPPINGS = "482"
DELETE_MAPPING_NOT_FOUND = "485"
INVALID_ENTERPRISE_ID = "490"
INVALID_ID = "491"  # the documents use it for a mapping and for a message record


class WebexError(Conflict):
    """A documented Webex exchange error: a string code, HTTP 409 (as every one of them is)."""

    def __init__(self, code: str, message: str, data: Any = None) -> None:
        super().__init__(message, code=code)
        self.data = data


def webex_error(error: MXError, path: str) -> Response:
    code = error.code if isinstance(error.code, str) else str(error.status_code)
    body = {"errorCode": code, "message": error.message, "data": getattr(error, "data", None)}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)

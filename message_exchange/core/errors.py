"""The one error hierarchy. Services raise these; each API family renders them in its envelope.

::

    MXError                      status  default code
     ├── BadRequest                400   21100 (bad parameter)
     ├── Unauthorized              401   20003
     ├── Forbidden                 403   20005
     ├── NotFound                  404   20404
     ├── MethodNotAllowed          405   20004
     ├── Conflict                  409   20409
     ├── PayloadTooLarge           413   20413
     ├── UnsupportedMediaType      415   20415
     ├── UpstreamError             502   20502   (a carrier / chat platform / webhook failed)
     └── ServiceUnavailable        503   20503

``code`` is the family-specific numeric code (Twilio/Restcomm 2xxxx, Webex 4xx, Connect
7xxx …); a raiser that knows the documented code passes it, otherwise the class default is
used. ``param`` names the offending request parameter, when there is one. ``headers`` are
sent with the error response: the class's ``default_headers`` (``WWW-Authenticate`` on
401) plus any the raiser passes (e.g. ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class MXError(Exception):
    status_code: int = 500
    default_headers: ClassVar[Mapping[str, str]] = {}
    default_code: int = 20500
    default_message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | str | None = None,
        param: str | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code: int | str = code if code is not None else self.default_code
        self.param = param
        # Per instance, so a raiser adding a header never changes its class's default.
        self.headers: dict[str, str] = {**self.default_headers, **(headers or {})}
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.message)


class BadRequest(MXError):
    status_code = 400
    default_code = 21100
    default_message = "Bad request"


class Unauthorized(MXError):
    status_code = 401
    default_code = 20003
    default_message = "Authentication Error - No credentials provided"
    default_headers: ClassVar[Mapping[str, str]] = {"WWW-Authenticate": 'Basic realm="Message Exchange"'}


class Forbidden(MXError):
    status_code = 403
    default_code = 20005
    default_message = "Forbidden"


class NotFound(MXError):
    status_code = 404
    default_code = 20404
    default_message = "The requested resource was not found"


class MethodNotAllowed(MXError):
    status_code = 405
    default_code = 20004
    default_message = "Method not allowed"


class Conflict(MXError):
    status_code = 409
    default_code = 20409
    default_message = "Conflict"


class PayloadTooLarge(MXError):
    status_code = 413
    default_code = 20413
    default_message = "Request body too large"


class UnsupportedMediaType(MXError):
    status_code = 415
    default_code = 20415
    default_message = "Unsupported media type"


class UpstreamError(MXError):
    status_code = 502
    default_code = 20502
    default_message = "Upstream service failed"


class ServiceUnavailable(MXError):
    status_code = 503
    default_code = 20503
    default_message = "Service unavailable"

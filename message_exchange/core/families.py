"""API families: which error envelope a path gets.

Each family keeps the envelope its documents show (DESIGN §4). A domain registers its
family's renderer for its path prefixes; the app's exception handlers
(:func:`install_exception_handlers`) ask :func:`render_error` for the path at hand.
Restcomm's envelope is the default.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from message_exchange.core.errors import BadRequest, MethodNotAllowed, MXError, NotFound
from message_exchange.core.logging import get_logger
from message_exchange.core.rendering import Format, JSONResponse, format_of_path, render_xml, xml_response

ErrorRenderer = Callable[[MXError, str], Response]

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


def restcomm_error(error: MXError, path: str) -> Response:
    """``{code, message, more_info, status}``, or ``<RestcommResponse><RestException>`` for ``.xml``."""
    body = {
        "code": error.code,
        "message": error.message,
        "more_info": MORE_INFO.format(code=error.code),
        "status": error.status_code,
    }
    if format_of_path(path) is Format.XML:
        return xml_response(render_xml("RestException", body), error.status_code, headers=error.headers)
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


def twilio_error(error: MXError, path: str) -> Response:
    """Twilio's error body (always JSON: the Twilio-shaped routes serve ``.json`` only)."""
    body = {
        "code": error.code,
        "message": error.message,
        "more_info": MORE_INFO.format(code=error.code),
        "status": error.status_code,
    }
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


_FAMILIES: list[tuple[str, ErrorRenderer]] = [("/2010-04-01/", twilio_error)]


def register_family(prefix: str, renderer: ErrorRenderer) -> None:
    """Route errors under ``prefix`` to ``renderer``; the longest matching prefix wins.

    Registering a prefix again replaces its renderer (an app built twice in one process).
    """
    _FAMILIES[:] = [entry for entry in _FAMILIES if entry[0] != prefix]
    _FAMILIES.append((prefix, renderer))
    _FAMILIES.sort(key=lambda entry: len(entry[0]), reverse=True)


def render_error(error: MXError, path: str) -> Response:
    for prefix, renderer in _FAMILIES:
        if path.startswith(prefix):
            return renderer(error, path)
    return restcomm_error(error, path)


def validation_message(exc: RequestValidationError) -> str:
    """FastAPI's validation errors as one line naming the parameters (``PageSize: …``)."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header"))
        parts.append(f"{location}: {error.get('msg')}" if location else str(error.get("msg")))
    return "; ".join(parts) or "Invalid request"


def install_exception_handlers(app: FastAPI) -> None:
    """Render every error in the envelope of the path's family.

    :class:`MXError` as raised; FastAPI validation → 400; routing 404/405 and other HTTP
    errors keep their status; anything unexpected → 500 with a generic message (the
    traceback goes to the log, never to the client).
    """
    log = get_logger("mx.errors")

    @app.exception_handler(MXError)
    async def mx_error(request: Request, exc: MXError) -> Response:
        return render_error(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return render_error(BadRequest(validation_message(exc)), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error: MXError
        if exc.status_code == 404:
            error = NotFound()
        elif exc.status_code == 405:
            error = MethodNotAllowed(headers=exc.headers)
        else:
            error = MXError(str(exc.detail), status_code=exc.status_code, code=exc.status_code, headers=exc.headers)
        return render_error(error, request.url.path)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path, exc_info=exc)
        return render_error(MXError(), request.url.path)

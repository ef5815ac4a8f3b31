"""Pure-ASGI middleware: request id + access log + metrics, and the request-body limit."""

from __future__ import annotations

import functools
import re
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from message_exchange.core.errors import MXError, PayloadTooLarge
from message_exchange.core.families import render_error
from message_exchange.core.logging import get_logger
from message_exchange.core.metrics import HTTP_LATENCY, HTTP_REQUESTS
from message_exchange.core.sids import random_hex

log = get_logger("mx.access")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Metric labels take these methods as sent; anything else is "other" (bounded cardinality).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestContextMiddleware:
    """Give every request an id (``X-Request-Id`` in and out), log it once, count it.

    A client's ``X-Request-Id`` is kept when it is 1–128 of ``[A-Za-z0-9._-]``; otherwise
    (absent, too long, anything that could smuggle into a header or a log line) a fresh
    random 32-hex-digit id replaces it. Metrics are labelled with the route template as OpenAPI spells it
    (``/Accounts/{sid}{fmt}``), never the raw path, or ``unmatched``.

    An exception escaping the app is answered here, as a 500 in the path's family envelope
    carrying the request id, and logged with its traceback while the request id is still
    bound. (Starlette would answer it outside every middleware: no id on the response, none
    in the log line.) If the response had already started, the exception propagates.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else random_hex(16)
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            await render_error(MXError(), scope["path"])(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            route_label = template if isinstance(template, str) else "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            _request_counter(method, route_label, status).inc()
            _latency_histogram(method, route_label).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route_label,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.reset_contextvars(**tokens)


# prometheus_client's labels() builds and hashes a key on every call: resolve each child once.
@functools.lru_cache(maxsize=4096)
def _request_counter(method: str, route: str, status: int) -> Any:
    return HTTP_REQUESTS.labels(method, route, str(status))


@functools.lru_cache(maxsize=1024)
def _latency_histogram(method: str, route: str) -> Any:
    return HTTP_LATENCY.labels(method, route)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 in the path's error envelope.

    The body is read (up to the limit) before the app sees it, so the app never starts on a
    request it would have to abandon half-way.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"Request body is larger than {self.max_bytes} bytes")
        await render_error(error, scope["path"])(scope, receive, send)

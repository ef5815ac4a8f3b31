"""The send endpoints' lean path: form POSTs answered without FastAPI's per-request machinery.

Sending is the one endpoint clients call thousands of times a second, and most of its cost
was not the work but the framework around it: five middleware layers, matching against
every route, solving dependencies (each re-reading headers, query and cookies), parsing
the form through a streaming multipart parser. :class:`SendFastPath` sits just inside the
request-id/access-log and body-limit middleware; for a form-urlencoded POST that one of the
send routes matches, it resolves that route's inputs itself — path parameters through the
route's own matcher and convertors, the remembered caller, the form — and calls the same
handler the FastAPI endpoint calls. So both paths run one piece of logic and answer alike;
anything else (JSON bodies, other routes) goes to FastAPI untouched, and the routes stay
in the OpenAPI document as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from message_exchange.accounts.deps import caller_from_header
from message_exchange.accounts.service import Caller
from message_exchange.core.errors import MXError
from message_exchange.core.families import render_error

Form = ImmutableMultiDict[str, str]
SendHandler = Callable[[Request, dict[str, Any], Caller, Form], Awaitable[Response]]
"""What a send endpoint does once its inputs are known: (request, path params, caller, form)."""

FORM = b"application/x-www-form-urlencoded"


def parse_form(body: bytes) -> Form:
    """A urlencoded body as Starlette parses it: blank values kept, invalid UTF-8 replaced."""
    return ImmutableMultiDict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))


class SendFastPath:
    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute], handlers: dict[Callable[..., Any], SendHandler]):
        """``routes``: the send routers' own routes (full paths; not the app's, which wraps included
        routers); ``handlers``: FastAPI endpoint function → the handler it delegates to."""
        self.app = app
        self.targets = [
            (route, handlers[route.endpoint])
            for route in routes
            if isinstance(route, APIRoute) and route.endpoint in handlers and "POST" in (route.methods or ())
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
        target = None
        if content_type.split(b";")[0].strip().lower() == FORM:
            target = next(
                (
                    (route, handler, child)
                    for route, handler in self.targets
                    for match, child in [route.matches(scope)]
                    if match is Match.FULL
                ),
                None,
            )
        if target is None:
            await self.app(scope, receive, send)
            return
        route, handler, child = target
        scope = {**scope, **child, "route": route}
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        request = Request(scope, receive)
        try:
            caller = await caller_from_header(request)
            response = await handler(request, child["path_params"], caller, parse_form(body))
        except MXError as error:
            response = render_error(error, scope["path"])
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)

"""A real HTTP server on 127.0.0.1 (ephemeral port) that records and answers webhooks.

Use it wherever the product calls out to a customer's URL (status callbacks, a number's
SmsUrl): the request really crosses a socket, so what is tested is what a customer gets.

::

    async with CallbackSink() as sink:
        sink.respond("/status", status=500, times=2)          # next 2 requests to /status → 500
        sink.respond("/sms", body="<Response><Message>hi</Message></Response>",
                     content_type="application/xml")           # every request to /sms, from now on
        sink.respond("/slow", delay=2.0, times=1)              # one slow answer (test timeouts)
        url = sink.url("/status")                               # http://127.0.0.1:<port>/status
        ...
        [request] = await sink.wait_for(1, path="/status")      # waits up to `timeout` seconds
        request.method, request.url, request.form, request.headers["x-twilio-signature"]

Scripted replies for a path are consumed in order (each ``respond(..., times=K)`` queues
K of them; ``times=None`` makes a standing reply used once the queue is empty). A path with
nothing scripted gets ``200`` with an empty ``text/plain`` body. ``sink.requests`` holds
every request received, in arrival order; ``sink.requests_to(path)`` those to one path.
``sink.reset()`` forgets requests and scripts.

The server runs in the test's event loop (uvicorn in a background task), so it only answers
while the test awaits something — which every async test does while it waits for a result.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tests.fakes.loopback import LoopbackServer


@dataclass(frozen=True)
class Reply:
    """How the sink answers one request."""

    status: int = 200
    body: str | bytes = ""
    content_type: str = "text/plain"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the sink saw it."""

    method: str
    url: str  # the full URL as a receiver reconstructs it (scheme://host:port/path?query)
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float  # time.monotonic()

    @property
    def form_items(self) -> list[tuple[str, str]]:
        """The form-encoded body's (name, value) pairs, repeats kept."""
        if "application/x-www-form-urlencoded" not in self.headers.get("content-type", ""):
            return []
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)

    @property
    def form(self) -> dict[str, str]:
        """The form body as a dict (the last value of a repeated name)."""
        return dict(self.form_items)

    @property
    def params(self) -> dict[str, str]:
        """What a webhook carried: the form body for POST, the query string for GET."""
        return dict(self.query) if self.method == "GET" else self.form

    @property
    def signature(self) -> str | None:
        return self.headers.get("x-twilio-signature")


class CallbackSink:
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.requests: list[ReceivedRequest] = []
        self._queued: dict[str, deque[Reply]] = {}
        self._standing: dict[str, Reply] = {}
        self._arrived = asyncio.Condition()
        self._server: LoopbackServer | None = None

    # -- scripting -------------------------------------------------------------------------

    def respond(
        self,
        path: str,
        *,
        status: int = 200,
        body: str | bytes = "",
        content_type: str = "text/plain",
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` so (``times=None``: every later one)."""
        reply = Reply(status=status, body=body, content_type=content_type, delay=delay, headers=headers or {})
        if times is None:
            self._standing[path] = reply
        else:
            self._queued.setdefault(path, deque()).extend([reply] * times)

    def reset(self) -> None:
        self.requests.clear()
        self._queued.clear()
        self._standing.clear()

    def _next_reply(self, path: str) -> Reply:
        queue = self._queued.get(path)
        if queue:
            return queue.popleft()
        return self._standing.get(path, Reply())

    # -- inspection ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, count: int, *, path: str | None = None, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Wait until ``count`` requests (to ``path``, if given) have arrived; return them all."""

        def matching() -> list[ReceivedRequest]:
            return self.requests if path is None else self.requests_to(path)

        async with self._arrived:
            try:
                await asyncio.wait_for(self._arrived.wait_for(lambda: len(matching()) >= count), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"callback sink got {len(matching())} request(s) to {path or 'any path'} in {timeout}s, "
                    f"expected {count}"
                ) from None
        return list(matching())

    # -- server ----------------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        received = ReceivedRequest(
            method=request.method,
            url=str(request.url),
            path=request.url.path,
            query=list(request.query_params.multi_items()),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        reply = self._next_reply(received.path)
        async with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        response = Response(reply.body, status_code=reply.status, media_type=reply.content_type, headers=reply.headers)
        await response(scope, receive, send)

    async def start(self) -> None:
        self._server = LoopbackServer(self._app, host=self.host)
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
        self._server = None

    async def __aenter__(self) -> CallbackSink:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def closed_port_url(path: str = "/") -> str:
    """A loopback URL nothing listens on (connection refused), for "the target is down" tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"

"""Request-body limit, request ids, the JSON access log and request metrics."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.types import Message, Receive, Scope, Send

from message_exchange.core.logging import configure_logging
from message_exchange.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from tests.core.conftest import BODY_LIMIT

SID = f"TH{0:032x}"
HEX32 = re.compile(r"[0-9a-f]{32}")


# --- body limit ------------------------------------------------------------------------


async def test_body_under_the_limit_reaches_the_endpoint_intact(core_client: httpx.AsyncClient) -> None:
    body = bytes(range(256)) * (BODY_LIMIT // 256)
    assert len(body) == BODY_LIMIT
    response = await core_client.post("/restcomm/Things.json", content=body)
    assert response.status_code == 201
    assert response.json() == {"length": BODY_LIMIT, "sha256": hashlib.sha256(body).hexdigest()}


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_chunked_body_under_the_limit_arrives_whole(core_client: httpx.AsyncClient) -> None:
    body = b"To=%2B15550001&Body=" + b"a" * 900
    request = core_client.build_request("POST", "/restcomm/Things.json", content=_chunks(body, 100))
    assert "content-length" not in request.headers
    response = await core_client.send(request)
    assert response.status_code == 201
    assert response.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


async def test_large_content_length_is_413_json(core_client: httpx.AsyncClient) -> None:
    response = await core_client.post("/restcomm/Things.json", content=b"x" * (BODY_LIMIT + 1))
    assert response.status_code == 413
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["status"], body["code"]) == (413, 20413)
    assert HEX32.fullmatch(response.headers["x-request-id"])  # still answered through the request middleware


async def test_large_body_is_413_in_xml_for_xml_paths(core_client: httpx.AsyncClient) -> None:
    response = await core_client.post("/restcomm/Things.xml", content=b"x" * (BODY_LIMIT * 4))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/xml"
    assert b"<RestException><Code>20413</Code>" in response.content


async def test_large_body_is_413_in_the_twilio_envelope(core_client: httpx.AsyncClient) -> None:
    response = await core_client.post(f"/2010-04-01/Accounts/{SID}/Messages.json", content=b"x" * (BODY_LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["more_info"].endswith("/20413")


async def test_chunked_body_over_the_limit_without_content_length_is_413(core_client: httpx.AsyncClient) -> None:
    request = core_client.build_request("POST", "/restcomm/Things.json", content=_chunks(b"y" * (BODY_LIMIT * 3), 256))
    assert "content-length" not in request.headers
    response = await core_client.send(request)
    assert response.status_code == 413
    assert response.json()["status"] == 413


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])


def _scope(method: str, headers: list[tuple[bytes, bytes]], path: str = "/restcomm/Things.json") -> Scope:
    return {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}


async def _never_called_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the app must not start on a refused request")


async def test_declared_length_is_refused_before_reading_the_body() -> None:
    async def receive() -> Message:
        raise AssertionError("the body must not be read when Content-Length is already too large")

    middleware = BodyLimitMiddleware(_never_called_app, max_bytes=10)
    recorder = _Recorder()
    await middleware(_scope("POST", [(b"content-length", b"1000000000")]), receive, recorder)
    assert recorder.status == 413


async def test_streamed_body_stops_being_read_at_the_limit() -> None:
    chunks_read = 0

    async def receive() -> Message:
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"z" * 4, "more_body": True}  # endless

    middleware = BodyLimitMiddleware(_never_called_app, max_bytes=10)
    recorder = _Recorder()
    await middleware(_scope("PUT", []), receive, recorder)
    assert recorder.status == 413
    assert chunks_read == 3


async def test_client_gone_mid_body_sends_nothing() -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    recorder = _Recorder()
    await BodyLimitMiddleware(_never_called_app, max_bytes=10)(_scope("POST", []), receive, recorder)
    assert recorder.messages == []


async def test_get_passes_through_untouched() -> None:
    reached: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)

    async def receive() -> Message:
        raise AssertionError("GET bodies are left to the app")

    await BodyLimitMiddleware(app, max_bytes=1)(_scope("GET", [(b"content-length", b"50")]), receive, _Recorder())
    assert len(reached) == 1


# --- request id ------------------------------------------------------------------------


async def test_request_id_is_generated_when_absent(core_client: httpx.AsyncClient) -> None:
    first = await core_client.get(f"/restcomm/Things/{SID}.json")
    second = await core_client.get(f"/restcomm/Things/{SID}.json")
    assert HEX32.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("incoming", ["abc-123", "req.1_2-3", "A" * 128, "0f" * 16])
async def test_valid_request_id_is_echoed(core_client: httpx.AsyncClient, incoming: str) -> None:
    response = await core_client.get(f"/restcomm/Things/{SID}.json", headers={"X-Request-Id": incoming})
    assert response.headers.get_list("x-request-id") == [incoming]


@pytest.mark.parametrize("incoming", ["", "A" * 129, "has space", "semi;colon", 'quote"d', "ünï", "a/b"])
async def test_invalid_request_id_is_replaced(core_client: httpx.AsyncClient, incoming: str) -> None:
    response = await core_client.get(f"/restcomm/Things/{SID}.json", headers=[(b"X-Request-Id", incoming.encode())])
    assert response.status_code == 200
    assert HEX32.fullmatch(response.headers["x-request-id"])


async def test_request_id_with_a_trailing_newline_is_replaced() -> None:
    """A ``$``-anchored check would accept ``abc\\n`` and echo a newline into a header."""
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = _scope("GET", [(b"x-request-id", b"abc\n")], path="/x")
    await RequestContextMiddleware(app)(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert HEX32.fullmatch(headers[b"x-request-id"].decode())


async def test_error_responses_carry_the_request_id(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Boom.json", headers={"X-Request-Id": "trace-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"


# --- access log ------------------------------------------------------------------------


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The real logging setup (JSON lines on stderr), its stream swapped for a buffer; restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    access_disabled = logging.getLogger("uvicorn.access").disabled
    configure_logging("INFO", json=True)
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stderr
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    logging.getLogger("uvicorn.access").disabled = access_disabled


def _log_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON


async def test_access_log_is_one_json_line_with_the_request_id(
    core_client: httpx.AsyncClient, json_logs: io.StringIO
) -> None:
    response = await core_client.get(f"/restcomm/Things/{SID}.xml", headers={"X-Request-Id": "log-me-1"})
    assert response.status_code == 200
    records = _log_lines(json_logs)
    access = [r for r in records if r.get("event") == "request"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "log-me-1"
    assert line["method"] == "GET"
    assert line["path"] == f"/restcomm/Things/{SID}.xml"
    assert line["route"] == "/restcomm/Things/{sid}{fmt}"
    assert line["status"] == 200
    assert line["level"] == "info"
    assert isinstance(line["duration_ms"], float | int)
    assert "timestamp" in line


async def test_logs_inside_a_request_carry_its_id_and_later_ones_do_not(
    core_client: httpx.AsyncClient, json_logs: io.StringIO
) -> None:
    await core_client.get(f"/restcomm/Things/{SID}.json", headers={"X-Request-Id": "inner-2"})
    logging.getLogger("tests.core.stdlib").warning("after the request")
    records = _log_lines(json_logs)
    inside = [r for r in records if r.get("event") == "looking up"]
    assert len(inside) == 1
    assert inside[0]["request_id"] == "inner-2"
    assert inside[0]["sid"] == SID
    after = [r for r in records if r.get("event") == "after the request"]
    assert len(after) == 1
    assert "request_id" not in after[0]


async def test_unexpected_errors_are_logged_with_the_request_id(
    core_client: httpx.AsyncClient, json_logs: io.StringIO
) -> None:
    await core_client.get("/restcomm/Boom.json", headers={"X-Request-Id": "boom-3"})
    records = _log_lines(json_logs)
    errors = [r for r in records if r.get("event") == "unhandled error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "boom-3"
    assert errors[0]["level"] == "error"
    assert "RuntimeError" in errors[0]["exception"]
    access = [r for r in records if r.get("event") == "request"]
    assert access[0]["status"] == 500


# --- metrics ---------------------------------------------------------------------------


def _count(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value("mx_http_requests_total", {"method": method, "route": route, "status": status})
    return value or 0.0


async def test_requests_are_counted_by_route_template(core_client: httpx.AsyncClient) -> None:
    template = "/restcomm/Things/{sid}{fmt}"
    before_ok, before_missing = _count("GET", template, "200"), _count("GET", template, "404")
    await core_client.get(f"/restcomm/Things/{SID}.json")
    await core_client.get(f"/restcomm/Things/{SID}")
    await core_client.get(f"/restcomm/Things/TH{999:032x}.xml")
    assert _count("GET", template, "200") == before_ok + 2
    assert _count("GET", template, "404") == before_missing + 1
    latency = REGISTRY.get_sample_value("mx_http_request_duration_seconds_count", {"method": "GET", "route": template})
    assert latency is not None and latency >= 3


async def test_unmatched_paths_share_one_label(core_client: httpx.AsyncClient) -> None:
    before = _count("GET", "unmatched", "404")
    await core_client.get("/no/such/path/1")
    await core_client.get("/no/such/path/2")
    assert _count("GET", "unmatched", "404") == before + 2
    assert (
        REGISTRY.get_sample_value(
            "mx_http_requests_total", {"method": "GET", "route": "/no/such/path/1", "status": "404"}
        )
        is None
    )


async def test_413_is_counted(core_client: httpx.AsyncClient) -> None:
    before = _count("POST", "unmatched", "413")
    await core_client.post("/restcomm/Things.json", content=b"x" * (BODY_LIMIT + 1))
    assert _count("POST", "unmatched", "413") == before + 1


async def test_odd_methods_do_not_grow_label_sets(core_client: httpx.AsyncClient) -> None:
    before = _count("other", "unmatched", "404")
    await core_client.request("BREW", "/no/such/path")
    assert _count("other", "unmatched", "404") == before + 1


async def test_exception_after_the_response_started_propagates() -> None:
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-stream")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match="mid-stream"):
        await RequestContextMiddleware(app)(_scope("GET", [], path="/x"), receive, send)
    assert [m["type"] for m in sent] == ["http.response.start"]  # no second response was attempted


async def test_unexpected_exception_on_a_twilio_path_is_a_twilio_500() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    recorder = _Recorder()
    await RequestContextMiddleware(app)(
        _scope("POST", [], path="/2010-04-01/Accounts/AC1/Messages.json"), receive, recorder
    )
    assert recorder.status == 500
    body = json.loads(b"".join(m.get("body", b"") for m in recorder.messages[1:]))
    assert body == {
        "code": 20500,
        "message": "Internal server error",
        "more_info": "https://www.twilio.com/docs/errors/20500",
        "status": 500,
    }
    assert HEX32.fullmatch(dict(recorder.messages[0]["headers"])[b"x-request-id"].decode())

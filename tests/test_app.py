"""App-wide behaviour: health, metrics, OpenAPI, request ids, error envelopes for unknown routes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import Creds

BASE = "/restcomm/2012-04-24"


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient, root: Creds) -> None:
    await client.get(f"{BASE}/Accounts/{root.sid}.json", auth=root.auth)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = [
        line
        for line in response.text.splitlines()
        if line.startswith("mx_http_requests_total{") and 'route="/restcomm/2012-04-24/Accounts/{sid}{fmt}"' in line
    ]
    assert any('status="200"' in line and float(line.rsplit(" ", 1)[1]) >= 1 for line in lines), lines


async def test_openapi_lists_every_account_endpoint(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths[f"{BASE}/Accounts{{fmt}}"]) >= {"get", "post"}
    assert set(paths[f"{BASE}/Accounts/{{sid}}{{fmt}}"]) >= {"get", "post", "put"}
    assert "post" in paths[f"{BASE}/Accounts/{{sid}}/AuthToken{{fmt}}"]
    create_body = paths[f"{BASE}/Accounts{{fmt}}"]["post"]["requestBody"]["content"]
    assert "EmailAddress" in create_body["application/x-www-form-urlencoded"]["schema"]["properties"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_unknown_route_and_method_in_family_envelope(client: httpx.AsyncClient, root: Creds) -> None:
    missing = await client.get(f"{BASE}/Nothing.json", auth=root.auth)
    assert missing.status_code == 404 and missing.json()["code"] == 20404
    missing_xml = await client.get(f"{BASE}/Nothing.xml", auth=root.auth)
    assert missing_xml.status_code == 404 and b"<RestException>" in missing_xml.content
    wrong_method = await client.delete(f"{BASE}/Accounts.json", auth=root.auth)
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == 405


async def test_oversized_body_is_413(client: httpx.AsyncClient, root: Creds) -> None:
    response = await client.post(
        f"{BASE}/Accounts.json", data={"EmailAddress": "a@example.com", "Password": "x" * 2_000_000}, auth=root.auth
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


_TELEMETRY_PROBE = """
import asyncio, sys
import httpx
from opentelemetry import trace

class Recording(trace.TracerProvider):
    asked = 0

    def get_tracer(self, *args, **kwargs):
        Recording.asked += 1
        return trace.NoOpTracer()

trace.set_tracer_provider(Recording())

from message_exchange.app import create_app
from message_exchange.config import Settings

async def main():
    settings = Settings(data_dir=sys.argv[1], **({"opentelemetry": True} if sys.argv[2] == "on" else {}))
    app = create_app(settings)  # no lifespan: the request below needs no database
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mx") as client:
        assert (await client.get("/no-such-page")).status_code == 404
    print(Recording.asked)

asyncio.run(main())
"""


@pytest.mark.parametrize(("setting", "traced"), [("default", False), ("on", True)])
async def test_opentelemetry_is_off_unless_asked_for(tmp_path: Path, setting: str, traced: bool) -> None:
    """With a tracer provider configured (a process-wide setting, hence a process of its own),
    requests are traced only with MX_OPENTELEMETRY on."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _TELEMETRY_PROBE, str(tmp_path), setting, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await probe.communicate()
    assert probe.returncode == 0
    assert (int(out.strip().splitlines()[-1]) > 0) is traced

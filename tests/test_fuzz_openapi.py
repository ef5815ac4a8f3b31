"""Schema fuzzing: every operation of our OpenAPI document, fed generated input, never answers 5xx.

A real ``mx serve`` (SQLite) runs on a loopback port; schemathesis generates requests from
the app's own OpenAPI document. Half the cases use a real account sid and a real format
suffix, so generation reaches the handlers rather than stopping at 404.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings

from message_exchange.app import create_app
from message_exchange.config import Settings
from tests.fakes.webex import fake_webex_in_thread
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
MX = Path(sys.executable).parent / "mx"

# Status codes answered, by method: tests/support/fuzz_totals.py checks, over every test
# process, that the fuzzing got past routing and auth.
SEEN: defaultdict[str, set[int]] = defaultdict(set)

schema = schemathesis.openapi.from_dict(
    create_app(Settings(secret_key=Fernet.generate_key().decode(), run_workers=False)).openapi()
)
# Invalid input too: negative mode breaks the documented types and required fields.
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])


@pytest.fixture(scope="module")
def webex_api() -> Iterator[str]:
    """A local fake Webex API, so the Webex exchange's calls never leave the machine.

    Webex must be reachable here for "no 5xx" to be the right expectation: with Webex down,
    ``PUT /webex/bot`` answers 502 (503 when throttled) on purpose — documented in the OpenAPI
    document and tested in ``tests/webex/test_bot_settings.py``. Against this fake, which knows
    no bot token the fuzzer could guess, every generated save is refused with a 400.
    """
    with fake_webex_in_thread() as fake:
        yield fake.base_url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, webex_api: str) -> Iterator[tuple[str, str, str]]:
    """(base_url, account sid, Authorization header) of a running server."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    env = {**os.environ, "MX_DATA_DIR": str(data_dir), "MX_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    env["MX_WEBEX_API_BASE_URL"] = webex_api
    # Microsoft (Teams exchange): a loopback port nothing listens on, so no call leaves the machine
    # (Graph / Bot Framework unreachable → 452 / 401 answers, never a real Microsoft URL).
    microsoft = f"http://127.0.0.1:{free_port()}"
    env["MX_MSTEAMS_OPENID_METADATA_URL"] = f"{microsoft}/v1/.well-known/openidconfiguration"
    env["MX_MSTEAMS_LOGIN_AUTHORITY"] = microsoft
    env["MX_MSTEAMS_GRAPH_BASE_URL"] = microsoft
    env["MX_MSTEAMS_DEFAULT_SERVICE_URL"] = f"{microsoft}/"
    env["MX_MSTEAMS_ALLOWED_SERVICE_HOSTS"] = "127.0.0.1"
    env.pop("MX_DATABASE_URL", None)
    env.pop("MX_SECRET_KEY", None)
    created = subprocess.run(
        [str(MX), "accounts", "create", "--email", "fuzz@example.com", "--password", "long-enough", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    account = json.loads(created.stdout.strip().splitlines()[-1])
    subprocess.run(
        [str(MX), "numbers", "add", "--account", account["sid"], "--number", "+15005550006", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    port = free_port()
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen([str(MX), "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not start")
        token = base64.b64encode(f"{account['sid']}:{account['auth_token']}".encode()).decode()
        yield base_url, account["sid"], f"Basic {token}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, server: tuple[str, str, str]) -> None:
    base_url, account_sid, authorization = server
    # Hypothesis seeds the global random per example, so this choice replays with the example.
    real = random.random() < 0.5
    if real:
        for name in ("account_sid", "sid"):
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = account_sid
        if "fmt" in (case.path_parameters or {}):
            case.path_parameters["fmt"] = random.choice(["", ".json", ".xml"])
    response = case.call(base_url=base_url, headers={"Authorization": authorization}, timeout=10)
    SEEN[case.method.upper()].add(response.status_code)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
    )

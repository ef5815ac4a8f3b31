"""The console in a real browser: Playwright driving Debian's headless Chromium (``/usr/bin/chromium``).

``scripts/bootstrap`` installs the ``chromium`` package when it runs as root with apt-get. Without
the browser these tests skip, saying so — except under ``CI=true``, where they fail. Screenshots of
the main pages are written to ``tests/artifacts/console/<backend>/`` (ignored by git).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.console.conftest import admin_body, bot_body
from tests.fakes.botframework import FakeBotFramework, User
from tests.fakes.loopback import LoopbackServer
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import drain

CHROMIUM = os.environ.get("MX_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra pins playwright
    async_playwright = None  # type: ignore[assignment]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    if async_playwright is None:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not found: install Debian's chromium (scripts/bootstrap does it as root)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    server = LoopbackServer(app)
    await server.start()
    yield server.base_url
    await server.stop()


@pytest.fixture
def shots(backend: str) -> Path:
    folder = ARTIFACTS / backend
    folder.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots: {folder}")
    return folder


async def _sign_in(page: Page, base: str, username: str, secret: str) -> None:
    await page.goto(f"{base}/console/")
    await expect(page).to_have_url(re.compile(r"/console/login"))
    # By keyboard, through the labelled fields.
    await page.get_by_label("Email or account sid").fill(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(secret)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def _api(client: httpx.AsyncClient, creds: Creds, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.request(method, path, auth=creds.auth, **kwargs)
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_console_in_a_browser(
    app: FastAPI,
    client: httpx.AsyncClient,
    chromium: Browser,
    served: str,
    shots: Path,
    root: Creds,
    own_number: OwnNumber,
    ms: FakeBotFramework,
    jane: User,
) -> None:
    await own_number(root, "+15550001111")
    other = await _api(client, root, "POST", "/msteams/enterprises", json=admin_body("Globex", "admin@globex.example"))
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await _sign_in(page, served, root.email, root.password)
    await page.screenshot(path=str(shots / "home.png"), full_page=True)

    # A business customer, created through the form.
    await page.get_by_role("link", name="Teams business customers").first.click()
    await page.locator("#f-name").fill("Acme")  # "Name *": the search form has "Name contains"
    await page.get_by_label("Admin email").fill("admin@acme.example")
    await page.get_by_label("Admin password").fill("Test@1234")
    await page.get_by_role("button", name="Create business customer").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Acme")
    sid = page.url.rsplit("/", 1)[1].split("?")[0]

    # Its bot details (the secret is never shown again), then a mapping: Graph is the fake.
    body = bot_body(sid)
    await page.get_by_label("Application id").fill(body["applicationId"])
    await page.get_by_label("Tenant id").fill(body["tenantId"])
    await page.get_by_label("Client secret").fill(body["clientsecret"])
    await page.get_by_label("Bot app id").fill(body["botAppId"])
    await page.get_by_role("button", name="Save bot details").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    assert body["clientsecret"] not in await page.content()
    # An invalid mapping first: the API's error is shown beside the form.
    await page.get_by_label("Teams user (UPN or object id)").fill("ghost@contoso.com")
    await page.get_by_label("Phone number").fill("+15557770001")
    await page.get_by_role("button", name="Add mapping").click()
    await expect(page.get_by_role("alert")).to_contain_text("Microsoft Address is not Valid")
    await page.get_by_label("Teams user (UPN or object id)").fill(jane.upn)
    await page.get_by_role("button", name="Add mapping").click()
    mappings = page.get_by_role("table", name=re.compile("Mappings of Acme"))
    await expect(mappings).to_contain_text("jane@contoso.com")
    await expect(mappings).to_contain_text("+15557770001")
    await page.screenshot(path=str(shots / "business-customer.png"), full_page=True)

    # A message sent through the API appears in the log with its status.
    await page.get_by_role("link", name="Message log").click()
    log = page.locator("#message-log")
    await expect(log).to_contain_text("No messages.")
    sent = await _api(
        client,
        root,
        "POST",
        f"/api/2012-04-24/Accounts/{root.sid}/Messages.json",
        json={"from": "sms:+15550001111", "to": "sms:+15551230001", "body": "Hello from the API"},
    )
    # No reload: the log refreshes itself (htmx) and the message appears, then turns delivered.
    row = log.get_by_role("row", name=re.compile("Hello from the API"))
    await expect(row).to_contain_text("queued")
    await drain(app)
    await expect(row).to_contain_text("delivered")
    await page.screenshot(path=str(shots / "message-log.png"), full_page=True)
    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(sent["sid"])
    await expect(page.locator(".timeline")).to_contain_text("queued")
    await expect(page.locator(".timeline")).to_contain_text("delivered")
    await page.screenshot(path=str(shots / "message-detail.png"), full_page=True)

    # Usage: the charts are drawn (inline SVG) and the CSV is offered.
    await page.get_by_role("link", name="Usage").click()
    chart = page.get_by_role("img", name="Messages (SMS/MMS and exchange records)")
    await expect(chart).to_be_visible()
    assert await chart.locator("rect.bar").count() == 30
    await expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    await page.screenshot(path=str(shots / "usage.png"), full_page=True)
    await page.get_by_role("link", name="Carriers").click()
    await page.screenshot(path=str(shots / "carriers.png"), full_page=True)

    # A POST without the form's CSRF token is refused, even from the signed-in page.
    status = await page.evaluate(
        "fetch('/console/teams/enterprises', {method: 'POST', body: new URLSearchParams({name: 'Sneaky'})})"
        ".then(r => r.status)"
    )
    assert status == 403
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/console/login"))

    # The business customer admin sees only its own business customer.
    await _sign_in(page, served, "admin@acme.example", "Test@1234")
    await expect(page.locator("header")).to_contain_text("admin of Acme")
    await page.get_by_role("link", name="Teams business customers").first.click()
    table = page.get_by_role("table", name="Business customers")
    await expect(table).to_contain_text("Acme")
    await expect(table).not_to_contain_text("Globex")
    await expect(page.get_by_role("link", name="Carriers")).to_have_count(0)
    response = await page.goto(f"{served}/console/teams/enterprises/{other['data']['sid']}")
    assert response is not None and response.status == 404
    await page.goto(f"{served}/console/teams/enterprises/{sid}")
    await expect(page.get_by_role("table", name=re.compile("Mappings of Acme"))).to_contain_text("jane@contoso.com")
    await page.screenshot(path=str(shots / "admin-business-customer.png"), full_page=True)

    # On a phone.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.get_by_role("link", name="Message log").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Teams message records of Acme")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await page.screenshot(path=str(shots / "phone-message-log.png"), full_page=True)
    await context.close()

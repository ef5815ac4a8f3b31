"""Console security: sign-in / sign-out, the session cookie, CSRF, lock-out, ended sessions."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from message_exchange.accounts import service as accounts
from message_exchange.console import session as cookies
from tests.console.conftest import Browser
from tests.support.accounts import Creds, MakeAccount


async def test_pages_need_sign_in(browser: Browser) -> None:
    for path in ("/console/", "/console/teams/enterprises", "/console/messages", "/console/usage", "/console/numbers"):
        response = await browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=")


async def test_sign_in_with_password_sets_a_safe_cookie_and_sign_out_ends_it(browser: Browser, root: Creds) -> None:
    page = await browser.get("/console/login")
    assert page.status_code == 200
    assert '<label for="username">' in page.text and '<script src="/console/static/htmx.min.js"' in page.text
    response = await browser.post("/console/login", {"username": root.email, "password": root.password})
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    home = await browser.get("/console/")
    assert home.status_code == 200 and root.email in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]
    out = await browser.post("/console/logout", {})
    assert out.status_code == 303
    assert (await browser.get("/console/")).status_code == 303


async def test_sign_in_with_sid_and_token(browser: Browser, root: Creds) -> None:
    await browser.sign_in(root.sid, root.token)
    assert root.sid in (await browser.get("/console/")).text


async def test_wrong_password_is_refused_and_repeated_failures_lock_out(browser: Browser, root: Creds) -> None:
    await browser.get("/console/login")
    for attempt in range(cookies.MAX_FAILURES - 1):
        name = root.email if attempt % 2 else root.sid  # by email or by sid: the same account
        response = await browser.post("/console/login", {"username": name, "password": "wrong-password"})
        assert response.status_code == 401
        assert "Wrong email" in response.text
    locked = await browser.post("/console/login", {"username": root.email, "password": "wrong-password"})
    assert locked.status_code == 429 and "locked" in locked.text
    # Even the right password is refused while locked.
    right = await browser.post("/console/login", {"username": root.email.upper(), "password": root.password})
    assert right.status_code == 429
    assert (await browser.get("/console/")).status_code == 303


async def test_lock_out_counts_within_its_window_and_ends() -> None:
    guard = cookies.LockOut(max_failures=3, window=60, lock_seconds=300)
    assert not guard.failed("AC1", now=0) and not guard.failed("AC1", now=10)
    assert not guard.failed("AC1", now=100)  # the first two fell out of the window
    assert not guard.failed("AC1", now=110)
    assert guard.failed("AC1", now=120)
    assert guard.locked("AC1", now=121) and not guard.locked("AC2", now=121)
    assert not guard.locked("AC1", now=421)
    guard.failed("AC2", now=0)
    guard.succeeded("AC2")
    assert not guard.failed("AC2", now=1) and not guard.failed("AC2", now=2)


def test_session_cookie_round_trip_tamper_and_expiry() -> None:
    key = cookies.session_key(b"k" * 44)
    data = cookies.SessionData.signed_in("AC123", "hash")
    value = cookies.encode(data, key)
    assert cookies.decode(value, key) == data
    assert cookies.decode(value, cookies.session_key(b"x" * 44)) is None
    payload, _, signature = value.rpartition(".")
    assert cookies.decode(payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + signature, key) is None
    assert cookies.decode(value, key, now=data.issued + cookies.MAX_AGE_SECONDS + 1) is None
    assert cookies.decode("garbage", key) is None and cookies.decode(None, key) is None
    assert cookies.csrf_ok(data, data.csrf) and not cookies.csrf_ok(data, "") and not cookies.csrf_ok(data, None)


async def test_post_without_a_valid_csrf_token_is_refused(app: FastAPI, signed_in: Browser) -> None:
    refused = await signed_in.post("/console/teams/enterprises", {"name": "Acme"}, csrf="")
    assert refused.status_code == 403
    assert "security token" in refused.text
    wrong = await signed_in.post("/console/webex/enterprises", {"name": "Acme"}, csrf="not-the-token")
    assert wrong.status_code == 403
    # The sign-in form is protected as well (no login CSRF).
    fresh = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    async with fresh:
        response = await fresh.post("/console/login", data={"username": "a@b.c", "password": "x"})
        assert response.status_code == 403
    # Nothing was created.
    page = await signed_in.get("/console/webex/enterprises")
    assert "No enterprises." in page.text


async def test_a_tampered_cookie_is_a_signed_out_session(browser: Browser, root: Creds) -> None:
    await browser.sign_in(root.email, root.password)
    value = browser.http.cookies.get(cookies.COOKIE)
    assert value
    browser.http.cookies.clear()
    browser.http.cookies.set(cookies.COOKIE, value[:-2] + ("00" if not value.endswith("00") else "11"), path="/console")
    assert (await browser.get("/console/")).status_code == 303


async def test_a_changed_password_or_a_suspension_ends_the_session(
    app: FastAPI, browser: Browser, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    await browser.sign_in(child.email, child.password)
    assert (await browser.get("/console/")).status_code == 200
    async with app.state.session_factory() as session, session.begin():
        parent = await accounts.get_by_sid(session, root.sid)
        target = await accounts.get_by_sid(session, child.sid)
        await accounts.update_account(session, parent, target, accounts.AccountChanges(status="suspended"))
    assert (await browser.get("/console/")).status_code == 303
    refused = await browser.post("/console/login", {"username": child.email, "password": child.password})
    assert refused.status_code == 401


async def test_next_only_leads_inside_the_console(browser: Browser, root: Creds) -> None:
    await browser.get("/console/login?next=https://evil.example/")
    response = await browser.post(
        "/console/login", {"username": root.email, "password": root.password, "next": "https://evil.example/"}
    )
    assert response.headers["location"] == "/console/"


async def test_static_assets_are_served_locally(browser: Browser) -> None:
    htmx = await browser.get("/console/static/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:200]
    css = await browser.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await browser.get("/console/static/../app.py")).status_code == 404

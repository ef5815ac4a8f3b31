"""The operator console at ``/console``: sign-in / sign-out, the home page, static assets.

The pages of each area live beside this module (``teams_pages``, ``webex_pages``,
``message_pages``, ``ops_pages``, ``usage_pages``); :data:`routers` collects them for the app.
Every page calls the same services as the APIs. Errors under ``/console/`` render as HTML
pages (a signed-out visitor is sent to the sign-in page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import SID_PREFIX
from message_exchange.accounts.repository import AccountRepository
from message_exchange.console import message_pages, ops_pages, teams_pages, usage_pages, webex_pages
from message_exchange.console import session as cookies
from message_exchange.console.deps import TEMPLATES, AnyConsole, Console, SignedIn, SignInRequired, lockout
from message_exchange.core.errors import Forbidden, MXError, NotFound, Unauthorized
from message_exchange.core.families import register_family
from message_exchange.core.logging import get_logger

log = get_logger("mx.console")
router = APIRouter(prefix="/console", include_in_schema=False)
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"htmx.min.js": "text/javascript", "console.css": "text/css", "console.js": "text/javascript"}


def console_error(error: MXError, path: str) -> Response:
    """Errors under /console/ as pages; 'sign in first' as a redirect."""
    if isinstance(error, SignInRequired):
        return RedirectResponse(error.headers.get("Location", "/console/login"), status_code=303)
    status = error.status_code
    title = {403: "Not allowed", 404: "Not found", 405: "Not allowed"}.get(status, "Something went wrong")
    message = error.message if status < 500 else "The console could not answer. The error is in the server log."
    page = TEMPLATES.env.get_template("error.html").render(title=title, message=message, status=status)
    response = HTMLResponse(page, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    return response


register_family("/console", console_error)


@router.get("/static/{name}")
async def static(name: Annotated[str, PathParam()]) -> Response:
    if name not in STATIC_FILES:
        raise NotFound()
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "public, max-age=3600"})


def _safe_next(target: str | None) -> str:
    """Only a console path may be the redirect after sign-in (no open redirect)."""
    if not target:
        return "/console/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or target.startswith("//"):
        return "/console/"
    return target


@router.get("/login")
async def login_page(console: AnyConsole, next: str | None = None) -> Response:
    if console.account is not None:
        return console.finish(RedirectResponse(_safe_next(next), status_code=303))
    return console.render("login.html", next=_safe_next(next), username="", error=None)


async def _lock_key(console: Console, username: str) -> str:
    """Failures count per account, whether it is named by email or by sid (else per name given)."""
    repo = AccountRepository(console.db)
    text = username.strip()
    account = await (repo.get(text) if text.startswith(SID_PREFIX) else repo.get_by_email(text))
    return account.sid if account is not None else text.lower()


@router.post("/login")
async def login(console: AnyConsole) -> Response:
    username, secret = console.field("username"), console.field("password")
    target = _safe_next(console.field("next"))
    guard = lockout(console.request)
    if not username or not secret:
        return console.render(
            "login.html",
            400,
            next=target,
            username=username,
            error="Enter your email or account sid and your password or auth token.",
        )
    key = await _lock_key(console, username)
    if guard.locked(key):
        log.warning("console sign-in refused: locked", username=username)
        return console.render("login.html", 429, next=target, username=username, error=LOCKED)
    try:
        account = await accounts.authenticate(console.db, username, secret)
    except (Unauthorized, Forbidden) as exc:
        locked = isinstance(exc, Unauthorized) and guard.failed(key)
        log.warning("console sign-in failed", username=username, locked=locked)
        error = (
            LOCKED if locked else "Wrong email / account sid or password / auth token, or the account is not active."
        )
        return console.render("login.html", 429 if locked else 401, next=target, username=username, error=error)
    guard.succeeded(key)
    credential = accounts.matched_credential(account, secret)
    console.data, console.new_cookie = cookies.SessionData.signed_in(account.sid, credential), True
    log.info("console sign-in", account_sid=account.sid)
    return console.finish(RedirectResponse(target, status_code=303))


LOCKED = "Too many failed sign-ins for this user: sign-in is locked for 15 minutes."


@router.post("/logout")
async def logout(console: AnyConsole) -> Response:
    console.data, console.new_cookie = cookies.SessionData.anonymous(), True
    return console.finish(RedirectResponse("/console/login", status_code=303))


@router.get("/")
async def home(console: SignedIn) -> Response:
    return console.render("home.html")


@router.get("")
async def home_without_slash() -> Response:
    return RedirectResponse("/console/", status_code=307)


routers = [
    router,
    teams_pages.router,
    webex_pages.router,
    message_pages.router,
    message_pages.records_router,
    ops_pages.router,
    usage_pages.router,
]

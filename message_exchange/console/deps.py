"""Who is using the console: the signed-in account, its view, the CSRF check, page rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import Response

from message_exchange.accounts.models import Account, AccountStatus
from message_exchange.accounts.repository import AccountRepository
from message_exchange.console import session as cookies
from message_exchange.core.errors import Forbidden, MXError
from message_exchange.core.paging import PageRequest
from message_exchange.core.sorting import Sort
from message_exchange.db.session import DBSession
from message_exchange.msteams import service as teams
from message_exchange.msteams.repository import EnterpriseFilter, TeamsRepository

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class SignInRequired(MXError):
    """Not signed in (or the session ended): the console answers with a redirect to sign-in."""

    status_code = 303
    default_code = 303
    default_message = "Sign in required"


@dataclass(slots=True)
class Console:
    """One console request: the browser session, the account (None before sign-in) and its view."""

    request: Request
    db: AsyncSession
    data: cookies.SessionData
    account: Account | None = None
    # The business customer this account administers (the admin view), else None (the CSP view).
    admin_of: str | None = None
    admin_name: str | None = None
    form: FormData | None = None
    new_cookie: bool = False
    flash: list[str] = field(default_factory=list)

    @property
    def user(self) -> Account:
        if self.account is None:
            raise SignInRequired()
        return self.account

    @property
    def is_root(self) -> bool:
        return self.account is not None and self.account.parent_sid is None and self.admin_of is None

    @property
    def is_admin_view(self) -> bool:
        return self.admin_of is not None

    async def rollback(self) -> None:
        """Undo a service call that failed, keeping the signed-in account usable for the page."""
        await self.db.rollback()
        if self.account is not None:
            await self.db.refresh(self.account)

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        context = {"request": self.request, "console": self, "csrf": self.data.csrf, **values}
        response = TEMPLATES.TemplateResponse(self.request, template, context, status_code=status_code)
        return self.finish(response)

    def finish(self, response: Response) -> Response:
        """Set the session cookie when it changed, and the console's security headers."""
        if self.new_cookie:
            set_cookie(self.request, response, self.data)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response


def _key(request: Request) -> bytes:
    return cookies.session_key(request.app.state.settings.fernet_key)


def set_cookie(request: Request, response: Response, data: cookies.SessionData) -> None:
    response.set_cookie(
        cookies.COOKIE,
        cookies.encode(data, _key(request)),
        max_age=cookies.MAX_AGE_SECONDS,
        path=cookies.COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def lockout(request: Request) -> cookies.LockOut:
    state = request.app.state
    if getattr(state, "console_lockout", None) is None:
        state.console_lockout = cookies.LockOut()
    found: cookies.LockOut = state.console_lockout
    return found


async def _signed_in_account(db: AsyncSession, data: cookies.SessionData) -> Account | None:
    """The session's account while its credential, status and parents still allow it."""
    if data.account_sid is None or data.fingerprint is None:
        return None
    repo = AccountRepository(db)
    account = await repo.get(data.account_sid)
    if account is None or account.status != AccountStatus.ACTIVE:
        return None
    credentials = [account.auth_token_hash, account.password_hash or ""]
    if not any(cookies.fingerprint(c) == data.fingerprint for c in credentials if c):
        return None
    if any(s != AccountStatus.ACTIVE for s in await repo.statuses(account.ancestor_sids)):
        return None
    return account


async def _admin_view(console: Console) -> None:
    account = console.account
    if account is None or not await TeamsRepository(console.db).administers(account.sid):
        return
    query = teams.EnterpriseQuery(
        page=PageRequest(page=0, page_size=1), sort=Sort("dateCreated", False), flt=EnterpriseFilter(account.lineage)
    )
    _total, rows = await teams.list_enterprises(console.db, query)
    if rows:
        console.admin_of, console.admin_name = rows[0][0].sid, rows[0][0].name


async def _console(request: Request, db: DBSession) -> Console:
    data = cookies.decode(request.cookies.get(cookies.COOKIE), _key(request))
    console = Console(request=request, db=db, data=data or cookies.SessionData.anonymous(), new_cookie=data is None)
    if request.method == "POST":
        console.form = await request.form()
        token = console.form.get("csrf_token")
        if data is None or not cookies.csrf_ok(data, token if isinstance(token, str) else None):
            raise Forbidden("The form's security token is missing or out of date: reload the page and try again.")
    console.account = await _signed_in_account(db, console.data)
    if console.data.account_sid is not None and console.account is None:
        console.data, console.new_cookie = cookies.SessionData.anonymous(), True  # the session ended
    await _admin_view(console)
    return console


AnyConsole = Annotated[Console, Depends(_console)]


async def _signed_in(console: AnyConsole) -> Console:
    if console.account is None:
        path = console.request.url.path
        query = console.request.url.query
        target = path + (f"?{query}" if query else "")
        raise SignInRequired(headers={"Location": f"/console/login?next={quote(target, safe='')}"})
    return console


SignedIn = Annotated[Console, Depends(_signed_in)]

"""Accounts: creation, authentication, tenancy and updates. Never commits; knows no HTTP.

Tenancy: an account sees itself and its descendants. Anything else answers NotFound, so
another tenant's sids cannot be probed. Status and role are changed only by an ancestor;
``closed`` is final and closes the whole subtree; a suspended or closed ancestor locks out
its descendants too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import SID_PREFIX, Account, AccountRole, AccountStatus
from message_exchange.accounts.repository import SORTABLE, AccountFilter, AccountRepository, AuthRow
from message_exchange.core.crypto import (
    SecretBox,
    digests_match,
    generate_token,
    hash_password,
    mask,
    token_digest,
    verify_password,
)
from message_exchange.core.errors import BadRequest, Conflict, Forbidden, MXError, NotFound, Unauthorized
from message_exchange.core.paging import PageRequest, ensure_page_exists
from message_exchange.core.sids import new_sid
from message_exchange.core.sorting import Sort
from message_exchange.db.base import utcnow

ACCOUNT_SORTS = tuple(SORTABLE)
DEFAULT_SORT = Sort(attribute="DateCreated", descending=False)


@dataclass(frozen=True, slots=True)
class NewAccount:
    email: str
    password: str
    friendly_name: str | None = None
    role: str | None = None
    parent_sid: str | None = None


@dataclass(frozen=True, slots=True)
class AccountChanges:
    friendly_name: str | None = None
    email: str | None = None
    password: str | None = None
    role: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class AccountQuery:
    page: PageRequest
    sort: Sort = DEFAULT_SORT
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def is_ancestor(ancestor: Account, account: Account) -> bool:
    return account.lineage != ancestor.lineage and account.lineage.startswith(ancestor.lineage)


def can_see(caller: Account, target: Account) -> bool:
    return target.lineage.startswith(caller.lineage)


def auth_token_of(box: SecretBox, account: Account) -> str:
    """The account's current auth token in clear (to sign its callbacks)."""
    return box.decrypt(account.auth_token_encrypted)


def masked_token(box: SecretBox, account: Account) -> str:
    return mask(auth_token_of(box, account))


def _issue_token(box: SecretBox, account: Account) -> str:
    token = generate_token()
    account.auth_token_hash = token_digest(token)
    account.auth_token_encrypted = box.encrypt(token)
    return token


async def create_account(
    session: AsyncSession, box: SecretBox, new: NewAccount, *, creator: Account | None
) -> tuple[Account, str]:
    """Create an account; returns it with its auth token (shown this once in clear).

    ``creator`` is the authenticated caller (None for the operator's CLI). A caller must be
    an Administrator and may only create under itself or a descendant.
    """
    repo = AccountRepository(session)
    parent: Account | None = None
    if creator is not None:
        if creator.role != AccountRole.ADMINISTRATOR:
            raise Forbidden("Only Administrator accounts may create sub-accounts")
        parent = creator
        if new.parent_sid and new.parent_sid != creator.sid:
            parent = await get_visible(session, creator, new.parent_sid)
    elif new.parent_sid:
        parent = await repo.get(new.parent_sid)
        if parent is None:
            raise NotFound(f"Parent account {new.parent_sid} not found", param="ParentSid")
    if parent is not None and parent.status != AccountStatus.ACTIVE:
        raise BadRequest(f"Parent account {parent.sid} is {parent.status}", param="ParentSid")
    email = new.email.strip().lower()
    if await repo.email_taken(email):
        raise Conflict(f"An account with email {email} already exists", param="EmailAddress")
    if len(new.password) < 8:
        raise BadRequest("Password must be at least 8 characters", param="Password")
    sid = new_sid(SID_PREFIX)
    now = utcnow()
    account = Account(
        sid=sid,
        parent_sid=parent.sid if parent else None,
        lineage=f"{parent.lineage if parent else '/'}{sid}/",
        friendly_name=new.friendly_name or email,
        email_address=email,
        status=AccountStatus.ACTIVE,
        type="Full",
        role=new.role or (AccountRole.DEVELOPER if parent else AccountRole.ADMINISTRATOR),
        password_hash=await hash_password(new.password),
        date_created=now,
        date_updated=now,
    )
    token = _issue_token(box, account)
    try:
        await repo.add(account)
    except IntegrityError:
        # A concurrent request took the email between our check and the insert.
        raise Conflict(f"An account with email {email} already exists", param="EmailAddress") from None
    return account, token


async def authenticate(session: AsyncSession, username: str, secret: str) -> Account:
    """Basic-auth credentials → the account, or Unauthorized / Forbidden.

    ``username`` is an account sid or email; ``secret`` the auth token, or the password for
    accounts that have one.
    """
    repo = AccountRepository(session)
    account = await (repo.get(username) if username.startswith(SID_PREFIX) else repo.get_by_email(username))
    if account is None:
        raise Unauthorized("Authentication Error - invalid username")
    if not digests_match(secret, account.auth_token_hash) and not (
        account.password_hash and await verify_password(secret, account.password_hash)
    ):
        raise Unauthorized("Authentication Error - invalid credentials")
    if account.status != AccountStatus.ACTIVE:
        raise Forbidden(f"Account {account.sid} is {account.status}")
    blocked = [s for s in await repo.statuses(account.ancestor_sids) if s != AccountStatus.ACTIVE]
    if blocked:
        raise Forbidden(f"Account {account.sid} belongs to a {blocked[0]} parent account")
    return account


@dataclass(frozen=True, slots=True)
class Caller:
    """A caller whose credentials were verified once; re-checked against its row on every use.

    ``credential`` is the stored hash the secret matched (the auth token's digest or the
    password hash), so rotating the token or changing the password invalidates it.
    """

    sid: str
    lineage: str
    credential: str

    @property
    def ancestor_sids(self) -> list[str]:
        return [sid for sid in self.lineage.strip("/").split("/") if sid != self.sid]


def matched_credential(account: Account, secret: str) -> str:
    """The stored hash ``secret`` (already authenticated) matched: the auth token's or the password's.

    Callers remember it, so a rotated token or a changed password ends what it let in.
    """
    if digests_match(secret, account.auth_token_hash):
        return account.auth_token_hash
    return account.password_hash or account.auth_token_hash


class CallerCache:
    """Remembers verified Basic credentials so a busy API client is not re-verified per request.

    It saves the lookup (and, for passwords, argon2's ~0.1 s) only: every use re-reads the
    account rows (:func:`recheck_caller`), so a rotated token, a changed password or a
    suspension applies to the next request. Keys are HMACs under a per-process random key,
    so the cache holds nothing a dump could brute-force a password from. Bounded LRU.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, Caller] = OrderedDict()

    def _digest(self, username: str, secret: str) -> bytes:
        material = f"{username}\0{secret}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, material, hashlib.sha256).digest()

    def get(self, username: str, secret: str) -> Caller | None:
        key = self._digest(username, secret)
        caller = self._entries.get(key)
        if caller is not None:
            self._entries.move_to_end(key)
        return caller

    def remember(self, username: str, secret: str, account: Account) -> Caller:
        credential = matched_credential(account, secret)
        caller = Caller(sid=account.sid, lineage=account.lineage, credential=credential)
        self._entries[self._digest(username, secret)] = caller
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return caller


async def authenticate_cached(session: AsyncSession, cache: CallerCache, username: str, secret: str) -> Caller:
    """:func:`authenticate` the first time credentials are seen; afterwards the remembered caller."""
    caller = cache.get(username, secret)
    if caller is None:
        caller = cache.remember(username, secret, await authenticate(session, username, secret))
    return caller


def recheck_caller(caller: Caller, rows: Mapping[str, AuthRow]) -> MXError | None:
    """Why ``caller`` may no longer act, given fresh rows of it and its ancestors; None if it may."""
    row = rows.get(caller.sid)
    if row is None or caller.credential not in (row.auth_token_hash, row.password_hash):
        return Unauthorized("Authentication Error - invalid credentials")
    if row.status != AccountStatus.ACTIVE:
        return Forbidden(f"Account {caller.sid} is {row.status}")
    for sid in caller.ancestor_sids:
        ancestor = rows.get(sid)
        if ancestor is not None and ancestor.status != AccountStatus.ACTIVE:
            return Forbidden(f"Account {caller.sid} belongs to a {ancestor.status} parent account")
    return None


def visible_to(caller: Caller, sid: str, rows: Mapping[str, AuthRow]) -> NotFound | None:
    """NotFound unless account ``sid`` (in ``rows``) is ``caller`` or one of its descendants."""
    row = rows.get(sid)
    if row is None or not row.lineage.startswith(caller.lineage):
        return NotFound(f"Account {sid} not found")
    return None


async def get_by_sid(session: AsyncSession, sid: str) -> Account:
    account = await AccountRepository(session).get(sid)
    if account is None:
        raise NotFound(f"Account {sid} not found")
    return account


async def get_visible(session: AsyncSession, caller: Account, sid: str) -> Account:
    """The account ``sid`` if ``caller`` is it or an ancestor of it; otherwise NotFound."""
    account = caller if sid == caller.sid else await AccountRepository(session).get(sid)
    if account is None or not can_see(caller, account):
        raise NotFound(f"Account {sid} not found")
    return account


async def list_visible(session: AsyncSession, caller: Account, query: AccountQuery) -> tuple[int, list[Account]]:
    """The caller and its descendants, filtered, sorted and paged; a page past the end → 400."""
    flt = AccountFilter(
        lineage_prefix=caller.lineage,
        status=query.status,
        created_from=query.created_from,
        created_to=query.created_to,
    )
    repo = AccountRepository(session)
    total = await repo.count(flt)
    ensure_page_exists(query.page, total)
    return total, await repo.page(flt, query.sort, offset=query.page.offset, limit=query.page.page_size)


async def update_account(session: AsyncSession, caller: Account, target: Account, changes: AccountChanges) -> Account:
    """Apply ``changes``; role and status only by an ancestor; closing cascades."""
    repo = AccountRepository(session)
    by_ancestor = is_ancestor(caller, target)
    if (changes.role is not None or changes.status is not None) and not by_ancestor:
        raise Forbidden("Only a parent account may change an account's Role or Status")
    if target.status == AccountStatus.CLOSED:
        raise BadRequest(f"Account {target.sid} is closed and cannot be changed", param="Status")
    now = utcnow()
    if changes.email is not None and changes.email != target.email_address:
        if await repo.email_taken(changes.email, except_sid=target.sid):
            raise Conflict(f"An account with email {changes.email} already exists", param="EmailAddress")
        target.email_address = changes.email
    if changes.friendly_name is not None:
        target.friendly_name = changes.friendly_name
    if changes.password is not None:
        target.password_hash = await hash_password(changes.password)
    if changes.role is not None:
        target.role = changes.role
    if changes.status is not None and changes.status != target.status:
        target.status = changes.status
        if changes.status == AccountStatus.CLOSED:
            await repo.close_descendants(target.lineage, now)
    target.date_updated = now
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("An account with that email already exists", param="EmailAddress") from None
    return target


async def rotate_token(session: AsyncSession, box: SecretBox, account: Account) -> str:
    """Issue a new auth token; the old one stops working when this commits."""
    if account.status == AccountStatus.CLOSED:
        raise BadRequest(f"Account {account.sid} is closed")
    token = _issue_token(box, account)
    account.date_updated = utcnow()
    await session.flush()
    return token


async def list_all(session: AsyncSession) -> list[Account]:
    return await AccountRepository(session).all()

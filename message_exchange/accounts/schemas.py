"""Request bodies and the Restcomm account resource."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from message_exchange.accounts.models import Account
from message_exchange.core.dates import rfc2822

API_BASE = "/restcomm/2012-04-24"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Role = Literal["Administrator", "Developer"]
Status = Literal["active", "suspended", "closed"]


def _check_email(value: str | None) -> str | None:
    if value is None:
        return None
    if not _EMAIL_RE.match(value) or len(value) > 254:
        raise ValueError("must be an email address such as user@example.com")
    return value.lower()


class _Params(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)


class AccountCreate(_Params):
    email_address: str = Field(alias="EmailAddress", description="Login email, unique.")
    password: str = Field(alias="Password", min_length=8, max_length=256, description="8 characters or more.")
    friendly_name: str | None = Field(default=None, alias="FriendlyName", min_length=1, max_length=64)
    role: Role | None = Field(default=None, alias="Role", description="Default: Developer.")
    parent_sid: str | None = Field(
        default=None, alias="ParentSid", description="Create under this descendant; default: the caller."
    )

    _email = field_validator("email_address")(_check_email)


class AccountUpdate(_Params):
    friendly_name: str | None = Field(default=None, alias="FriendlyName", min_length=1, max_length=64)
    email_address: str | None = Field(default=None, alias="EmailAddress")
    password: str | None = Field(default=None, alias="Password", min_length=8, max_length=256)
    role: Role | None = Field(default=None, alias="Role", description="Only an ancestor may change it.")
    status: Status | None = Field(
        default=None, alias="Status", description="Only an ancestor may change it; closed is final and cascades."
    )

    _email = field_validator("email_address")(_check_email)


def account_uri(sid: str) -> str:
    return f"{API_BASE}/Accounts/{sid}.json"


def account_resource(account: Account, auth_token: str) -> dict[str, Any]:
    """The Restcomm account shape; ``auth_token`` is already masked unless just issued."""
    return {
        "sid": account.sid,
        "friendly_name": account.friendly_name,
        "email_address": account.email_address,
        "parent_sid": account.parent_sid,
        "type": account.type,
        "status": account.status,
        "role": account.role,
        "date_created": rfc2822(account.date_created),
        "date_updated": rfc2822(account.date_updated),
        "auth_token": auth_token,
        "uri": account_uri(account.sid),
    }

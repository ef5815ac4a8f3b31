"""Microsoft's HTTP APIs the Teams exchange calls (httpx): the token authority, Graph, the Bot Connector.

::

    async with MicrosoftClient(settings) as ms:
        user = await ms.graph_user(tenant_id, app_id, secret, "jane@contoso.com")   # None: not in the tenant
        token = await ms.connector_token(app_id, secret)
        conversation_id = await ms.create_conversation(service_url, token, bot_id=app_id, tenant_id=…, member_id=…)
        await ms.send_activity(service_url, token, conversation_id, {"type": "message", "text": "hi"})

Tokens come from the configured authority by client credentials
(``POST {authority}/{tenant}/oauth2/v2.0/token``; the Bot Connector's tenant is
``botframework.com`` — or the bot's own for a single-tenant bot —, Graph's the customer's) and
are cached per (URL, app, scope) until a minute before they expire.

429 and 5xx answers are retried here a few times with a short backoff (a 429 after its
``Retry-After`` while that stays short); after that the error is raised as retryable so a
job retries later with the job queue's exponential backoff. Failures become
:class:`TeamsApiError` — the adapter's one error type, an
:class:`~message_exchange.core.errors.UpstreamError`:

::

    TeamsApiError          status = Microsoft's HTTP status (None: network error / timeout)
     ├── TeamsThrottled    429 with a long Retry-After (``retry_after`` seconds)
     └── TeamsFileTooLarge an attachment over MAX_DOWNLOAD bytes (not read further)
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from message_exchange.config import Settings
from message_exchange.exchange.http import ChatApiError, retry_after
from message_exchange.webhooks.client import USER_AGENT

BOT_SCOPE = "https://api.botframework.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
REFRESH_MARGIN = 60.0
MAX_DOWNLOAD = 5 * 1024 * 1024

APP_NOT_IN_TENANT = "AADSTS700016"

_TOKENS: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_CONNECTOR_TENANTS: dict[str, str] = {}  # app id → the tenant its Bot Connector tokens come from


class TeamsApiError(ChatApiError):
    pass


class TeamsFileTooLarge(TeamsApiError):
    def __init__(self, url: str) -> None:
        super().__init__(f"GET {url}: file larger than {MAX_DOWNLOAD} bytes", status=None, retryable=False)


class TeamsThrottled(TeamsApiError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Microsoft rate limit: retry after {retry_after:g}s", status=429, retryable=True)
        self.retry_after = retry_after


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or response.reason_phrase)
        if isinstance(error, str):
            return str(body.get("error_description") or error)
        return str(body.get("message") or response.reason_phrase)
    return response.reason_phrase


def forget_tokens() -> None:
    """Drop every cached token (tests; a rotated client secret is picked up by its own key anyway)."""
    _TOKENS.clear()
    _CONNECTOR_TENANTS.clear()


class MicrosoftClient:
    def __init__(
        self,
        settings: Settings,
        *,
        max_wait_seconds: float = 2.0,
        retries: int = 2,
        backoff_seconds: float = 0.2,
    ) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(
            timeout=settings.msteams_timeout_seconds, headers={"User-Agent": USER_AGENT}, follow_redirects=False
        )
        self._max_wait = max_wait_seconds
        self._retries = retries
        self._backoff = backoff_seconds

    async def __aenter__(self) -> MicrosoftClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response | None = None
        for attempt in range(self._retries + 1):
            try:
                response = await self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if attempt < self._retries:
                    await asyncio.sleep(self._backoff * 2**attempt)
                    continue
                raise TeamsApiError(f"{method} {url}: unreachable ({exc!r})", status=None, retryable=True) from None
            if response.status_code == 429:
                wait = retry_after(response)
                if wait > self._max_wait or attempt == self._retries:
                    raise TeamsThrottled(wait)
                await asyncio.sleep(wait)
                continue
            if response.status_code >= 500 and attempt < self._retries:
                await asyncio.sleep(self._backoff * 2**attempt)
                continue
            break
        assert response is not None
        if response.status_code >= 400:
            raise TeamsApiError(
                f"{method} {url}: {response.status_code} {_detail(response)}",
                status=response.status_code,
                retryable=response.status_code >= 500,
            )
        return response

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._request(method, url, **kwargs)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise TeamsApiError(f"{method} {url}: not JSON", status=response.status_code, retryable=True) from None
        if not isinstance(body, dict):
            raise TeamsApiError(f"{method} {url}: unexpected body", status=response.status_code, retryable=False)
        return body

    # Tokens

    def token_url(self, tenant: str) -> str:
        return f"{self.settings.msteams_login_authority.rstrip('/')}/{quote(tenant, safe='')}/oauth2/v2.0/token"

    async def token(self, tenant: str, client_id: str, secret: str, scope: str) -> str:
        url = self.token_url(tenant)
        key = (url, client_id, scope, hashlib.sha256(secret.encode()).hexdigest())
        cached = _TOKENS.get(key)
        if cached is not None and cached[1] - REFRESH_MARGIN > time.monotonic():
            return cached[0]
        body = await self._json(
            "POST",
            url,
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": scope},
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TeamsApiError(f"POST {url}: no access_token", status=None, retryable=False)
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        _TOKENS[key] = (token, time.monotonic() + lifetime)
        return token

    async def connector_token(self, client_id: str, secret: str, home_tenant: str | None = None) -> str:
        """A Bot Connector token for the app ``client_id``.

        A multi-tenant bot gets it from the ``botframework.com`` tenant
        (``MX_MSTEAMS_BOT_TOKEN_TENANT``). A single-tenant bot (every Azure bot created since
        Microsoft retired new multi-tenant ones) is unknown there — AADSTS700016, "application
        not found in the directory" — and gets it from its own tenant instead; which tenant
        worked is remembered per app.
        """
        tenant = _CONNECTOR_TENANTS.get(client_id, self.settings.msteams_bot_token_tenant)
        try:
            return await self.token(tenant, client_id, secret, BOT_SCOPE)
        except TeamsApiError as exc:
            if not home_tenant or tenant == home_tenant or APP_NOT_IN_TENANT not in exc.message:
                raise
        token = await self.token(home_tenant, client_id, secret, BOT_SCOPE)
        _CONNECTOR_TENANTS[client_id] = home_tenant
        return token

    # Graph

    async def graph_user(self, tenant: str, client_id: str, secret: str, address: str) -> dict[str, Any] | None:
        """The user ``address`` (UPN, email or object id) of ``tenant``; None when the tenant has no such user."""
        token = await self.token(tenant, client_id, secret, GRAPH_SCOPE)
        url = f"{self.settings.msteams_graph_base_url.rstrip('/')}/v1.0/users/{quote(address, safe='@')}"
        try:
            return await self._json(
                "GET",
                url,
                params={"$select": "id,userPrincipalName,mail,displayName"},
                headers={"Authorization": f"Bearer {token}"},
            )
        except TeamsApiError as exc:
            if exc.status in (400, 404):
                return None
            raise

    # Bot Connector

    async def create_conversation(
        self, service_url: str, token: str, *, bot_id: str, tenant_id: str, member_id: str
    ) -> str:
        """A 1:1 conversation of the bot with one user (Teams allows no other kind); its id."""
        body = {
            "bot": {"id": f"28:{bot_id}"},
            "members": [{"id": member_id}],
            "isGroup": False,
            "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}},
        }
        created = await self._json(
            "POST",
            f"{service_url.rstrip('/')}/v3/conversations",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        conversation_id = created.get("id")
        if not isinstance(conversation_id, str) or not conversation_id:
            raise TeamsApiError("POST /v3/conversations: no conversation id", status=None, retryable=False)
        return conversation_id

    async def send_activity(
        self, service_url: str, token: str, conversation_id: str, activity: dict[str, Any]
    ) -> dict[str, Any]:
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
        return await self._json("POST", url, json=activity, headers={"Authorization": f"Bearer {token}"})

    async def download(self, url: str, token: str | None) -> tuple[bytes, str]:
        """A file a user attached (bytes, content type), at most MAX_DOWNLOAD bytes (read no further)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise TeamsApiError(
                        f"GET {url}: {response.status_code} {_detail(response)}",
                        status=response.status_code,
                        retryable=response.status_code == 429 or response.status_code >= 500,
                    )
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content.extend(chunk)
                    if len(content) > MAX_DOWNLOAD:
                        raise TeamsFileTooLarge(url)
                content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
        except httpx.HTTPError as exc:
            raise TeamsApiError(f"GET {url}: unreachable ({exc!r})", status=None, retryable=True) from None
        return bytes(content), content_type

"""A fake Microsoft side of a Teams bot: a real HTTP server on 127.0.0.1 speaking the real protocols.

::

    async with FakeBotFramework() as ms:
        ms.add_app(APP_ID, SECRET, TENANT)                      # an Azure app registration (the bot)
        jane = ms.add_user(TENANT, "jane@contoso.com", "Jane")  # a user of that tenant
        ms.install(APP_ID, jane)                                # the bot app installed for jane
        settings = Settings(msteams_openid_metadata_url=ms.openid_url, msteams_login_authority=ms.base_url,
                            msteams_graph_base_url=ms.base_url, msteams_allowed_service_hosts="127.0.0.1", ...)
        status = await ms.user_sends(endpoint, APP_ID, jane, "hello")   # an activity POSTed to the bot

It serves:

- OpenID metadata (``/v1/.well-known/openidconfiguration``) and its JWKS
  (``/v1/.well-known/keys``) holding the RSA keys it signs channel tokens with (RS256,
  ``iss`` https://api.botframework.com, ``aud`` the app id, ``serviceurl`` claim, keys
  endorsed for ``msteams``); :meth:`channel_token` makes good and bad tokens for tests,
  :meth:`rotate_key` publishes a new key and signs with it from then on;
- the token authority: ``POST /{tenant}/oauth2/v2.0/token`` (client credentials): the
  ``botframework.com`` tenant issues Bot Connector tokens (scope
  https://api.botframework.com/.default) to multi-tenant apps — a single-tenant app
  (``App.single_tenant``) is not found there (AADSTS700016) and gets them from its own
  tenant —, an app's own tenant issues Graph tokens (https://graph.microsoft.com/.default);
  wrong secret → 401 invalid_client;
  tokens live ``token_lifetime`` seconds (``expires_in``) and are refused once expired;
- Microsoft Graph ``GET /v1.0/users/{id or UPN}``: only users of the token's tenant (404
  otherwise), and only for an app granted User.Read.All (``App.graph_allowed``; 403
  Authorization_RequestDenied otherwise);
- the Bot Connector: ``POST /v3/conversations`` creates only 1:1 conversations
  (``isGroup`` false, exactly one member, the bot ``28:<app id>``) with a user of the
  tenant who has the bot installed (403 otherwise), the same conversation for the same
  pair; ``POST /v3/conversations/{id}/activities`` records the activity (the bot's own
  conversations only). ``fail_next(status, times)`` makes the next connector calls fail
  (429 with ``Retry-After`` or 5xx), ``fail_conversation`` the next posts to one chat;
- ``GET /files/{id}``: files users attach (Teams' pre-authenticated download URLs);
- ``GET /v3/attachments/{id}/views/original``: pictures pasted into a message (Teams-hosted
  content: only with a Bot Connector token, 401 without).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

ISSUER = "https://api.botframework.com"
BOT_SCOPE = "https://api.botframework.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BOT_TENANT = "botframework.com"
KID = "fake-key-1"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class App:
    app_id: str
    secret: str
    tenant: str
    graph_allowed: bool = True  # granted the Graph application permission User.Read.All
    single_tenant: bool = False  # a SingleTenant Azure bot: its connector tokens come from its own tenant


@dataclass
class User:
    tenant: str
    upn: str
    name: str
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    teams_id: str = field(default_factory=lambda: f"29:{secrets.token_urlsafe(24)}")


@dataclass
class Conversation:
    id: str
    app_id: str
    user: User
    activities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class IssuedToken:
    app_id: str
    tenant: str
    scope: str
    expires_at: float


class FakeBotFramework:
    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = KID
        self._published: dict[str, rsa.RSAPrivateKey] = {KID: self._key}
        self.token_lifetime = 3599
        self.hosted: dict[str, tuple[bytes, str]] = {}
        self.hosted_requests: list[bool] = []  # whether each Teams-hosted content request was authorized
        self.apps: dict[str, App] = {}
        self.users: list[User] = []
        self.installed: set[tuple[str, str]] = set()  # (app id, user object id)
        self.conversations: dict[str, Conversation] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.token_requests: list[tuple[str, str]] = []  # (tenant, scope)
        self.files: dict[str, tuple[bytes, str]] = {}
        self.connector_calls: list[tuple[str, str, int]] = []  # (method, path, status)
        self._failures: list[tuple[int, float]] = []
        self._conversation_failures: dict[str, list[int]] = {}
        self._ids = itertools.count(1)
        self._server = LoopbackServer(
            Starlette(
                routes=[
                    Route("/v1/.well-known/openidconfiguration", self._openid),
                    Route("/v1/.well-known/keys", self._keys),
                    Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                    Route("/v1.0/users/{user}", self._graph_user),
                    Route("/v3/conversations", self._create_conversation, methods=["POST"]),
                    Route("/v3/conversations/{conversation}/activities", self._activity, methods=["POST"]),
                    Route("/files/{file_id}", self._file),
                    Route("/v3/attachments/{attachment}/views/original", self._hosted),
                ]
            )
        )
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> FakeBotFramework:
        await self._server.start()
        self._http = httpx.AsyncClient(timeout=10)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
        await self._server.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def openid_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/"

    # Setting up

    def add_app(self, app_id: str, secret: str, tenant: str) -> App:
        app = App(app_id, secret, tenant)
        self.apps[app_id] = app
        return app

    def add_user(self, tenant: str, upn: str, name: str) -> User:
        user = User(tenant, upn.lower(), name)
        self.users.append(user)
        return user

    def install(self, app_id: str, user: User) -> None:
        self.installed.add((app_id, user.object_id))

    def add_file(self, content: bytes, content_type: str) -> str:
        file_id = f"F{next(self._ids)}"
        self.files[file_id] = (content, content_type)
        return f"{self.base_url}/files/{file_id}"

    def add_hosted_image(self, content: bytes, content_type: str) -> str:
        """A picture pasted into a Teams message: its contentUrl (served only with a Bot Connector token)."""
        attachment_id = f"0-eus-d{next(self._ids)}-{secrets.token_hex(8)}"
        self.hosted[attachment_id] = (content, content_type)
        return f"{self.base_url}/v3/attachments/{attachment_id}/views/original"

    def rotate_key(self) -> str:
        """Publish a new signing key (the old one stays listed) and sign channel tokens with it; its kid."""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = f"fake-key-{len(self._published) + 1}"
        self._published[self._kid] = self._key
        return self._kid

    def fail_next(self, status: int, times: int = 1, retry_after: float = 0) -> None:
        """The next ``times`` Bot Connector requests answer ``status`` (429 with Retry-After)."""
        self._failures.extend([(status, retry_after)] * times)

    def fail_conversation(self, conversation_id: str, status: int, times: int = 1) -> None:
        """The next ``times`` activities posted to that conversation answer ``status`` (5xx)."""
        self._conversation_failures.setdefault(conversation_id, []).extend([status] * times)

    def conversation_of(self, app_id: str, user: User) -> Conversation | None:
        for conversation in self.conversations.values():
            if conversation.app_id == app_id and conversation.user.object_id == user.object_id:
                return conversation
        return None

    def activities_to(self, app_id: str, user: User) -> list[dict[str, Any]]:
        conversation = self.conversation_of(app_id, user)
        return list(conversation.activities) if conversation else []

    # Tokens the channel sends to bots

    def channel_token(
        self,
        app_id: str,
        service_url: str,
        *,
        issuer: str = ISSUER,
        audience: str | None = None,
        expires_in: float = 3600,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        algorithm: str = "RS256",
        signing_secret: bytes | None = None,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience if audience is not None else app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": int(now + expires_in),
        }
        headers = {"kid": kid or self._kid}
        if signing_secret is not None:  # an HMAC token (alg confusion): never valid for a bot
            return jwt.encode(claims, signing_secret, algorithm=algorithm, headers=headers)
        return jwt.encode(claims, key or self._key, algorithm=algorithm, headers=headers)

    def message_activity(
        self,
        app_id: str,
        user: User,
        text: str | None,
        *,
        value: dict[str, Any] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        activity_id: str | None = None,
        channel_id: str = "msteams",
    ) -> dict[str, Any]:
        conversation = self.conversation_of(app_id, user)
        conversation_id = conversation.id if conversation else self._open(app_id, user).id
        activity: dict[str, Any] = {
            "type": "message",
            "id": activity_id or f"1{next(self._ids):012d}",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "serviceUrl": self.service_url,
            "channelId": channel_id,
            "from": {"id": user.teams_id, "name": user.name, "aadObjectId": user.object_id},
            "conversation": {"conversationType": "personal", "tenantId": user.tenant, "id": conversation_id},
            "recipient": {"id": f"28:{app_id}", "name": "SMS"},
            "textFormat": "plain",
            "locale": "en-US",
            "channelData": {"tenant": {"id": user.tenant}},
        }
        if text is not None:
            activity["text"] = text
        if value is not None:
            activity["value"] = value
        if attachments:
            activity["attachments"] = attachments
        return activity

    async def post_activity(self, endpoint: str, activity: dict[str, Any], token: str | None) -> httpx.Response:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self._http.post(endpoint, content=json.dumps(activity), headers=headers)

    async def user_sends(
        self,
        endpoint: str,
        app_id: str,
        user: User,
        text: str | None,
        *,
        value: dict[str, Any] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        activity_id: str | None = None,
    ) -> httpx.Response:
        """What Teams does when ``user`` writes to the bot in their 1:1 chat: a signed activity to the endpoint."""
        activity = self.message_activity(
            app_id, user, text, value=value, attachments=attachments, activity_id=activity_id
        )
        return await self.post_activity(endpoint, activity, self.channel_token(app_id, self.service_url))

    # Handlers

    def _open(self, app_id: str, user: User) -> Conversation:
        conversation = Conversation(id=f"a:{secrets.token_urlsafe(16)}", app_id=app_id, user=user)
        self.conversations[conversation.id] = conversation
        return conversation

    async def _openid(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{self.base_url}/v1/.well-known/authorize",
                "jwks_uri": f"{self.base_url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: Request) -> Response:
        keys = []
        for kid, private in self._published.items():
            public = private.public_key().public_numbers()
            keys.append(
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": kid,
                    "n": _b64(public.n),
                    "e": _b64(public.e),
                    "endorsements": ["msteams", "webchat"],
                }
            )
        return JSONResponse({"keys": keys})

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> Response:
        return JSONResponse({"error": error, "error_description": description}, status_code=status)

    async def _token(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        form = await request.form()
        scope = str(form.get("scope") or "")
        self.token_requests.append((tenant, scope))
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type", "AADSTS70003: grant_type not supported")
        app = self.apps.get(str(form.get("client_id") or ""))
        if app is None:
            return self._oauth_error(400, "unauthorized_client", "AADSTS700016: Application not found")
        if tenant == BOT_TENANT and app.single_tenant:
            return self._oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{app.app_id}' was not found in the directory "
                "'Bot Framework'.",
            )
        if form.get("client_secret") != app.secret:
            return self._oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        connector_tenant = app.tenant if app.single_tenant else BOT_TENANT
        if (tenant == connector_tenant and scope == BOT_SCOPE) or (tenant == app.tenant and scope == GRAPH_SCOPE):
            pass
        else:
            return self._oauth_error(400, "invalid_scope", f"AADSTS70011: scope {scope} not valid for {tenant}")
        token = secrets.token_urlsafe(32)
        self.tokens[token] = IssuedToken(app.app_id, tenant, scope, time.time() + self.token_lifetime)
        lifetime = self.token_lifetime
        return JSONResponse(
            {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        )

    def _bearer(self, request: Request, scope: str) -> IssuedToken | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        issued = self.tokens.get(header[len("Bearer ") :])
        if issued is None or issued.scope != scope or issued.expires_at <= time.time():
            return None
        return issued

    async def _graph_user(self, request: Request) -> Response:
        issued = self._bearer(request, GRAPH_SCOPE)
        if issued is None:
            return JSONResponse(
                {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}}, status_code=401
            )
        if not self.apps[issued.app_id].graph_allowed:
            return JSONResponse(
                {
                    "error": {
                        "code": "Authorization_RequestDenied",
                        "message": "Insufficient privileges to complete the operation.",
                    }
                },
                status_code=403,
            )
        wanted = request.path_params["user"].lower()
        for user in self.users:
            if user.tenant == issued.tenant and wanted in (user.upn, user.object_id):
                return JSONResponse(
                    {
                        "id": user.object_id,
                        "userPrincipalName": user.upn,
                        "mail": user.upn,
                        "displayName": user.name,
                    }
                )
        return JSONResponse(
            {"error": {"code": "Request_ResourceNotFound", "message": f"Resource '{wanted}' does not exist."}},
            status_code=404,
        )

    def _failure(self, request: Request) -> Response | None:
        if not self._failures:
            return None
        status, retry_after = self._failures.pop(0)
        headers = {"Retry-After": f"{retry_after:g}"} if status == 429 else {}
        self.connector_calls.append((request.method, request.url.path, status))
        return JSONResponse({"error": {"code": "ServiceError", "message": "try again"}}, status, headers=headers)

    async def _create_conversation(self, request: Request) -> Response:
        failed = self._failure(request)
        if failed is not None:
            return failed
        issued = self._bearer(request, BOT_SCOPE)
        if issued is None:
            return JSONResponse({"error": {"code": "Unauthorized", "message": "Authorization denied"}}, 401)
        body = await request.json()
        members = body.get("members") or []
        tenant = body.get("tenantId") or (body.get("channelData") or {}).get("tenant", {}).get("id")
        if body.get("isGroup") or len(members) != 1:
            return JSONResponse(
                {"error": {"code": "BadArgument", "message": "Only 1:1 conversations can be created"}}, 400
            )
        if (body.get("bot") or {}).get("id") not in (f"28:{issued.app_id}", issued.app_id):
            return JSONResponse({"error": {"code": "BadArgument", "message": "Bot id does not match the token"}}, 400)
        member = str(members[0].get("id") or "")
        user = next(
            (u for u in self.users if u.tenant == tenant and member in (u.object_id, u.teams_id)),
            None,
        )
        if user is None:
            return JSONResponse({"error": {"code": "BadArgument", "message": "Member not found in the tenant"}}, 400)
        if (issued.app_id, user.object_id) not in self.installed:
            return JSONResponse(
                {"error": {"code": "Forbidden", "message": "The bot is not part of the conversation roster."}}, 403
            )
        conversation = self.conversation_of(issued.app_id, user) or self._open(issued.app_id, user)
        self.connector_calls.append(("POST", request.url.path, 201))
        return JSONResponse({"id": conversation.id}, status_code=201)

    async def _activity(self, request: Request) -> Response:
        failed = self._failure(request)
        if failed is not None:
            return failed
        issued = self._bearer(request, BOT_SCOPE)
        if issued is None:
            return JSONResponse({"error": {"code": "Unauthorized", "message": "Authorization denied"}}, 401)
        conversation = self.conversations.get(request.path_params["conversation"])
        if conversation is None or conversation.app_id != issued.app_id:
            return JSONResponse(
                {"error": {"code": "ConversationNotFound", "message": "Conversation not found."}}, status_code=404
            )
        pending = self._conversation_failures.get(conversation.id)
        if pending:
            status = pending.pop(0)
            self.connector_calls.append((request.method, request.url.path, status))
            return JSONResponse({"error": {"code": "ServiceError", "message": "try again"}}, status)
        activity = await request.json()
        if activity.get("type") != "message":
            return JSONResponse({"error": {"code": "BadArgument", "message": "Unknown activity type"}}, 400)
        activity_id = f"1{next(self._ids):012d}"
        conversation.activities.append({**activity, "id": activity_id})
        self.connector_calls.append(("POST", request.url.path, 201))
        return JSONResponse({"id": activity_id}, status_code=201)

    async def _hosted(self, request: Request) -> Response:
        authorized = self._bearer(request, BOT_SCOPE) is not None
        self.hosted_requests.append(authorized)
        if not authorized:
            return JSONResponse({"error": {"code": "Unauthorized", "message": "Authorization denied"}}, 401)
        found = self.hosted.get(request.path_params["attachment"])
        if found is None:
            return Response(status_code=404)
        return Response(found[0], media_type=found[1])

    async def _file(self, request: Request) -> Response:
        found = self.files.get(request.path_params["file_id"])
        if found is None:
            return Response(status_code=404)
        return Response(found[0], media_type=found[1])

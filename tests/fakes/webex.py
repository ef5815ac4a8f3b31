"""A fake Webex REST API: a real HTTP server on 127.0.0.1 that enforces the platform's rules.

::

    async with FakeWebex() as webex:
        bot = webex.add_bot("SMS Bot", "smsbot@webex.bot")        # its token: bot.token
        settings = Settings(webex_api_base_url=webex.base_url, ...)
        ...
        await webex.user_posts("jane@acme.com", room_id, "SMS Bot hello", mention=bot)  # webhooks fire
        webex.throttle(times=1, retry_after=1)                   # next request → 429 Retry-After: 1

What it enforces, as Webex does:

- ``Authorization: Bearer <token>`` of a known bot on every request → else 401;
- a bot acts only in rooms it is a member of (posting, adding members, reading) → 404;
- a bot hears (webhook) and may read (``GET /messages/{id}``) a group-space message only
  when the message mentions it; a 1:1 (``direct``) message always; its own posts too
  (Webex notifies a bot of its own messages, so a bridge must ignore them);
- a message carries text/markdown and at most one file (``files`` with two URLs → 400);
- webhooks are POSTed to their ``targetUrl`` as JSON with ``X-Spark-Signature`` = hex
  HMAC-SHA1 of the exact body, keyed with the webhook's secret; the notification carries
  no message text (a bridge must fetch it by id);
- ``throttle()`` makes the next request(s) answer 429 with ``Retry-After``; ``fail()`` makes
  them answer a server error (Webex has outages too).

Users are not bots: they act through :meth:`FakeWebex.user_posts` (what a Webex client does),
which stores the message and delivers the webhooks before returning their HTTP statuses.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _webex_id(kind: str, number: int) -> str:
    """Webex ids are base64 of ``ciscospark://us/<KIND>/<uuid>``."""
    raw = f"ciscospark://us/{kind}/{number:08d}-0000-4000-8000-000000000000"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass
class Person:
    id: str
    email: str
    display_name: str
    token: str | None = None  # bots only

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "emails": [self.email],
            "displayName": self.display_name,
            "type": "bot" if self.token else "person",
        }


@dataclass
class Room:
    id: str
    title: str
    type: str  # group | direct
    creator_id: str
    members: list[str] = field(default_factory=list)  # person ids, in the order they joined


@dataclass
class WebexMessage:
    id: str
    room_id: str
    room_type: str
    person_id: str
    person_email: str
    text: str | None
    files: list[str]
    mentioned: list[str]
    created: str

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "roomId": self.room_id,
            "roomType": self.room_type,
            "personId": self.person_id,
            "personEmail": self.person_email,
            "created": self.created,
        }
        if self.text is not None:
            body["text"] = self.text
        if self.files:
            body["files"] = list(self.files)
        if self.mentioned:
            body["mentionedPeople"] = list(self.mentioned)
        return body


@dataclass
class Webhook:
    id: str
    owner_id: str
    name: str
    target_url: str
    resource: str
    event: str
    secret: str | None
    created: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "targetUrl": self.target_url,
            "resource": self.resource,
            "event": self.event,
            "status": "active",
            "created": self.created,
        }


@dataclass
class Delivery:
    webhook_id: str
    body: bytes
    signature: str | None
    status: int | None


class FakeWebex:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.people: dict[str, Person] = {}
        self.rooms: dict[str, Room] = {}
        self.messages: dict[str, WebexMessage] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.deliveries: list[Delivery] = []
        self.requests: list[tuple[str, str]] = []
        self._throttle: list[float] = []
        self._failures: list[tuple[int, str]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._server = LoopbackServer(self._app())
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> FakeWebex:
        await self._server.start()
        self._http = httpx.AsyncClient(timeout=10)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.settle()
        if self._http is not None:
            await self._http.aclose()
        await self._server.stop()

    @property
    def base_url(self) -> str:
        return f"{self._server.base_url}/v1/"

    # Test-side actions

    async def settle(self) -> None:
        """Wait until every webhook notification already due has been delivered."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def add_bot(self, display_name: str, email: str) -> Person:
        number = next(self._ids)
        bot = Person(_webex_id("PEOPLE", number), email, display_name, token=f"bot-token-{number}")
        self.people[bot.id] = bot
        return bot

    def person(self, email: str) -> Person:
        """The Webex user with ``email`` (made on first use, as an org's directory would have them)."""
        for person in self.people.values():
            if person.email == email.lower() and person.token is None:
                return person
        person = Person(_webex_id("PEOPLE", next(self._ids)), email.lower(), email.split("@", maxsplit=1)[0].title())
        self.people[person.id] = person
        return person

    def throttle(self, times: int = 1, retry_after: float = 1.0) -> None:
        self._throttle.extend([retry_after] * times)

    def fail(self, times: int = 1, status: int = 503, *, only: str = "") -> None:
        """The next ``times`` requests (those whose ``"METHOD /path"`` starts with ``only``) answer ``status``."""
        self._failures.extend([(status, only)] * times)

    def upload(self, content: bytes, content_type: str) -> str:
        """A file a user attached: its content URL (readable with a bot token)."""
        file_id = _webex_id("CONTENT", next(self._ids))
        self.files[file_id] = (content, content_type)
        return f"{self.base_url}contents/{file_id}"

    def rooms_titled(self, title: str) -> list[Room]:
        return [room for room in self.rooms.values() if room.title == title]

    def messages_in(self, room_id: str) -> list[WebexMessage]:
        return [m for m in self.messages.values() if m.room_id == room_id]

    def direct_room(self, a: Person, b: Person) -> Room:
        for room in self.rooms.values():
            if room.type == "direct" and set(room.members) == {a.id, b.id}:
                return room
        room = Room(_webex_id("ROOM", next(self._ids)), b.display_name, "direct", a.id, [a.id, b.id])
        self.rooms[room.id] = room
        return room

    async def user_posts(
        self,
        email: str,
        room_id: str,
        text: str | None,
        *,
        mention: Person | None = None,
        files: list[str] | None = None,
    ) -> WebexMessage:
        """A user writes in a room (``mention`` puts the bot's name first, as the client does)."""
        user = self.person(email)
        room = self.rooms[room_id]
        assert user.id in room.members, "users post only in rooms they belong to"
        if mention is not None:
            text = f"{mention.display_name} {text or ''}".strip()
        message = self._store(room, user, text, files or [], [mention.id] if mention else [])
        await self._notify(message)
        return message

    # The HTTP API

    def _app(self) -> Starlette:
        routes = [
            Route("/v1/people/me", self._me, methods=["GET"]),
            Route("/v1/rooms", self._create_room, methods=["POST"]),
            Route("/v1/memberships", self._add_member, methods=["POST"]),
            Route("/v1/messages", self._create_message, methods=["POST"]),
            Route("/v1/messages/{message_id}", self._get_message, methods=["GET"]),
            Route("/v1/webhooks", self._webhooks, methods=["GET", "POST"]),
            Route("/v1/webhooks/{webhook_id}", self._delete_webhook, methods=["DELETE"]),
            Route("/v1/contents/{file_id}", self._content, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    @staticmethod
    def _error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"message": message, "errors": [{"description": message}], "trackingId": "FAKE"}, status)

    def _caller(self, request: Request) -> Person | JSONResponse:
        self.requests.append((request.method, request.url.path))
        if self._throttle:
            wait = self._throttle.pop(0)
            response = self._error(429, "Too Many Requests")
            response.headers["Retry-After"] = f"{wait:g}"
            return response
        for index, (status, only) in enumerate(self._failures):
            if f"{request.method} {request.url.path}".startswith(only):
                del self._failures[index]
                return self._error(status, "Service error" if status >= 500 else "Request refused")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        for person in self.people.values():
            if scheme == "Bearer" and person.token is not None and hmac.compare_digest(person.token, token):
                return person
        return self._error(401, "The request requires a valid access token set in the Authorization request header.")

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def _me(self, request: Request) -> Response:
        caller = self._caller(request)
        return caller if isinstance(caller, Response) else JSONResponse(caller.as_json())

    async def _create_room(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        title = (await self._body(request)).get("title")
        if not isinstance(title, str) or not title:
            return self._error(400, "title is required")
        room = Room(_webex_id("ROOM", next(self._ids)), title, "group", caller.id, [caller.id])
        self.rooms[room.id] = room
        return JSONResponse({"id": room.id, "title": room.title, "type": room.type, "creatorId": caller.id})

    async def _add_member(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        body = await self._body(request)
        room = self.rooms.get(str(body.get("roomId")))
        if room is None or caller.id not in room.members:
            return self._error(404, "Room not found")
        if isinstance(body.get("personEmail"), str):
            person = self.person(body["personEmail"])
        elif body.get("personId") in self.people:
            person = self.people[body["personId"]]
        else:
            return self._error(400, "personId or personEmail is required")
        if person.id in room.members:
            return self._error(409, "Person is already a member")
        room.members.append(person.id)
        return JSONResponse({"id": _webex_id("MEMBERSHIP", next(self._ids)), "roomId": room.id, "personId": person.id})

    async def _create_message(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        body = await self._body(request)
        files = body.get("files") or []
        if not isinstance(files, list) or len(files) > 1:
            return self._error(400, "Only one file is allowed per message.")
        text = body.get("text") if isinstance(body.get("text"), str) else body.get("markdown")
        if not text and not files:
            return self._error(400, "A message needs text, markdown or a file.")
        if isinstance(body.get("toPersonEmail"), str):
            room = self.direct_room(caller, self.person(body["toPersonEmail"]))
        else:
            found = self.rooms.get(str(body.get("roomId")))
            if found is None or caller.id not in found.members:
                return self._error(404, "Could not find a room with provided ID.")
            room = found
        message = self._store(room, caller, text if isinstance(text, str) else None, [str(f) for f in files], [])
        # Webex notifies asynchronously: the poster's request never waits on a webhook target.
        task = asyncio.create_task(self._notify(message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return JSONResponse(message.as_json())

    def _can_read(self, bot: Person, message: WebexMessage) -> bool:
        room = self.rooms[message.room_id]
        if bot.id not in room.members:
            return False
        return room.type == "direct" or message.person_id == bot.id or bot.id in message.mentioned

    async def _get_message(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        message = self.messages.get(request.path_params["message_id"])
        if message is None or not self._can_read(caller, message):
            return self._error(404, "Message not found")
        return JSONResponse(message.as_json())

    async def _webhooks(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        if request.method == "GET":
            items = [hook.as_json() for hook in self.webhooks.values() if hook.owner_id == caller.id]
            return JSONResponse({"items": items})
        body = await self._body(request)
        for name in ("name", "targetUrl", "resource", "event"):
            if not isinstance(body.get(name), str) or not body[name]:
                return self._error(400, f"{name} is required")
        hook = Webhook(
            _webex_id("WEBHOOK", next(self._ids)),
            caller.id,
            body["name"],
            body["targetUrl"],
            body["resource"],
            body["event"],
            body.get("secret"),
            _now(),
        )
        self.webhooks[hook.id] = hook
        return JSONResponse(hook.as_json())

    async def _delete_webhook(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        hook = self.webhooks.get(request.path_params["webhook_id"])
        if hook is None or hook.owner_id != caller.id:
            return self._error(404, "Webhook not found")
        del self.webhooks[hook.id]
        return Response(status_code=204)

    async def _content(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        found = self.files.get(request.path_params["file_id"])
        if found is None:
            return self._error(404, "Content not found")
        return Response(found[0], media_type=found[1])

    # Storage and notification

    def _store(
        self, room: Room, author: Person, text: str | None, files: list[str], mentioned: list[str]
    ) -> WebexMessage:
        message = WebexMessage(
            id=_webex_id("MESSAGE", next(self._ids)),
            room_id=room.id,
            room_type=room.type,
            person_id=author.id,
            person_email=author.email,
            text=text,
            files=files,
            mentioned=mentioned,
            created=_now(),
        )
        self.messages[message.id] = message
        return message

    async def _notify(self, message: WebexMessage) -> None:
        """POST ``messages.created`` to every webhook whose bot may see the message."""
        assert self._http is not None
        for hook in list(self.webhooks.values()):
            bot = self.people[hook.owner_id]
            if (hook.resource, hook.event) != ("messages", "created") or not self._can_read(bot, message):
                continue
            data = {k: v for k, v in message.as_json().items() if k not in ("text", "files")}
            payload = {
                "id": hook.id,
                "name": hook.name,
                "targetUrl": hook.target_url,
                "resource": "messages",
                "event": "created",
                "orgId": "FAKEORG",
                "createdBy": bot.id,
                "appId": "FAKEAPP",
                "ownedBy": "creator",
                "status": "active",
                "created": hook.created,
                "actorId": message.person_id,
                "data": data,
            }
            body = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json"}
            signature = None
            if hook.secret:
                signature = hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest()
                headers["X-Spark-Signature"] = signature
            try:
                response = await self._http.post(hook.target_url, content=body, headers=headers)
                status: int | None = response.status_code
            except httpx.HTTPError:
                status = None
            self.deliveries.append(Delivery(hook.id, body, signature, status))


@contextmanager
def fake_webex_in_thread() -> Iterator[FakeWebex]:
    """A :class:`FakeWebex` serving from its own event loop in a thread (for sync tests and subprocesses)."""
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None
    holder: list[FakeWebex] = []
    loop = asyncio.new_event_loop()

    async def run() -> None:
        nonlocal stop
        stop = loop.create_future()
        async with FakeWebex() as fake:
            holder.append(fake)
            ready.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the fake Webex did not start")
    try:
        yield holder[0]
    finally:

        def finish() -> None:
            if stop is not None and not stop.done():
                stop.set_result(None)

        loop.call_soon_threadsafe(finish)
        thread.join(30)
        loop.close()

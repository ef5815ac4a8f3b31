"""A small async Webex REST client (httpx): rooms, memberships, messages, webhooks, files.

::

    async with WebexClient(settings.webex_api_base_url, token, timeout=10) as webex:
        room = await webex.create_room("+15551234567")
        await webex.post_message(room["id"], text="hello")

Every request carries ``Authorization: Bearer <token>``. A 429 is retried after its
``Retry-After`` (Webex's rate limit answer) while the wait stays short
(``max_wait_seconds``); a longer wait raises :class:`WebexThrottled` so a job can be
rescheduled instead of holding a worker. Failures become :class:`WebexApiError` —
the adapter's one error type, an :class:`~message_exchange.core.errors.UpstreamError`:

::

    WebexApiError        status = Webex's HTTP status (None: network error / timeout)
     └── WebexThrottled  429 with a long Retry-After (``retry_after`` seconds)

``retryable`` says whether trying again later can help (network, 5xx, 429).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import httpx

from message_exchange.exchange.http import ChatApiError, retry_after
from message_exchange.webhooks.client import USER_AGENT


class WebexApiError(ChatApiError):
    pass


class WebexThrottled(WebexApiError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Webex rate limit: retry after {retry_after:g}s", status=429, retryable=True)
        self.retry_after = retry_after


class WebexClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        max_wait_seconds: float = 5.0,
        max_throttled_retries: int = 3,
    ) -> None:
        self._base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        self._token = token
        self._max_wait = max_wait_seconds
        self._max_retries = max_throttled_retries

    async def __aenter__(self) -> WebexClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def is_ours(self, url: str) -> bool:
        """Whether ``url`` points into this Webex API (only such URLs get the bot's token)."""
        return url.startswith(self._base_url)

    async def _request(self, method: str, path: str, *, json: Any = None, params: Any = None) -> httpx.Response:
        for attempt in range(self._max_retries + 1):
            try:
                response = await self._http.request(method, path, json=json, params=params)
            except httpx.HTTPError as exc:
                raise WebexApiError(f"Webex unreachable: {exc!r}", status=None, retryable=True) from None
            if response.status_code != 429:
                break
            wait = retry_after(response)
            if wait > self._max_wait or attempt == self._max_retries:
                raise WebexThrottled(wait)
            await asyncio.sleep(wait)
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("message") or response.reason_phrase)
            except ValueError:
                detail = response.reason_phrase
            raise WebexApiError(
                f"Webex {method} {path}: {response.status_code} {detail}",
                status=response.status_code,
                retryable=response.status_code >= 500,
            )
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise WebexApiError(
                f"Webex {method} {path}: not JSON", status=response.status_code, retryable=True
            ) from None
        if not isinstance(body, dict):
            raise WebexApiError(f"Webex {method} {path}: unexpected body", status=response.status_code, retryable=False)
        return body

    async def me(self) -> dict[str, Any]:
        return await self._json("GET", "people/me")

    async def create_room(self, title: str) -> dict[str, Any]:
        return await self._json("POST", "rooms", json={"title": title})

    async def add_member(self, room_id: str, person: str) -> dict[str, Any]:
        """Add a person by email or by person id."""
        who = {"personEmail": person} if "@" in person else {"personId": person}
        return await self._json("POST", "memberships", json={"roomId": room_id, **who})

    async def post_message(
        self,
        room_id: str | None = None,
        *,
        to_person: str | None = None,
        text: str | None = None,
        markdown: str | None = None,
        file_url: str | None = None,
    ) -> dict[str, Any]:
        """Post to a room (or 1:1 to a person); Webex takes one file per message."""
        body: dict[str, Any] = {}
        if room_id is not None:
            body["roomId"] = room_id
        elif to_person is not None:
            body["toPersonEmail" if "@" in to_person else "toPersonId"] = to_person
        if text is not None:
            body["text"] = text
        if markdown is not None:
            body["markdown"] = markdown
        if file_url is not None:
            body["files"] = [file_url]
        return await self._json("POST", "messages", json=body)

    async def get_message(self, message_id: str) -> dict[str, Any]:
        return await self._json("GET", f"messages/{message_id}")

    async def list_webhooks(self) -> list[dict[str, Any]]:
        items = (await self._json("GET", "webhooks", params={"max": 100})).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    async def create_webhook(self, *, name: str, target_url: str, secret: str) -> dict[str, Any]:
        return await self._json(
            "POST",
            "webhooks",
            json={"name": name, "targetUrl": target_url, "resource": "messages", "event": "created", "secret": secret},
        )

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._request("DELETE", f"webhooks/{webhook_id}")

    async def download(self, url: str) -> tuple[bytes, str]:
        """A file a message carries (its ``files`` URL, under the API base): bytes and content type."""
        if not self.is_ours(url):
            raise WebexApiError("not a Webex content URL", status=None, retryable=False)
        response = await self._request("GET", url[len(self._base_url) :])
        return response.content, response.headers.get("content-type", "application/octet-stream")

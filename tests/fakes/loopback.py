"""Serve an ASGI app on 127.0.0.1 (an ephemeral port) inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import ASGIApp


class LoopbackServer:
    """uvicorn in a background task; ``lifespan`` runs the app's startup/shutdown if asked."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", lifespan: bool = False) -> None:
        self.app = app
        self.lifespan = lifespan
        self.host = host
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            interface="asgi3",
            proxy_headers=False,
            log_level="warning",
            access_log=False,
            lifespan="on" if self.lifespan else "off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

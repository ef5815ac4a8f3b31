"""Real ``mx serve`` processes on a loopback port, and the ``mx`` CLI, for integration tests.

Each server logs to its own file; :meth:`MxServer.kill` sends SIGKILL (a crash: no
shutdown hook runs), :meth:`MxServer.stop` SIGTERM (a clean stop). Whatever is still
running when the owning ``ServerProcesses`` closes is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
MX = Path(sys.executable).parent / "mx"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mx_env(database_url: str, data_dir: Path, secret_key: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MX_DATA_DIR": str(data_dir),
        "MX_DATABASE_URL": database_url,
        "MX_SECRET_KEY": secret_key,
        "MX_LOG_LEVEL": "WARNING",
        **extra,
    }


async def run_cli(env: dict[str, str], *args: str) -> Any:
    """Run ``mx ARGS --json``; its parsed JSON output. Fails on a non-zero exit."""
    process = await asyncio.create_subprocess_exec(
        str(MX), *args, "--json", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode != 0:
        raise AssertionError(f"mx {' '.join(args)} exited {process.returncode}:\n{err.decode()}")
    return json.loads(out.decode().strip().splitlines()[-1])


class MxServer:
    """One ``mx serve`` process."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log_path: Path, log_file: IO[bytes]) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        self._log_file = log_file

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as http:
            while True:
                if not self.running:
                    raise AssertionError(f"mx serve exited early ({self.process.returncode}):\n{self.log()}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"mx serve did not become ready in {within}s:\n{self.log()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL now (synchronous, so it can be called from a response handler)."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)

    async def stop(self, within: float = 15.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time. Its exit code."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), within)
            except TimeoutError:
                self.process.kill()
        code = await self.process.wait()
        self._log_file.close()
        return code


class ServerProcesses:
    """Starts ``mx serve`` processes; :meth:`close` kills whatever is left of them."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.servers: list[MxServer] = []

    async def start(self, port: int | None = None, **env: str) -> MxServer:
        port = port or free_port()
        log_path = self.log_dir / f"serve-{len(self.servers)}.log"
        log_file = log_path.open("wb")
        process = await asyncio.create_subprocess_exec(
            str(MX),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            cwd=ROOT,
            stdout=log_file,
            stderr=log_file,
            env={**self.env, **env},
        )
        server = MxServer(process, port, log_path, log_file)
        self.servers.append(server)
        await server.wait_ready()
        return server

    async def close(self) -> None:
        for server in self.servers:
            if server.running:
                server.process.kill()
            await server.process.wait()
            server._log_file.close()

"""Jasmin 0.11.0 (installed by ``scripts/jasmin`` into ``.venv-jasmin/``) driven from tests.

Not a fake: the real third-party gateway, started as ``scripts/jasmin run DIR`` (jasmind with
its SMPP server, router, SMPP client manager, DLR lookup and DLR thrower in one process, on
127.0.0.1 ports of its own, with the machine's RabbitMQ and Redis) and provisioned over jCli,
its telnet console::

    jasmin = await Jasmin(tmp_path / "jasmin").start()
    async with jasmin.jcli() as jcli:
        await jcli.add("group", gid="mx")
        await jcli.add("user", username="mxesme", password="secret", gid="mx", uid="mx")
    ...
    await jasmin.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import IO

from tests.support.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "jasmin"
JASMIND = REPO_ROOT / ".venv-jasmin" / "bin" / "jasmind.py"
JCLI_USER = "jcliadmin"
JCLI_PASSWORD = "jclipwd"

# Telnet option negotiation (IAC …) and the ANSI resets jCli sends around its output.
_NOISE = re.compile(rb"\xff[\xfb-\xfe].|\xff[\xf0-\xfa]|\x1b\[[0-9;]*[a-zA-Z]|\x1bc")
_PROMPTS = (b"jcli : ", b"> ", b"Username: ", b"Password: ")


def jasmin_installed() -> bool:
    return JASMIND.is_file()


class JCliError(AssertionError):
    pass


class JCli:
    """One jCli session: a line in, everything up to the next prompt out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._buffer = b""

    @classmethod
    async def connect(cls, port: int, timeout: float = 10.0) -> JCli:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        jcli = cls(reader, writer)
        # jCli draws its "Username: " prompt only for a client that answers its telnet option
        # negotiation; its banner is the cue to type the user name.
        await jcli._until_prompt(timeout, banner=b"Authentication required.")
        await jcli.send(JCLI_USER)
        welcome = await jcli.send(JCLI_PASSWORD)
        if "Welcome" not in welcome:
            raise JCliError(f"jCli login failed: {welcome!r}")
        return jcli

    async def _until_prompt(self, timeout: float, banner: bytes | None = None) -> str:
        async def read() -> str:
            while True:
                clean = _NOISE.sub(b"", self._buffer)
                if banner is not None and banner in clean:
                    self._buffer = b""
                    return clean.decode(errors="replace")
                for prompt in _PROMPTS:
                    if clean.endswith(prompt):
                        self._buffer = b""
                        return clean[: -len(prompt)].replace(b"\r", b"").decode(errors="replace")
                chunk = await self._reader.read(4096)
                if not chunk:
                    raise JCliError(f"jCli closed the connection after {clean!r}")
                self._buffer += chunk

        return await asyncio.wait_for(read(), timeout)

    async def send(self, line: str, timeout: float = 30.0) -> str:
        """Type ``line``; jCli's answer (without the echo and the prompt)."""
        self._writer.write(line.encode() + b"\r\n")
        await self._writer.drain()
        answer = await self._until_prompt(timeout)
        lines = answer.split("\n")
        if lines and lines[0].strip() == line:
            lines = lines[1:]
        return "\n".join(lines).strip()

    async def add(self, manager: str, **fields: str | int) -> str:
        """``MANAGER -a``, one ``key value`` line per field, then ``ok``; fails unless jCli says so."""
        await self.send(f"{manager} -a")
        for key, value in fields.items():
            answer = await self.send(f"{key} {value}")
            if any(word in answer for word in ("Unknown", "rror", "nvalid")):
                raise JCliError(f"{manager} {key} {value}: {answer}")
        done = await self.send("ok")
        if "Successfully" not in done:
            raise JCliError(f"{manager} -a {fields}: {done}")
        return done

    async def close(self) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            self._writer.write(b"quit\r\n")
            await self._writer.drain()
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()


class Jasmin:
    """jasmind in ``root`` (config, store and logs there), on free 127.0.0.1 ports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.smpp_port = free_port()
        self.jcli_port = free_port()
        self._process: asyncio.subprocess.Process | None = None
        self._out: IO[bytes] | None = None

    async def __aenter__(self) -> Jasmin:
        return await self.start()

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def log(self, name: str = "") -> str:
        """jasmind's own output, or one of its logs (``default-smpps_01.log``, ``messages.log`` …)."""
        path = self.root / "jasmind.out" if not name else self.root / "var" / "log" / "jasmin" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def logs_tail(self, lines: int = 40) -> str:
        parts = [f"== jasmind.out\n{self.log()[-4000:]}"]
        for path in sorted((self.root / "var" / "log" / "jasmin").glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"== {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    async def start(self, within: float = 60.0) -> Jasmin:
        self.root.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "JASMIN_SMPP_PORT": str(self.smpp_port),
            "JASMIN_JCLI_PORT": str(self.jcli_port),
            "JASMIN_ROUTER_PORT": str(free_port()),
            "JASMIN_SMPPCM_PORT": str(free_port()),
            "JASMIN_SMPPS_PB_PORT": str(free_port()),
        }
        self._out = (self.root / "jasmind.out").open("wb")
        self._process = await asyncio.create_subprocess_exec(
            str(SCRIPT), "run", str(self.root), cwd=REPO_ROOT, env=env, stdout=self._out, stderr=self._out
        )
        deadline = asyncio.get_running_loop().time() + within
        while True:
            if not self.running:
                raise AssertionError(f"jasmind exited early:\n{self.logs_tail()}")
            if "jCli Started" in self.log():
                try:
                    jcli = await JCli.connect(self.jcli_port)
                except (OSError, JCliError, TimeoutError):
                    pass
                else:
                    await jcli.close()
                    return self
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"jasmind did not start within {within}s:\n{self.logs_tail()}")
            await asyncio.sleep(0.2)

    @contextlib.asynccontextmanager
    async def jcli(self) -> AsyncIterator[JCli]:
        session = await JCli.connect(self.jcli_port)
        try:
            yield session
        finally:
            await session.close()

    async def delete_queues(self, *names: str) -> None:
        """Delete RabbitMQ queues Jasmin made for a run (``submit.sm.<cid>`` outlives jasmind).

        Best effort, with the py-amqp client that Jasmin's venv has (celery brings it).
        """
        code = (
            "import sys, amqp\n"
            "c = amqp.Connection('127.0.0.1:5672', userid='guest', password='guest', virtual_host='/')\n"
            "c.connect()\n"
            "ch = c.channel()\n"
            "[ch.queue_delete(name) for name in sys.argv[1:]]\n"
            "c.close()\n"
        )
        python = JASMIND.parent / "python"
        process = await asyncio.create_subprocess_exec(
            str(python), "-c", code, *names, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 20)
        if process.returncode is None:
            process.kill()
            await process.wait()

    async def stop(self, within: float = 20.0) -> None:
        if self._process is not None:
            if self._process.returncode is None:
                self._process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(self._process.wait(), within)
                except TimeoutError:
                    self._process.kill()
            await self._process.wait()
            self._process = None
        if self._out is not None:
            self._out.close()
            self._out = None

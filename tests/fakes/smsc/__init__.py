"""The scripted SMSC (``smsc.js``, npm ``smpp``) driven from Python.

::

    async with FakeSmsc({"throttle": 2}) as smsc:       # any number at once, each on its own port
        config = smsc.config("smsc-a")                  # an SmppConfig that binds to it
        ...
        submits = await smsc.wait_for("submit_sm", count=3)
        smsc.send_mo(source_addr="15551230000", destination_addr="15559870000", short_message=b"hi")

Everything the SMSC saw or did is in :attr:`FakeSmsc.events` (dicts, one per JSON line of the
script's stdout). See ``smsc.js`` for the scenario keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from message_exchange.carriers.smpp.config import SmppConfig

SCRIPT = Path(__file__).with_name("smsc.js")
REPO_ROOT = Path(__file__).resolve().parents[3]


def node_available() -> bool:
    return shutil.which("node") is not None and (REPO_ROOT / "node_modules" / "smpp").is_dir()


class FakeSmsc:
    def __init__(self, scenario: dict[str, Any] | None = None) -> None:
        self.scenario = scenario or {}
        self.events: list[dict[str, Any]] = []
        self.port = 0
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The SMSC's process (node), for measuring its CPU."""
        if self._process is None:
            raise RuntimeError("the SMSC is not started")
        return self._process.pid

    async def __aenter__(self) -> FakeSmsc:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self) -> FakeSmsc:
        self._process = await asyncio.to_thread(
            subprocess.Popen,
            ["node", str(SCRIPT), json.dumps(self.scenario)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        first = await asyncio.to_thread(self._process.stdout.readline)
        if not first:
            raise RuntimeError("the scripted SMSC did not start")
        self.port = int(json.loads(first)["port"])
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip():
                with self._lock:
                    self.events.append(json.loads(line))

    async def stop(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            self._command({"cmd": "stop"})
        try:
            await asyncio.to_thread(self._process.wait, 5)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._process = None

    def config(self, name: str = "smsc", **overrides: Any) -> SmppConfig:
        base = SmppConfig(
            name=name,
            host="127.0.0.1",
            port=self.port,
            system_id=self.scenario.get("system_id", "esme"),
            password=self.scenario.get("password", "secret"),
            enquire_link_seconds=5.0,
            response_timeout_seconds=3.0,
            reconnect_min_seconds=0.1,
            reconnect_max_seconds=0.5,
            bind_lease_seconds=3.0,
        )
        return replace(base, **overrides)

    def _command(self, command: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()

    def send_mo(
        self,
        *,
        source_addr: str,
        destination_addr: str,
        short_message: bytes = b"",
        data_coding: int = 0,
        esm_class: int = 0,
        tag: str = "",
        **tlvs: Any,
    ) -> None:
        """A mobile-originated deliver_sm to a receiving session (``sar_*`` TLVs as keywords)."""
        command: dict[str, Any] = {
            "cmd": "mo",
            "source_addr": source_addr,
            "destination_addr": destination_addr,
            "short_message_hex": short_message.hex(),
            "data_coding": data_coding,
            "esm_class": esm_class,
            "tag": tag,
        }
        command.update(tlvs)
        self._command(command)

    async def stats(self) -> dict[str, Any]:
        """The SMSC's counters (submits, accepted, duplicates, receipts, receipt_acks, binds)."""
        seen = len(self.of("stats"))
        self._command({"cmd": "stats"})
        return (await self.wait_for("stats", count=seen + 1))[-1]

    def drop_connections(self) -> None:
        self._command({"cmd": "drop"})

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [
                event
                for event in self.events
                if event.get("event") == kind and all(event.get(k) == v for k, v in match.items())
            ]

    async def wait_for(self, kind: str, *, count: int = 1, timeout: float = 10.0, **match: Any) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.of(kind, **match)
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{count} {kind} {match} not seen in {timeout}s; saw {len(found)}")
            await asyncio.sleep(0.02)

    def accepted(self) -> list[dict[str, Any]]:
        """submit_sm the SMSC accepted (command_status 0)."""
        return [event for event in self.of("submit_sm") if event.get("status") == 0]

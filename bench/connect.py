"""bench/connect: a 1,000-destination Messaging API v1 request, accepted and then drained.

    .venv/bin/python bench/connect.py [--db sqlite|postgres] [--requests 20] [--size 1000]
                                      [--worker-processes N] [--py-spy PATH]
                                      [--pg-admin postgresql://postgres@127.0.0.1:5432/postgres]

Starts one ``mx serve`` on a free 127.0.0.1 port (a fresh SQLite file in a temp dir, or a
fresh PostgreSQL database created and dropped here), makes an account and a Messaging API
service with the ``mx`` CLI, then:

(a) accept: with ``MX_RUN_WORKERS=false`` (nothing else competes for the database), sends
    ``--requests`` requests of ``--size`` destinations one after the other (after 3
    warm-up requests) and measures each answer's latency at the client: p50 / p90 / max.
    Every answer is checked: ``--size`` entries, all ``1001``.
(b) drain: restarts the server with its in-process workers on (sandbox carrier, no
    delivery delay) — or, with ``--worker-processes N``, the server without workers and N
    ``mx worker`` processes beside it (the PostgreSQL deployment) — and measures, polling
    every 0.1 s from the last poll that saw nothing handed over yet (startup is not drain
    time), how long until every message was handed to the sandbox carrier (``sent`` or
    later) and until every one is final (``delivered``); with the CPU the draining
    processes and all PostgreSQL processes used until the hand-over was complete.

One line of figures goes to stdout. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from accept import HOST, MX, Server, cpu_seconds, mx, postgres_cpu, postgres_database, worker_processes  # noqa: E402

from message_exchange.db.engine import create_engine, create_session_factory  # noqa: E402
from message_exchange.messages.models import Message  # noqa: E402


def body(size: int, offset: int) -> bytes:
    return json.dumps(
        {
            "deliverychannel": "sms",
            "correlationid": f"bench-{offset}",
            "channels": {"sms": {"text": "Your parcel arrives today between 10:00 and 12:00.", "senderid": "ACME"}},
            "destination": [{"msisdn": [f"+1415{(offset + i) % 10_000_000:07d}"]} for i in range(size)],
        }
    ).encode()


def accept(server: Server, key: str, requests: int, size: int) -> list[float]:
    latencies: list[float] = []
    with httpx.Client(
        base_url=f"http://{HOST}:{server.port}", headers={"key": key, "content-type": "application/json"}, timeout=60
    ) as http:
        for n in range(requests + 3):
            payload = body(size, n * size)
            started = time.perf_counter()
            response = http.post("/resources/v1/messaging", content=payload)
            elapsed = (time.perf_counter() - started) * 1000
            entries = response.json()["response"]
            if not isinstance(entries, list) or len(entries) != size or {e["code"] for e in entries} != {"1001"}:
                raise SystemExit(f"unexpected answer: {response.text[:300]}")
            if n >= 3:
                latencies.append(elapsed)
    return latencies


async def progress(session: AsyncSession) -> tuple[int, int, int]:
    """(messages, handed to the carrier or later, final)."""
    counts = dict((await session.execute(select(Message.status, func.count()).group_by(Message.status))).all())
    await session.rollback()  # a fresh snapshot at the next poll
    total = sum(counts.values())
    final = sum(counts.get(s, 0) for s in ("delivered", "failed", "undelivered"))
    return total, total - counts.get("queued", 0), final


def start_spy(args: argparse.Namespace, pid: int) -> subprocess.Popen[bytes] | None:
    if not args.py_spy:
        return None
    return subprocess.Popen(
        [args.py_spy, "record", "-p", str(pid), "-d", "10", "-r", "200", "-f", "raw", "-o", args.profile,
         "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@dataclass
class Drain:
    total: int
    submitted: int
    done: int
    submitted_at: float | None  # seconds until every message was handed to the carrier
    drained: float  # seconds until every message was final
    cpu: float  # CPU seconds of the draining processes until every message was handed over
    pg_cpu: float  # PostgreSQL's, over the same time


async def drain(args: argparse.Namespace, pids: list[int], database_url: str) -> Drain:
    """The clock starts at the last poll (every 0.1 s) that saw nothing handed over yet: the
    processes' startup (imports, migrations, a worker process's own) is not drain time."""
    begun = time.monotonic()
    spy = start_spy(args, pids[0])
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            total, submitted, done = await progress(session)
            started, cpu_before, pg_before = time.monotonic(), sum(cpu_seconds(pid) for pid in pids), postgres_cpu()
            cpu = pg_cpu = 0.0
            submitted_at = None
            while done < total and time.monotonic() - begun < args.drain_timeout:
                if submitted == 0:
                    started, cpu_before, pg_before = (
                        time.monotonic(), sum(cpu_seconds(pid) for pid in pids), postgres_cpu()
                    )  # fmt: skip
                await asyncio.sleep(0.1)
                total, submitted, done = await progress(session)
                if submitted == total and submitted_at is None:
                    submitted_at = time.monotonic() - started
                    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
                    pg_cpu = postgres_cpu() - pg_before
        return Drain(total, submitted, done, submitted_at, time.monotonic() - started, cpu, pg_cpu)
    finally:
        await engine.dispose()
        if spy is not None:
            spy.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="drain with the API server (MX_RUN_WORKERS=false) and this many `mx worker` processes beside it",
    )
    parser.add_argument("--py-spy", help="path of a py-spy binary: profile the server's first 10 s of draining")
    parser.add_argument("--profile", default="/tmp/mx-connect-drain.txt", help="where py-spy writes collapsed stacks")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mx-bench-connect-"))
    try:
        with contextlib.ExitStack() as stack:
            if args.db == "postgres":
                database_url = stack.enter_context(postgres_database(args.pg_admin))
            else:
                database_url = f"sqlite+aiosqlite:///{tmp / 'mx.db'}"
            from cryptography.fernet import Fernet

            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "MX_DATA_DIR": str(tmp),
                "MX_DATABASE_URL": database_url,
                "MX_SECRET_KEY": Fernet.generate_key().decode(),
                "MX_LOG_LEVEL": "WARNING",
                "MX_LOG_JSON": "false",
                "MX_SANDBOX_DELIVERY_DELAY_SECONDS": "0",
            }
            subprocess.run([str(MX), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
            account = mx(
                env, "accounts", "create", "--email", "bench@example.com", "--password", "benchmark!", "--json"
            )
            service = mx(
                env,
                "connect",
                "services",
                "create",
                "--account",
                account["sid"],
                "--name",
                "bench",
                "--sender-id",
                "ACME",
                "--json",
            )
            server = Server({**env, "MX_RUN_WORKERS": "false"}, tmp / "serve-accept.log")
            server.wait_ready()
            try:
                latencies = accept(server, service["key"], args.requests, args.size)
            finally:
                server.stop()
            drain_env = {**env, "MX_RUN_WORKERS": "false"} if args.worker_processes else env
            server = Server(drain_env, tmp / "serve-drain.log")
            server.wait_ready()
            try:
                with worker_processes(env, tmp, args.worker_processes) as workers:
                    pids = [server.process.pid, *(w.pid for w in workers)]
                    result = asyncio.run(drain(args, pids, database_url))
            finally:
                server.stop()
        quantiles = statistics.quantiles(latencies, n=10)
        total, submitted, done, submitted_at = result.total, result.submitted, result.done, result.submitted_at
        who = f"server + {args.worker_processes} mx worker" if args.worker_processes else "workers in the server"
        cpu = (
            f" (CPU until handed over: ours {result.cpu / submitted_at:.0%} of a core, "
            f"PostgreSQL {result.pg_cpu / submitted_at:.0%})"
            if submitted_at
            else ""
        )
        print(
            f"connect db={args.db} size={args.size} requests={args.requests} | accept: "
            f"p50={statistics.median(latencies):.1f}ms p90={quantiles[8]:.1f}ms max={max(latencies):.1f}ms "
            f"({args.size * len(latencies) / (sum(latencies) / 1000):.0f} destinations/s) | "
            f"drain ({who}, from the first hand-over): {submitted}/{total} "
            "submitted to the sandbox carrier"
            f"{f' in {submitted_at:.2f}s = {total / submitted_at:.0f} msg/s' if submitted_at else ''}{cpu}, "
            f"{done}/{total} final in {result.drained:.1f}s = {done / result.drained:.0f} msg/s"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

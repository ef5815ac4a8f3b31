"""bench/accept: how fast one ``mx serve`` process accepts messages durably (form POST).

    .venv/bin/python bench/accept.py [--db sqlite|postgres] [--rate 1000] [--duration 10]
                                     [--concurrency 64] [--py-spy PATH --profile OUT]

Starts one ``mx serve`` (default settings: in-process workers on) on a free 127.0.0.1
port — on a fresh SQLite file in a temp dir, or on a fresh PostgreSQL database it creates
on 127.0.0.1:5432 (``--pg-admin``) and drops afterwards — makes an account and a number
with the ``mx`` CLI, then drives ``POST /api/2012-04-24/Accounts/{AC}/Messages`` form
requests from this process:

(a) max throughput: ``--concurrency`` keep-alive connections, each sending its next
    request as soon as the previous answer arrives, for ``--duration`` s: 2xx/s;
(b) fixed rate: requests are due every 1/``--rate`` s (open loop) over a pool of
    keep-alive connections; latency is counted from the due time, not from the moment a
    connection was free (no coordinated omission). Requests not answered by the end of
    the run + 10 s count as lost and make p99 "inf".

The client is raw asyncio streams with pre-encoded requests (no HTTP library): it prints
its own CPU use beside the server's so you can see it is not the bottleneck. One line of
figures goes to stdout. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
MX = Path(sys.executable).parent / "mx"
HOST = "127.0.0.1"
SENDER = "+15557770001"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the server under test -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """user+system CPU seconds of process ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def postgres_cpu() -> float:
    """CPU seconds used so far by every ``postgres`` process of the machine (its backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
    return total


async def table_activity(database_url: str) -> dict[str, int]:
    """Rows inserted, updated (HOT or not) and deleted so far, per table, and the database's
    commits: subtract two readings to see what a run wrote (``--db-stats``)."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        out: dict[str, int] = {}
        for row in await conn.fetch("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"):
            for what in ("ins", "upd", "del"):
                out[f"{row['relname']}.{what}"] = int(row[f"n_tup_{what}"])
        query = "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        db = await conn.fetchrow(query)
        out["commits"], out["rollbacks"] = int(db["xact_commit"]), int(db["xact_rollback"])
        return out
    finally:
        await conn.close()


def activity_per_message(before: dict[str, int], after: dict[str, int], messages: int) -> str:
    """What changed between two :func:`table_activity` readings, per message, largest first."""
    changed = {k: (after.get(k, 0) - before.get(k, 0)) / messages for k in after}
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(changed.items(), key=lambda kv: -kv[1]) if v >= 0.01)


@contextlib.contextmanager
def worker_processes(env: dict[str, str], log_dir: Path, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``mx worker`` processes (logs in ``log_dir``), stopped with SIGTERM on the way out."""
    workers = [
        subprocess.Popen([str(MX), "worker"], env=env, cwd=ROOT, stdout=log, stderr=log)
        for log in [(log_dir / f"worker-{n}.log").open("wb") for n in range(count)]
    ]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(20)


@contextlib.contextmanager
def postgres_database(admin_dsn: str) -> Iterator[str]:
    import asyncpg

    name = f"mx_bench_{secrets.token_hex(4)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        host_part = admin_dsn.split("://", 1)[1].rsplit("/", 1)[0]
        yield f"postgresql+asyncpg://{host_part}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def mx(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run([str(MX), *args], env=env, cwd=ROOT, check=True, capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1]) if "--json" in args else out.stdout


class Server:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(MX), "serve", "--host", HOST, "--port", str(self.port)],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=self.log,
        )

    def wait_ready(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"mx serve exited {self.process.returncode}; see {self.log.name}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("mx serve did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- the load generator ----------------------------------------------------------------


class Requests:
    """Pre-encoded form POSTs; only the destination number changes from one to the next."""

    def __init__(self, account: str, token: str, port: int) -> None:
        auth = base64.b64encode(f"{account}:{token}".encode()).decode()
        self.head = (
            f"POST /api/2012-04-24/Accounts/{account}/Messages HTTP/1.1\r\n"
            f"Host: {HOST}:{port}\r\nAuthorization: Basic {auth}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
        )
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        body = urlencode(
            {"from": f"sms:{SENDER}", "to": f"sms:+1555{self.n % 10_000_000:07d}", "body": "Hello from bench/accept"}
        )
        return f"{self.head}{len(body)}\r\n\r\n{body}".encode()


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, data: bytes) -> int:
        """Send one request, read the whole answer; its status code."""
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def max_throughput(reqs: Requests, port: int, concurrency: int, duration: float) -> dict[str, float]:
    conns = [await Connection.open(port) for _ in range(concurrency)]
    ok = bad = 0
    stop_at = 0.0

    async def loop(conn: Connection) -> None:
        nonlocal ok, bad
        while time.monotonic() < stop_at:
            if 200 <= await conn.request(reqs.next()) < 300:
                ok += 1
            else:
                bad += 1

    t0, c0 = time.monotonic(), own_cpu()
    stop_at = t0 + duration
    await asyncio.gather(*(loop(c) for c in conns))
    took = time.monotonic() - t0
    for conn in conns:
        conn.close()
    return {"ok_per_s": ok / took, "ok": ok, "bad": bad, "seconds": took, "client_cpu": (own_cpu() - c0) / took}


async def fixed_rate(reqs: Requests, port: int, rate: float, duration: float, pool: int) -> dict[str, float]:
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    conns = [await Connection.open(port) for _ in range(pool)]
    for conn in conns:
        idle.put_nowait(conn)
    latencies: list[float] = []
    bad = 0
    total = int(rate * duration)

    async def one(due: float) -> None:
        nonlocal bad
        conn = await idle.get()
        status = await conn.request(reqs.next())
        latencies.append(time.monotonic() - due)
        if not 200 <= status < 300:
            bad += 1
        idle.put_nowait(conn)

    t0, c0 = time.monotonic(), own_cpu()
    tasks: list[asyncio.Task[None]] = []
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    _, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    took = time.monotonic() - t0
    for conn in conns:
        conn.close()
    latencies.sort()
    lost = len(pending)

    def pct(p: float) -> float:
        rank = int(p * total)  # over all sent requests: a lost one is slower than any answered
        return latencies[rank] * 1000 if rank < len(latencies) else float("inf")

    return {
        "sent": total,
        "ok": len(latencies) - bad,
        "bad": bad,
        "lost": lost,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else float("inf"),
        "client_cpu": (own_cpu() - c0) / took,
    }


# --- main ------------------------------------------------------------------------------


async def unfinished(database_url: str) -> int:
    """Messages not yet in a final status (delivered, undelivered, failed)."""
    query = "SELECT count(*) FROM messages WHERE status NOT IN ('delivered', 'undelivered', 'failed')"
    if database_url.startswith("sqlite"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(database_url.split("///", 1)[1], timeout=30)) as db:
            return int(db.execute(query).fetchone()[0])
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def wait_until_final(database_url: str, within: float) -> int:
    """Poll until every message is final or ``within`` seconds passed; how many are not."""
    deadline = time.monotonic() + within
    left = await unfinished(database_url)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        left = await unfinished(database_url)
    return left


async def drain(database_url: str, started: float, server: Server) -> dict[str, float]:
    """Wait until every message is final; the rate counts from ``started`` (the first measured send)."""
    s0 = cpu_seconds(server.process.pid)
    t0 = time.monotonic()
    left = await wait_until_final(database_url, 600)
    now = time.monotonic()
    return {
        "left": left,
        "seconds": now - started if not left else float("inf"),
        "server_cpu": (cpu_seconds(server.process.pid) - s0) / (now - t0),
    }


async def raise_priority(args: argparse.Namespace, server: Server) -> None:
    """``--priority N``: nice N for the server, and for the PostgreSQL backends serving the bench database.

    On a shared machine other work competes for the two cores; this measures the product
    rather than the neighbours (needs root for N < 0). The figures say when it was used.
    """
    if args.priority is None:
        return
    pids = [server.process.pid]
    if args.db == "postgres":
        import asyncpg

        conn = await asyncpg.connect(args.database_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            name = args.database_url.rsplit("/", 1)[1]
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
            pids += [row["pid"] for row in rows]
        finally:
            await conn.close()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, pid, args.priority)


async def measure(args: argparse.Namespace, server: Server, reqs: Requests) -> dict[str, Any]:
    """Warm up, then run (a) and/or (b); py-spy samples the server during (a) if asked."""
    out: dict[str, Any] = {}
    conn = await Connection.open(server.port)
    for _ in range(args.warmup):
        await conn.request(reqs.next())
    conn.close()
    await raise_priority(args, server)  # after the warm-up: the server's pool connections exist by now
    pid = server.process.pid
    if args.drain:
        await wait_until_final(args.database_url, 600)  # the warm-up's messages first
    started = time.monotonic()
    if args.only in ("max", "both"):
        spy = None
        if args.py_spy:
            spy = await asyncio.create_subprocess_exec(
                args.py_spy, "record", "-p", str(pid), "-d", str(int(args.duration)), "-r", "200",
                "-f", "raw", "-o", args.profile, "--nonblocking", *args.py_spy_flag,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        s0 = cpu_seconds(pid)
        out["max"] = await max_throughput(reqs, server.port, args.concurrency, args.duration)
        out["max"]["server_cpu"] = (cpu_seconds(pid) - s0) / out["max"]["seconds"]
        if spy is not None:
            await asyncio.wait_for(spy.wait(), 30)
        await asyncio.sleep(2)  # let the in-process workers catch up a little between runs
    if args.only in ("rate", "both"):
        s0, t0 = cpu_seconds(pid), time.monotonic()
        out["rate"] = await fixed_rate(reqs, server.port, args.rate, args.duration, args.concurrency)
        out["rate"]["server_cpu"] = (cpu_seconds(pid) - s0) / (time.monotonic() - t0)
    if args.drain:
        out["drain"] = await drain(args.database_url, started, server)
        out["drain"]["messages"] = out.get("max", {}).get("ok", 0) + out.get("rate", {}).get("ok", 0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests/s of the fixed-rate run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each run")
    parser.add_argument("--concurrency", type=int, default=64, help="connections of both runs")
    parser.add_argument("--warmup", type=int, default=300, help="requests sent before measuring")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--py-spy", help="path of a py-spy binary: profile the server during run (a)")
    parser.add_argument("--profile", default="bench-profile.txt", help="where py-spy writes collapsed stacks")
    parser.add_argument("--py-spy-flag", action="append", default=[], help="extra py-spy flag, e.g. --native")
    parser.add_argument("--no-workers", action="store_true", help="MX_RUN_WORKERS=false: the API path alone")
    parser.add_argument("--only", choices=["max", "rate", "both"], default="both")
    parser.add_argument("--priority", type=int, help="nice value for the server and its PostgreSQL backends")
    parser.add_argument(
        "--drain",
        action="store_true",
        help="after the runs, time the in-process workers until every message is final (pipeline msg/s)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mx-bench-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        # Product defaults (INFO access log, in-process workers); the server's output goes to a file.
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MX_DATA_DIR": str(tmp)}
        for key in ("MX_DATABASE_URL", "MX_RUN_WORKERS", "MX_WORKER_CONCURRENCY", "MX_LOG_LEVEL", "MX_LOG_JSON"):
            env.pop(key, None)
        if args.no_workers:
            env["MX_RUN_WORKERS"] = "false"
        if args.db == "postgres":
            from cryptography.fernet import Fernet

            env["MX_DATABASE_URL"] = stack.enter_context(postgres_database(args.pg_admin))
            env["MX_SECRET_KEY"] = Fernet.generate_key().decode()
            mx(env, "db", "upgrade")
        account = mx(
            env, "accounts", "create", "--email", "bench@example.com", "--password", "bench-passw0rd", "--json"
        )
        mx(env, "numbers", "add", "--account", account["sid"], "--number", SENDER, "--json")

        args.database_url = env.get("MX_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp / 'mx.db'}"
        server = Server(env, tmp / "serve.log")
        stack.callback(server.stop)
        server.wait_ready()
        reqs = Requests(account["sid"], account["auth_token"], server.port)

        result = asyncio.run(measure(args, server, reqs))

    workers = "off" if args.no_workers else "on"
    priority = f" priority={args.priority}" if args.priority is not None else ""
    parts = [f"accept db={args.db} workers={workers} conns={args.concurrency} duration={args.duration:g}s{priority}"]
    if "max" in result:
        m = result["max"]
        parts.append(
            f"max: {m['ok_per_s']:.0f} msg/s 2xx ({m['ok']} ok, {m['bad']} non-2xx) "
            f"server_cpu={m['server_cpu']:.0%} ({m['server_cpu'] * 1000 / max(m['ok_per_s'], 1e-9):.3f} ms/msg) "
            f"client_cpu={m['client_cpu']:.0%}"
        )
    if "rate" in result:
        r = result["rate"]
        parts.append(
            f"rate {args.rate:g}/s: {r['ok']}/{r['sent']} 2xx p50={r['p50_ms']:.1f}ms "
            f"p99={r['p99_ms']:.1f}ms max={r['max_ms']:.0f}ms lost={r['lost']} non-2xx={r['bad']} "
            f"server_cpu={r['server_cpu']:.0%} client_cpu={r['client_cpu']:.0%}"
        )
    if "drain" in result:
        d = result["drain"]
        parts.append(
            f"pipeline: {d['messages']} messages final after {d['seconds']:.1f}s = "
            f"{d['messages'] / d['seconds']:.0f} msg/s end to end (left {d['left']}), "
            f"server_cpu while draining={d['server_cpu']:.0%}"
        )
    print(" | ".join(parts), flush=True)


if __name__ == "__main__":
    main()

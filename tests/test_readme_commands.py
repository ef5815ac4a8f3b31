"""The README's serve command works from a fresh clone, with nothing installed beforehand.

The repository's files (tracked and untracked, not ignored — uncommitted work counts) are
copied into a temporary directory without ``.venv``; there the README's serve command must
bootstrap its own virtual environment, start the server on the embedded SQLite default and
answer a real client. The README's test command (``scripts/test``) is proven the same way by
CI, which runs ``.ci/run`` (that very command) in a clean clone.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVE_COMMAND = "scripts/serve"
TEST_COMMAND = "scripts/test"
STARTUP_TIMEOUT = 240.0  # a fresh .venv is built first; pip's cache makes it quicker
SHUTDOWN_TIMEOUT = 15.0


def readme_commands() -> list[str]:
    """Every line of the README's fenced code blocks."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()]


def copy_checkout(destination: Path) -> None:
    """Copy what a clone plus the uncommitted work holds: git's view of the tree, no .venv."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        if name == ".venv" or name.startswith(".venv/"):
            continue
        source = REPO_ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet committed
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any MX_ setting or active virtual environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MX_")}
    active_venv = env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    outer_bins = {str(REPO_ROOT / ".venv" / "bin")}
    if active_venv:
        outer_bins.add(str(Path(active_venv) / "bin"))
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p not in outer_bins)
    env["MX_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot tell which files a clone would hold")
    clone = tmp_path / "clone"
    clone.mkdir()
    copy_checkout(clone)
    assert not (clone / ".venv").exists()
    return clone


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "server.log"
    yield path
    if path.exists():
        # Shown by pytest only when the test fails.
        print("---- server output (last 200 lines) ----")
        print("\n".join(path.read_text(errors="replace").splitlines()[-200:]))


def test_readme_lists_both_commands() -> None:
    commands = readme_commands()
    assert SERVE_COMMAND in commands, "README.md must show the serve command on a line of its own"
    assert TEST_COMMAND in commands, "README.md must show the test command on a line of its own"
    for script in (SERVE_COMMAND, TEST_COMMAND, ".ci/run"):
        assert os.access(REPO_ROOT / script, os.X_OK), f"{script} is not executable"


def test_readme_documents_every_setting() -> None:
    from message_exchange.config import Settings

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    prefix = str(Settings.model_config.get("env_prefix", ""))
    missing = [f"{prefix}{name}".upper() for name in Settings.model_fields if f"`{prefix}{name}`".upper() not in readme]
    assert not missing, f"README.md's Settings table lacks {', '.join(missing)}"


def test_serve_command_from_a_fresh_clone(checkout: Path, tmp_path: Path, server_log: Path) -> None:
    serve = next(line for line in readme_commands() if line.split()[:1] == [SERVE_COMMAND])
    data_dir = tmp_path / "data"
    env = clean_environment(data_dir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"

    with server_log.open("wb") as log_file:
        server = subprocess.Popen(
            [*shlex.split(serve), "--host", "127.0.0.1", "--port", str(port)],
            cwd=checkout,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_healthy(server, base_url)
        assert (checkout / ".venv" / "bin" / "mx").exists(), "the serve command did not build .venv/ in the clone"

        created = subprocess.run(
            [
                str(checkout / ".venv" / "bin" / "mx"),
                *("accounts", "create", "--email", "a@example.com", "--password", "correct horse", "--json"),
            ],
            cwd=checkout,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        account = json.loads(created.stdout)
        assert set(account) == {"sid", "auth_token"}
        sid, token = account["sid"], account["auth_token"]
        assert re.fullmatch(r"AC[0-9a-f]{32}", sid)

        credentials = base64.b64encode(f"{sid}:{token}".encode()).decode()
        response = httpx.get(
            f"{base_url}/restcomm/2012-04-24/Accounts/{sid}.json",
            headers={"Authorization": f"Basic {credentials}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["sid"] == sid

        database = data_dir / "mx.db"
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            (journal_mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        assert journal_mode == "wal"

        key_file = data_dir / "secret.key"
        assert key_file.is_file()
        assert key_file.stat().st_mode & 0o777 == 0o600
        secret = key_file.read_text().strip()
        assert len(secret) >= 32

        server.send_signal(signal.SIGTERM)
        try:
            exit_code = server.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"server still running {SHUTDOWN_TIMEOUT:.0f}s after SIGTERM")
        assert exit_code == 0

        output = server_log.read_text(errors="replace") + created.stdout + created.stderr
        assert secret not in output, "the generated secret key was logged"
    finally:
        if server.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def wait_until_healthy(server: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the serve command exited with {server.returncode} before answering /healthz")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        assert response.status_code == 200, response.text
        return
    pytest.fail(f"/healthz did not answer within {STARTUP_TIMEOUT:.0f}s")

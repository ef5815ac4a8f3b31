"""Shared fixtures: every storage test runs on SQLite and, with MX_TEST_POSTGRES_URL, on PostgreSQL.

``database_url`` gives each test an empty, migrated database:
- SQLite: a copy of a migrated template file in the test's tmp dir;
- PostgreSQL: one database created for the session (``mx_test_<random>``), migrated once,
  its tables truncated before each test; dropped at the end.

Without MX_TEST_POSTGRES_URL the PostgreSQL half skips; with ``--require-postgres`` (or
MX_TEST_REQUIRE_POSTGRES=1, as ``.ci/run`` sets) an unreachable database fails instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from message_exchange.app import create_app
from message_exchange.config import Settings
from message_exchange.db import migrate
from message_exchange.db.registry import metadata

TEST_SECRET_KEY = Fernet.generate_key().decode()

# Property tests check answers, not speed: on the shared 2-core machine, with the suite in four
# processes, a first call that loads phonenumbers' metadata took 880 ms and failed Hypothesis'
# 200 ms deadline as "flaky". No deadline, for every property test.
hypothesis_settings.register_profile("mx", deadline=None)
hypothesis_settings.load_profile("mx")

pytest_plugins = [
    "tests.support.accounts",
    "tests.support.pipeline",
    "tests.support.webex",
    "tests.support.fuzz_totals",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-postgres",
        action="store_true",
        default=os.environ.get("MX_TEST_REQUIRE_POSTGRES") == "1",
        help="Fail (not skip) PostgreSQL tests when MX_TEST_POSTGRES_URL is unset or unreachable.",
    )


def _postgres_admin_dsn(url: str) -> str:
    """asyncpg DSN for the database named in MX_TEST_POSTGRES_URL (used to create/drop ours)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mx.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated PostgreSQL database for this test session; its async URL."""
    url = os.environ.get("MX_TEST_POSTGRES_URL")
    required = request.config.getoption("--require-postgres")
    if not url:
        if required:
            pytest.fail("MX_TEST_POSTGRES_URL is not set but --require-postgres was given")
        pytest.skip("MX_TEST_POSTGRES_URL not set")
    name = f"mx_test_{secrets.token_hex(4)}"
    admin = _postgres_admin_dsn(url)

    async def admin_exec(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin_exec(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if required:
            pytest.fail(f"PostgreSQL at MX_TEST_POSTGRES_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    test_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(test_url)
    yield test_url
    asyncio.run(admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)

    async def run() -> None:
        conn = await asyncpg.connect(_postgres_admin_dsn(url))
        try:
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "mx.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        run_workers=False,
        log_json=True,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http

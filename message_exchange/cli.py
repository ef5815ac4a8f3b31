"""The ``mx`` command: serve, worker, db upgrade, accounts."""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers import cli as carriers_cli
from message_exchange.cli_support import exit_past_stray_threads, in_transaction, prepare_schema, settings_from_env
from message_exchange.connect import cli as connect_cli
from message_exchange.core.crypto import SecretBox
from message_exchange.db import migrate
from message_exchange.numbers import cli as numbers_cli
from message_exchange.webex import cli as webex_cli

# How long a stopped `mx worker` waits for threads it could not stop before it exits anyway.
STRAY_THREAD_GRACE_SECONDS = 5.0

app = typer.Typer(help="Message Exchange: a self-hosted messaging exchange.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts and auth tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(numbers_cli.app, name="numbers")
app.add_typer(connect_cli.app, name="connect")
app.add_typer(carriers_cli.app, name="carriers")
app.add_typer(webex_cli.app, name="webex")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the API server (with job workers inside it unless MX_RUN_WORKERS=false)."""
    import uvicorn

    from message_exchange.app import create_app

    settings = settings_from_env()
    prepare_schema(settings)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal on itself; this
    # handler (restored by uvicorn before it re-raises) turns that into a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )


@app.command()
def worker() -> None:
    """Run a job worker process (share the work of a PostgreSQL deployment across machines)."""
    import uvloop

    from message_exchange.jobs.worker import run_worker

    settings = settings_from_env()
    prepare_schema(settings)
    code = 1
    try:
        uvloop.run(run_worker(settings))  # the loop `mx serve` runs on (uvicorn's)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        raise
    finally:
        exit_past_stray_threads(code, grace_seconds=STRAY_THREAD_GRACE_SECONDS)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to MX_DATABASE_URL."""
    settings = settings_from_env()
    migrate.upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


@accounts_app.command("create")
def accounts_create(
    email: Annotated[str, typer.Option(help="Login email address.")],
    password: Annotated[str, typer.Option(help="Login password (8 characters or more).")],
    friendly_name: Annotated[str | None, typer.Option(help="Display name; default: the email.")] = None,
    parent: Annotated[str | None, typer.Option(help="Parent account sid; none makes a root account.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {sid, auth_token} as JSON.")] = False,
) -> None:
    """Create an account and print its sid and auth token."""
    from message_exchange.accounts import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, box: SecretBox) -> tuple[str, str]:
        account, token = await service.create_account(
            session,
            box,
            service.NewAccount(email=email, password=password, friendly_name=friendly_name, parent_sid=parent),
            creator=None,
        )
        return account.sid, token

    sid, token = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps({"sid": sid, "auth_token": token}))
    else:
        typer.echo(f"sid:        {sid}\nauth_token: {token}")


@accounts_app.command("list")
def accounts_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List every account (tokens masked)."""
    from message_exchange.accounts import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> list[dict[str, str | None]]:
        return [
            {
                "sid": a.sid,
                "email_address": a.email_address,
                "friendly_name": a.friendly_name,
                "status": a.status,
                "role": a.role,
                "parent_sid": a.parent_sid,
            }
            for a in await service.list_all(session)
        ]

    rows = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        parent = row["parent_sid"] or "-"
        typer.echo(f"{row['sid']}  {row['status']:<9}  {row['role']:<13}  {row['email_address']}  parent={parent}")


@accounts_app.command("rotate-token")
def accounts_rotate_token(
    sid: Annotated[str, typer.Argument(help="Account sid.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {sid, auth_token} as JSON.")] = False,
) -> None:
    """Replace an account's auth token; the old one stops working at once."""
    from message_exchange.accounts import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, box: SecretBox) -> str:
        account = await service.get_by_sid(session, sid)
        return await service.rotate_token(session, box, account)

    token = in_transaction(settings, work)
    typer.echo(json.dumps({"sid": sid, "auth_token": token}) if as_json else f"auth_token: {token}")

"""`mx webex bot set/show/remove`: a CSP account's Webex bot, from the operator's shell."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.cli_support import in_transaction, prepare_schema, settings_from_env
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest

app = typer.Typer(help="Webex Teams exchange.", no_args_is_help=True)
bot_app = typer.Typer(help="The Webex bot of a CSP account.", no_args_is_help=True)
app.add_typer(bot_app, name="bot")

AccountOption = Annotated[str, typer.Option(help="The CSP account sid (AC…).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the settings as JSON.")]


def _echo(resource: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(resource))
        return
    for key, value in resource.items():
        typer.echo(f"{key}: {value}")


@bot_app.command("set")
def set_bot(
    account: AccountOption,
    access_token: Annotated[str, typer.Option(help="The bot's access token (developer.webex.com).")],
    webhook_secret: Annotated[str, typer.Option(help="Secret Webex signs webhooks with.")],
    public_url: Annotated[
        str | None, typer.Option(help="Base URL Webex reaches this server at; default MX_PUBLIC_URL.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Save the bot and register its messages.created webhook with Webex."""
    from message_exchange.accounts import service as accounts
    from message_exchange.webex import bot

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, box: SecretBox) -> dict[str, Any]:
        url = public_url or settings.public_url
        if not url:
            raise BadRequest("--public-url is required when MX_PUBLIC_URL is not set", param="--public-url")
        owner = await accounts.get_by_sid(session, account)
        saved = await bot.save_bot(
            session,
            box,
            owner,
            access_token=access_token,
            webhook_secret=webhook_secret,
            public_url=url,
            settings=settings,
        )
        return bot.bot_resource(saved, box, settings)

    _echo(in_transaction(settings, work), as_json)


@bot_app.command("show")
def show_bot(account: AccountOption, as_json: JsonOption = False) -> None:
    """Show the bot settings (secrets masked)."""
    from message_exchange.accounts import service as accounts
    from message_exchange.webex import bot

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, box: SecretBox) -> dict[str, Any]:
        owner = await accounts.get_by_sid(session, account)
        return bot.bot_resource(await bot.get_bot(session, owner), box, settings)

    _echo(in_transaction(settings, work), as_json)


@bot_app.command("remove")
def remove_bot(account: AccountOption) -> None:
    """Forget the bot (its Webex webhook is deleted when Webex is reachable)."""
    from message_exchange.accounts import service as accounts
    from message_exchange.webex import bot

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, box: SecretBox) -> str:
        owner = await accounts.get_by_sid(session, account)
        return (await bot.delete_bot(session, box, owner, settings)).account_sid

    typer.echo(f"removed the Webex bot of {in_transaction(settings, work)}")

"""`mx numbers …` (being written)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Incoming phone numbers.", no_args_is_help=True)

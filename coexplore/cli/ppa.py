"""`coexplore ppa` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="ppa commands.", no_args_is_help=True)

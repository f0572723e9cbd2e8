"""The `coexplore` command: a thin Typer layer over the Python API."""

from __future__ import annotations

import typer

from coexplore.cli import enos, ppa, proxy, servers, study, tracking

app = typer.Typer(
    name="coexplore",
    help="Joint search of DNN-accelerator hardware and per-layer quantization.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors.")) -> None:
    """Joint search of DNN-accelerator hardware and per-layer quantization."""
    from coexplore.cli.common import DEBUG

    DEBUG["on"] = debug


app.add_typer(ppa.app, name="ppa")
app.add_typer(proxy.app, name="proxy")
app.add_typer(study.app, name="study")
app.add_typer(enos.app, name="enos")
tracking.register(app, study.app)
servers.register(app)


def main() -> None:
    """Console-script entry point."""
    app()

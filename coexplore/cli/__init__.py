"""The `coexplore` command: a thin Typer layer over the Python API."""

from __future__ import annotations

import typer

from coexplore.cli import enos, nas, ppa, proxy, scale, servers, study, tracking
from coexplore.cli import prune as prune_cli

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
app.add_typer(nas.app, name="nas")
app.add_typer(prune_cli.app, name="prune")
tracking.register(app, study.app)
servers.register(app)
scale.register(app)


def main() -> None:
    """Console-script entry point; Ctrl-C before a command's own handling starts is one line too."""
    try:
        app()
    except KeyboardInterrupt:
        import sys

        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None

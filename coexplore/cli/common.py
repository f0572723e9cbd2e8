"""What every `coexplore` command shares: consoles, storage options, and errors turned into exit codes.

Exit status: 0 done, 1 a study, storage or runtime problem (one masked line on stderr), 2 an
invalid file or option (one line per problem, nothing created), 130 interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

DEBUG = {"on": False}
"""Set by ``coexplore --debug``: errors re-raise with their traceback instead of one line."""

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

STORAGE_HELP = ("SQLAlchemy URL of the study storage (default: $COEXPLORE_STORAGE or "
                "sqlite:///coexplore-runs/coexplore.db).")
StorageOpt = typer.Option(None, "--storage", help=STORAGE_HELP)


@contextmanager
def errors(resume_hint: str | None = None) -> Iterator[None]:
    """Turn the API's errors into messages and exit codes (see the module docstring).

    Args:
        resume_hint: the study name to put in the "continue with" line after Ctrl-C.
    """
    from coexplore.record import mask_url
    from coexplore.search.configio import ConfigError
    from coexplore.search.storage import storage_problem

    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except ConfigError as exc:
        if DEBUG["on"]:
            raise
        for line in exc.lines:
            err.print(line, markup=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        hint = f"; continue with `coexplore study resume {resume_hint}`" if resume_hint else ""
        err.print(f"interrupted{hint}", markup=False)
        raise typer.Exit(130) from None
    except Exception as exc:
        if DEBUG["on"]:
            raise
        ours = type(exc).__module__.startswith("coexplore.")
        if ours and isinstance(exc, ValueError):  # a bad model, data set, plan, design or file: bad input
            err.print(f"error: {mask_url(str(exc)).splitlines()[0]}", markup=False)
            raise typer.Exit(2) from None
        if ours or isinstance(exc, LookupError):
            line = mask_url(str(exc))
        elif type(exc).__module__.startswith(("sqlalchemy", "optuna.exceptions", "sqlite3", "psycopg")):
            line = f"storage: {storage_problem(exc.__cause__ or exc)}"
        else:
            text = mask_url(str(exc)).splitlines()
            line = f"{type(exc).__name__}: {text[0] if text else ''} (run with --debug for the traceback)"
        err.print(f"error: {line}", markup=False)
        raise typer.Exit(1) from None


def echo_json(data: object) -> None:
    """Print ``data`` as indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, default=str))


def parse_lambdas(text: str) -> list[float]:
    """``--lambda`` of the lambda sweeps (ENOS, NAS): comma-separated numbers >= 0."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not v >= 0 for v in values):  # NaN too
        raise typer.BadParameter(f"{text!r}: expected comma-separated numbers >= 0, e.g. 0,0.3,1,3")
    return values

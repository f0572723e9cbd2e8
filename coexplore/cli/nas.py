"""`coexplore nas` commands: Single-Path NAS recorded into a study (a thin layer over coexplore.api).

Exit status: 0 done, 1 a study, storage or search problem (message on stderr), 2 an invalid study
file or option (one line per problem).
"""

from __future__ import annotations

import sys
from enum import Enum

import typer
from rich.console import Console
from rich.table import Table

from coexplore.cli.common import err

app = typer.Typer(help="Hardware-aware Single-Path NAS over a supernet's kernel sizes and expansion ratios.",
                  no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


class CostMetric(str, Enum):
    energy = "energy"
    latency = "latency"


@app.command()
def search(
    study: str = typer.Argument(..., metavar="NAME_OR_STUDY_FILE", help="A study file (created in storage if new) or a stored study's name."),
    lambdas: str = typer.Option("0,0.5,2", "--lambda", "--lambdas", help="Cost weights of the sweep, comma-separated: loss = CE + lambda x cost / full-path cost."),
    steps: int = typer.Option(200, "--steps", min=1, help="Search steps (batches) per lambda."),
    metric: CostMetric = typer.Option(CostMetric.energy, "--cost", help="The cost table's metric at the reference hardware point."),
    pe_type: str | None = typer.Option(None, "--pe-type", help="PE type of the reference point (default: the space's first)."),
    storage: str | None = typer.Option(None, "--storage", help="SQLAlchemy URL of the study storage (default: $COEXPLORE_STORAGE or sqlite:///coexplore-runs/coexplore.db)."),
    no_tracking: bool = typer.Option(False, "--no-tracking", help="Do not log to MLflow."),
) -> None:
    """Run a Single-Path NAS lambda sweep and record each architecture as a trial of the study; print them."""
    from coexplore import api
    from coexplore.cli.common import errors, parse_lambdas
    from coexplore.search.nas_study import NasStudyError

    weights = parse_lambdas(lambdas)
    with errors():
        try:
            cfg, results = api.nas_search(
                study, weights, storage=storage, steps=steps, metric=metric.value, pe_type=pe_type,
                tracking=not no_tracking, on_start=lambda line: err.print(line, markup=False),
                on_result=lambda r: err.print(f"  lambda {r.cost_weight:g}: {r.architecture} -> trial {r.trial.number}"
                                              f"{' (already in the study)' if r.duplicate else ''}", markup=False),
            )
        except NasStudyError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(1) from None
    _print(cfg, results)


def _print(cfg, results) -> None:
    from coexplore.record.front import is_feasible

    names = cfg.objectives.names
    table = Table(title=f"Single-Path NAS lambda sweep on study {cfg.name}")
    for col in ("lambda", "trial", *names, "feasible", "rel. cost", "search s", "architecture"):
        table.add_column(col)
    for r in results:
        values = r.trial.values or [float("nan")] * len(names)
        state = "failed" if r.trial.values is None else "yes" if is_feasible(r.trial) else "no"
        table.add_row(f"{r.cost_weight:g}", str(r.trial.number), *(f"{v:.4g}" for v in values), state,
                      f"{r.relative_cost:.3f}", f"{r.search_seconds:.1f}", r.architecture)
    out.print(table)

"""`coexplore enos` commands: ENOS operator search recorded into a study (a thin layer over coexplore.enos).

Exit status: 0 done, 1 a study, storage or ENOS problem (message on stderr), 2 an invalid study
file or option (one line per problem).
"""

from __future__ import annotations

import sys
from enum import Enum

import typer
from rich.console import Console
from rich.table import Table

from coexplore.cli.common import err

app = typer.Typer(help="Hybrid digital + CIM per-layer operator search (ENOS).", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)  # tables unwrapped in logs


class SearchMode(str, Enum):
    single = "single"
    bilevel = "bilevel"


def _summary(assignment: list[str]) -> str:
    """Per-layer choices, runs of equal choices folded: ``mac@digital x2, l1@cim``."""
    parts: list[list] = []
    for a in assignment:
        if parts and parts[-1][0] == a:
            parts[-1][1] += 1
        else:
            parts.append([a, 1])
    return ", ".join(a if n == 1 else f"{a} x{n}" for a, n in parts)


@app.command()
def search(
    study: str = typer.Argument(..., metavar="NAME_OR_STUDY_FILE", help="A study file (created in storage if new) or a stored study's name."),
    lambdas: str = typer.Option("0,0.3,1,3", "--lambda", "--lambdas", help="Energy weights of the sweep, comma-separated."),
    mode: SearchMode = typer.Option(SearchMode.bilevel, "--mode", help="single: weights and alpha on one loss; bilevel: first-order DARTS."),
    steps: int = typer.Option(150, "--steps", min=1, help="Search steps per lambda."),
    storage: str | None = typer.Option(None, "--storage", help="SQLAlchemy URL of the study storage (default: $COEXPLORE_STORAGE or sqlite:///coexplore-runs/coexplore.db)."),
    no_tracking: bool = typer.Option(False, "--no-tracking", help="Do not log to MLflow."),
) -> None:
    """Run an ENOS lambda sweep and record each assignment as a trial of the study; print the sweep's front."""
    from coexplore import api
    from coexplore.cli.common import errors, parse_lambdas
    from coexplore.enos.study import EnosStudyError

    weights = parse_lambdas(lambdas)
    err.print(f"ENOS on {study}: {len(weights)} searches x {steps} steps, {mode.value}", markup=False)
    with errors():
        try:
            cfg, results = api.enos_search(
                study, weights, storage=storage, mode=mode.value, steps=steps, tracking=not no_tracking,
                on_result=lambda r: err.print(f"  lambda {r.energy_weight:g}: trial {r.trial.number}"
                                              f"{' (already in the study)' if r.duplicate else ''}", markup=False),
            )
        except EnosStudyError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(1) from None
    _print_front(cfg, results)


def _print_front(cfg, results) -> None:
    import numpy as np

    from coexplore.record.front import is_feasible, non_dominated_mask

    names, directions = cfg.objectives.names, cfg.objectives.directions
    values = np.array([r.trial.values or [np.nan] * len(names) for r in results], dtype=float)  # a failed trial has none
    feasible = np.array([r.trial.values is not None and is_feasible(r.trial) for r in results])
    on_front = np.zeros(len(results), dtype=bool)
    if feasible.any():
        on_front[feasible] = non_dominated_mask(values[feasible], directions)
    table = Table(title=f"ENOS lambda sweep on study {cfg.name} (front: feasible, non-dominated within the sweep)")
    for col in ("lambda", "trial", *names, "feasible", "front", "assignment"):
        table.add_column(col)
    for r, v, f, p in zip(results, values, feasible, on_front):
        state = "yes" if f else "failed" if r.trial.values is None else "no"
        table.add_row(f"{r.energy_weight:g}", str(r.trial.number), *(f"{x:.4g}" for x in v), state,
                      "*" if p else "", _summary(r.assignment))
    out.print(table)

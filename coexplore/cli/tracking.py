"""Commands for reviewing studies: `study export`, `study report` (`coexplore ui` is in cli/servers.py).

A thin layer over :mod:`coexplore.tracking`; MLflow and plotting are imported only when a command
runs, so `coexplore --help` stays fast. Exit status: 0 done, 1 a study, storage or tracking problem
(message on stderr).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    import optuna

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_STORAGE_HELP = "SQLAlchemy URL of the study storage (default: $COEXPLORE_STORAGE or sqlite:///coexplore-runs/coexplore.db)."
_TRACKING_HELP = "MLflow tracking URI (default: the study file's, else mlflow.db beside an SQLite storage)."


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


@contextmanager
def _errors() -> Iterator[None]:
    """Turn API errors into one masked line on stderr and exit status 1."""
    from coexplore.record import mask_url

    try:
        yield
    except (LookupError, OSError, RuntimeError, ValueError) as exc:
        err.print(f"error: {mask_url(str(exc))}", markup=False)
        raise typer.Exit(1) from None
    except Exception as exc:  # MlflowException and storage errors: what, masked
        if type(exc).__name__ not in ("MlflowException", "RestException", "StorageError", "StudyError"):
            raise
        err.print(f"error: {mask_url(str(exc))}", markup=False)
        raise typer.Exit(1) from None


def load_study(name: str, storage: str | None) -> tuple[optuna.Study, str]:
    """Load a study by name for reading (no sampler, no heartbeats); (study, storage URL).

    Raises:
        StorageError: no such study; the message lists the studies in the storage.
    """
    from coexplore.search.study import load_for_reading

    return load_for_reading(name, storage)


def tracking_uri_for(study: optuna.Study, storage_url: str, given: str | None) -> str:
    """``--tracking-uri``, else the tracking URI in the study's stored config, else the default."""
    from coexplore.tracking.store import default_tracking_uri

    if given:
        return given
    stored = (study.user_attrs.get("config") or {}).get("tracking_uri")
    return stored or default_tracking_uri(storage_url)


_FORMAT_OPT = typer.Option(..., "--format", help="csv or parquet.")
_OUT_OPT = typer.Option(None, "--out", help="Output file (default: NAME-trials.FORMAT in the study's run folder, "
                        "coexplore-runs/ beside an SQLite storage).")


def export(
    name: str = typer.Argument(..., help="Study name."),
    fmt: ExportFormat = _FORMAT_OPT,
    out_file: Path | None = _OUT_OPT,
    storage: str | None = typer.Option(None, "--storage", help=_STORAGE_HELP),
) -> None:
    """Write every trial (design as evaluated, metrics, objective values, state) as one row, for pandas."""
    from coexplore.tracking.export import export_trials

    with _errors():
        study, url = load_study(name, storage)
        path = export_trials(study, fmt.value, out_file, storage_url=url)
        out.print(f"{len(study.trials)} trials of {name} -> {path.resolve()}", markup=False)


def report(
    name: str = typer.Argument(..., help="Study name."),
    storage: str | None = typer.Option(None, "--storage", help=_STORAGE_HELP),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
    no_plots: bool = typer.Option(False, "--no-plots", help="Only sync runs, tags and summary."),
) -> None:
    """Sync the study to MLflow (a run per trial, on_pareto, summary) and refresh its plots."""
    from coexplore.tracking.report import report_study
    from coexplore.tracking.store import mask_url

    with _errors():
        study, url = load_study(name, storage)
        uri = tracking_uri_for(study, url, tracking_uri)
        rep = report_study(study, uri, plots=not no_plots)
    s, c = rep.summary, rep.counts
    out.print(f"study {name}: {s['n_trials_complete']:.0f} complete, {s['n_trials_failed']:.0f} failed, "
              f"{s['n_trials_pruned']:.0f} pruned; {s['n_pareto']:.0f} on the Pareto front"
              + (f"; hypervolume {s['best_hypervolume']:.6g}" if "best_hypervolume" in s else ""), markup=False)
    out.print(f"MLflow {mask_url(uri)}: experiment {rep.experiment_id}, parent run {rep.parent_run_id}; "
              f"{c.logged} trial runs logged, {c.present} already there, {c.removed} duplicates removed",
              markup=False)
    if rep.plots:
        out.print(f"plots on the parent run: {len(rep.plots)} files under plots/ (one PNG and one HTML page each)",
                  markup=False)
    out.print(_review_line(rep, uri, name, storage, tracking_uri), markup=False)
    for line in c.errors:
        err.print(f"warning: {line}", markup=False)


def _review_line(rep, uri: str, name: str, storage: str | None, tracking_uri: str | None) -> str:
    """Where to look: the study's runs table (review view) on a tracking server, else the command
    that serves it and the address it will have."""
    from coexplore.tracking.review import view_url
    from coexplore.tracking.store import is_http_uri, mask_url
    from coexplore.tracking.ui import DEFAULT_HOST, DEFAULT_PORT, runs_table_url

    if is_http_uri(uri):
        return f"review: {mask_url(view_url(runs_table_url(uri, rep.experiment_id)))}"
    flags = "".join(f" {flag} {mask_url(value)}" for flag, value in
                    (("--storage", storage), ("--tracking-uri", tracking_uri)) if value)
    local = view_url(runs_table_url(f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", rep.experiment_id))
    return f"review: coexplore ui {name}{flags}  (serves {local})"


def register(root: typer.Typer, study_app: typer.Typer) -> None:
    """Add the review commands to the root app and the `study` sub-app."""
    study_app.command("export")(export)
    study_app.command("report")(report)

"""Commands for reviewing studies: `coexplore ui`, `study export`, `study report`.

A thin layer over :mod:`coexplore.tracking`; MLflow and plotting are imported only when a command
runs, so `coexplore --help` stays fast. Exit status: 0 done, 1 a study, storage or tracking problem
(message on stderr).
"""

from __future__ import annotations

import signal
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
    from coexplore.tracking.store import mask_url
    from coexplore.tracking.ui import UiError

    try:
        yield
    except (LookupError, OSError, UiError, RuntimeError, ValueError) as exc:
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
        LookupError: no such study; the message lists the studies in the storage.
    """
    import optuna

    from coexplore.search.storage import open_storage, resolve_storage_url, study_names
    from coexplore.tracking.store import mask_url

    url = resolve_storage_url(storage)
    store = open_storage(url, create=False, heartbeat_interval=None)
    try:
        return optuna.load_study(study_name=name, storage=store), url
    except KeyError:
        names = ", ".join(study_names(store)) or "(none)"
        raise LookupError(f"no study named '{name}' in {mask_url(url)}; studies there: {names}") from None


def tracking_uri_for(study: optuna.Study, storage_url: str, given: str | None) -> str:
    """``--tracking-uri``, else the tracking URI in the study's stored config, else the default."""
    from coexplore.tracking.store import default_tracking_uri

    if given:
        return given
    stored = (study.user_attrs.get("config") or {}).get("tracking_uri")
    return stored or default_tracking_uri(storage_url)


_FORMAT_OPT = typer.Option(..., "--format", help="csv or parquet.")
_OUT_OPT = typer.Option(None, "--out", help="Output file (default: NAME-trials.FORMAT).")


def export(
    name: str = typer.Argument(..., help="Study name."),
    fmt: ExportFormat = _FORMAT_OPT,
    out_file: Path | None = _OUT_OPT,
    storage: str | None = typer.Option(None, "--storage", help=_STORAGE_HELP),
) -> None:
    """Write every trial (params, metrics, objective values, state) as one row, for pandas."""
    from coexplore.tracking.export import export_trials

    with _errors():
        study, _ = load_study(name, storage)
        path = export_trials(study, fmt.value, out_file)
        out.print(f"{len(study.trials)} trials -> {path}", markup=False)


def report(
    name: str = typer.Argument(..., help="Study name."),
    storage: str | None = typer.Option(None, "--storage", help=_STORAGE_HELP),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=_TRACKING_HELP),
    no_plots: bool = typer.Option(False, "--no-plots", help="Only sync runs, tags and summary."),
) -> None:
    """Sync the study to MLflow (a run per trial, on_pareto, summary) and refresh its plots."""
    from coexplore.tracking.report import report_study
    from coexplore.tracking.store import default_tracking_uri, mask_url

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
        out.print("plots: " + ", ".join(rep.plots), markup=False)
    if rep.url:
        out.print(f"open: {rep.url}", markup=False)
    else:
        flag = "" if uri == default_tracking_uri() else f" --tracking-uri {mask_url(uri)}"
        out.print(f"open it with: coexplore ui{flag}", markup=False)
    for line in c.errors:
        err.print(f"warning: {line}", markup=False)


def ui(
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow store (default: sqlite:///coexplore-runs/mlflow.db beside the default storage)."),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (127.0.0.1: this machine only)."),
    storage: str | None = typer.Option(None, "--storage", help="Study storage whose default tracking store to show."),
) -> None:
    """Start the MLflow UI for the tracking store and print its address (Ctrl-C stops it)."""
    from coexplore.search.storage import resolve_storage_url
    from coexplore.tracking.store import default_tracking_uri, is_http_uri, mask_url, sqlite_path
    from coexplore.tracking.ui import start_server, stop_server

    uri = tracking_uri or default_tracking_uri(resolve_storage_url(storage))
    if is_http_uri(uri):
        out.print(f"{mask_url(uri)} is a tracking server already: open it in a browser", markup=False)
        return
    db = sqlite_path(uri)
    if db is not None and not db.exists():
        err.print(f"note: no tracking store at {db} yet; it fills when a study runs", markup=False)
    err.print(f"starting mlflow server on {host}:{port} (this takes a few seconds)", markup=False)
    with _errors():
        proc, url = start_server(uri, host=host, port=port)
    out.print(f"MLflow UI: {url}  (store {mask_url(uri)}; Ctrl-C to stop)", markup=False)

    def _stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM/SIGHUP: stop the server too, never leave it orphaned

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(proc)


def register(root: typer.Typer, study_app: typer.Typer) -> None:
    """Add the review commands to the root app and the `study` sub-app."""
    root.command("ui")(ui)
    study_app.command("export")(export)
    study_app.command("report")(report)

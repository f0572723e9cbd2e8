"""Bring a study's MLflow record up to date: parent run, every trial's run, on_pareto, summary, plots.

The observer calls these at study start and end; ``coexplore study report`` calls
:func:`report_study` on a study at rest (or still running elsewhere) with the same effect.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from coexplore.tracking.runs import ReconcileCounts, StudyRuns
from coexplore.tracking.store import is_http_uri, mask_secrets, mask_url, prepare_store
from coexplore.tracking.summary import StudyView, study_params, summary_metrics

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient

log = logging.getLogger(__name__)
PLOTS_DIR = "plots"
CONFIG_DIR = "config"


def open_client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient`` on ``tracking_uri`` (the folder of a local SQLite store is created)."""
    from mlflow import MlflowClient

    prepare_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri)


@dataclass
class StudyReport:
    """Where a study's record is and what the last sync did."""

    study_name: str
    tracking_uri: str  # masked
    experiment_id: str
    parent_run_id: str
    counts: ReconcileCounts
    summary: dict[str, float]
    plots: list[str] = field(default_factory=list)

    @property
    def url(self) -> str | None:
        """The parent run's page on a tracking server (None for a local store: see ``coexplore ui``)."""
        if not is_http_uri(self.tracking_uri):
            return None
        return f"{self.tracking_uri.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.parent_run_id}"


def log_config(runs: StudyRuns, view: StudyView, config_files: Mapping[str, Path] | None) -> None:
    """Config as parent params and artifacts: the resolved config (JSON) and the study/space/objectives
    files, with passwords in URLs masked in every copy."""
    runs.log_parent_params(study_params(view))
    with tempfile.TemporaryDirectory(prefix="coexplore-") as tmp:
        resolved = Path(tmp) / "resolved_config.json"
        attrs = mask_secrets({k: view.user_attrs.get(k) for k in
                              ("config", "objectives", "reference_point", "constraints", "n_trials")})
        resolved.write_text(json.dumps(attrs, indent=2, default=str))
        runs.client.log_artifact(runs.parent_run_id, str(resolved), CONFIG_DIR)
        names = [Path(src).name for src in (config_files or {}).values()]
        for k, (key, src) in enumerate((config_files or {}).items()):
            src = Path(src)
            if not src.is_file():
                log.warning("config file %s (%s) not found; not logged", src, key)
                continue
            # the file's own name, unless two files share it (then the key tells them apart)
            dest = f"{CONFIG_DIR}/{key}" if names.count(src.name) > 1 else CONFIG_DIR
            copy = Path(tmp) / str(k) / src.name
            copy.parent.mkdir()
            copy.write_text(mask_url(src.read_text(encoding="utf-8")), encoding="utf-8")
            runs.client.log_artifact(runs.parent_run_id, str(copy), dest)


def sync_study(runs: StudyRuns, view: StudyView) -> tuple[ReconcileCounts, dict[str, float]]:
    """Log missing trial runs, remove duplicates, set on_pareto exactly, log the summary metrics."""
    front = view.front_numbers()
    counts, run_of = runs.reconcile(view.trials, view.objectives, front)
    runs.sync_on_pareto(front, run_of)
    summary = summary_metrics(view)
    finished = sum(1 for t in view.trials if t.state.is_finished())
    runs.log_parent_metrics(summary, step=finished)
    runs.log_hypervolume_history(view)
    return counts, summary


def log_plots(study: optuna.Study, view: StudyView, runs: StudyRuns) -> list[str]:
    """Render every plot the data allows and log them to the parent run under ``plots/``."""
    from coexplore.tracking.plots import build_plots, write_plots

    plots = build_plots(study, view)
    with tempfile.TemporaryDirectory(prefix="coexplore-plots-") as tmp:
        paths = write_plots(plots, Path(tmp), f"{view.name}: coexplore study review")
        for p in paths:
            runs.client.log_artifact(runs.parent_run_id, str(p), PLOTS_DIR)
    return [f"{PLOTS_DIR}/{p.name}" for p in paths]


def report_study(
    study: optuna.Study,
    tracking_uri: str,
    config_files: Mapping[str, Path] | None = None,
    plots: bool = True,
) -> StudyReport:
    """Sync a study's whole record to MLflow and refresh its plots; safe to repeat at any time.

    Args:
        study: the Optuna study (any storage).
        tracking_uri: MLflow tracking URI (a local ``sqlite:///`` store or a server).
        config_files: study/space/objectives files to attach to the parent run.
        plots: render and log the review plots.

    Example:
        >>> rep = report_study(optuna.load_study(study_name="quickstart",
        ...     storage="sqlite:///coexplore-runs/coexplore.db"),
        ...     "sqlite:///coexplore-runs/mlflow.db")  # doctest: +SKIP
    """
    runs = StudyRuns(open_client(tracking_uri), study, tracking_uri)
    view = StudyView.of(study)
    log_config(runs, view, config_files)
    counts, summary = sync_study(runs, view)
    artifacts = log_plots(study, view, runs) if plots else []
    active = any(t.state.name == "RUNNING" for t in view.trials)  # the study goes on elsewhere
    runs.client.update_run(runs.parent_run_id, status="RUNNING" if active else "FINISHED")
    return StudyReport(study.study_name, mask_url(tracking_uri), runs.experiment_id, runs.parent_run_id,
                       counts, summary, artifacts)

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

from coexplore.tracking import review
from coexplore.tracking.entities import TAG_DESCRIPTION, ms
from coexplore.tracking.runs import ReconcileCounts, StudyRuns
from coexplore.tracking.store import is_http_uri, mask_secrets, mask_url, prepare_store, sqlite_path
from coexplore.tracking.summary import StudyView, study_params, summary_metrics

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient

log = logging.getLogger(__name__)
PLOTS_DIR = "plots"
CONFIG_DIR = "config"
FILES_ATTR = "files"
"""Study attribute: the files the study was built from (``study``, ``space``, ``objectives`` -> path)."""


def open_client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient`` on ``tracking_uri`` (the folder of a local SQLite store is created).

    MLflow puts an empty "Default" experiment (artifacts in ``./mlruns/0``) into every new store;
    in a local SQLite store of coexplore's it is deleted (soft, restorable) while it holds no run,
    so that the UI lists only studies.
    """
    from mlflow import MlflowClient

    prepare_store(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    if sqlite_path(tracking_uri) is not None:
        _hide_empty_default(client)
    return client


def _hide_empty_default(client: MlflowClient) -> None:
    from mlflow.exceptions import MlflowException

    try:
        exp = client.get_experiment("0")
        if exp is not None and exp.lifecycle_stage == "active" and not client.search_runs(["0"], max_results=1):
            client.delete_experiment("0")
    except MlflowException:
        pass  # no default experiment, or one deleted meanwhile by another process


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


def study_files(view: StudyView) -> dict[str, Path]:
    """The files the study was built from, as stored with it at creation (none for older studies)."""
    files = view.user_attrs.get(FILES_ATTR) or {}
    return {str(k): Path(v) for k, v in files.items() if v}


def log_config(runs: StudyRuns, view: StudyView, config_files: Mapping[str, Path] | None) -> None:
    """Config on the parent run: a few params, the resolved config (JSON) and each file the study
    was built from under ``config/<study|space|objectives>/`` (``config_files``, else the paths
    stored with the study), passwords in URLs masked in every copy; the experiment's review view
    and the legend of its columns.
    """
    runs.log_parent_params(study_params(view))
    files = dict(config_files) if config_files else study_files(view)
    with tempfile.TemporaryDirectory(prefix="coexplore-") as tmp:
        resolved = Path(tmp) / "resolved_config.json"
        attrs = mask_secrets({k: view.user_attrs.get(k) for k in
                              ("config", "objectives", "reference_point", "constraints", "n_trials")})
        resolved.write_text(json.dumps(attrs, indent=2, default=str))
        runs.client.log_artifact(runs.parent_run_id, str(resolved), CONFIG_DIR)
        for k, (key, src) in enumerate(files.items()):
            src = Path(src)
            if not src.is_file():
                log.warning("config file %s (%s) not found; not logged", src, key)
                continue
            copy = Path(tmp) / str(k) / src.name
            copy.parent.mkdir()
            copy.write_text(mask_url(src.read_text(encoding="utf-8")), encoding="utf-8")
            runs.client.log_artifact(runs.parent_run_id, str(copy), f"{CONFIG_DIR}/{key}")
    describe(runs, view)


def describe(runs: StudyRuns, view: StudyView) -> None:
    """The experiment's review view (see :mod:`coexplore.tracking.review`) and the legend of its
    columns as the experiment's and the parent run's description."""
    state = review.view_state(view.objectives, view.constraints,
                              review.design_params(view.user_attrs.get("config")))
    text = review.legend(view.name, view.objectives, view.directions, view.constraints)
    exp = runs.client.get_experiment(runs.experiment_id)
    for key, value in ((review.VIEW_TAG, review.view_tag_value(state)), (TAG_DESCRIPTION, text),
                       (review.KIND_TAG, review.KIND_MODEL_DEVELOPMENT)):
        if exp.tags.get(key) != value:
            runs.client.set_experiment_tag(runs.experiment_id, key, value)
    runs.client.set_tag(runs.parent_run_id, TAG_DESCRIPTION, text)


def sync_study(runs: StudyRuns, view: StudyView) -> tuple[ReconcileCounts, dict[str, float]]:
    """Log missing trial runs, remove duplicates, set on_pareto exactly, log the summary metrics."""
    front = view.front_numbers()
    counts, run_of = runs.reconcile(view.trials, view.objectives, front)
    runs.sync_on_pareto(front, run_of)
    summary = summary_metrics(view)
    log_summary(runs, view, summary)
    return counts, summary


def log_summary(runs: StudyRuns, view: StudyView, summary: dict[str, float]) -> None:
    """Summary metrics on the parent run at their real step: step = finished trials, timestamp = the
    last one's completion, so that a refresh of an unchanged study logs nothing new; a metric is
    logged only where its value differs from the latest one. Nothing before the first trial.
    The hypervolume after each trial (step = trial number) is logged for the steps not yet there.
    """
    from mlflow.entities import Metric

    finished = [t for t in view.trials if t.state.is_finished()]
    if not finished:
        return
    parent = runs.parent_run_id
    stamp = max(ms(t.datetime_complete) or 0 for t in finished)
    latest = runs.client.get_run(parent).data.metrics
    metrics = [Metric(k, float(v), stamp, len(finished)) for k, v in summary.items() if latest.get(k) != float(v)]
    logged = {m.step for m in runs.client.get_metric_history(parent, "hypervolume")}
    when = {t.number: ms(t.datetime_complete) or 0 for t in view.trials}
    metrics += [Metric("hypervolume", hv, when[n], n) for n, hv in view.hypervolume_by_trial if n not in logged]
    for i in range(0, len(metrics), 1000):  # MLflow's batch limit
        runs.client.log_batch(parent, metrics=metrics[i:i + 1000])


def log_plots(study: optuna.Study, view: StudyView, runs: StudyRuns) -> list[str]:
    """Render every plot the data allows and log them to the parent run under ``plots/``."""
    from coexplore.tracking.plots import build_plots, write_plots

    plots = build_plots(study, view)
    with tempfile.TemporaryDirectory(prefix="coexplore-plots-") as tmp:
        paths = write_plots(plots, Path(tmp))
        runs.client.log_artifacts(runs.parent_run_id, tmp, PLOTS_DIR)
    _remove_stale(runs, {p.name for p in paths})
    return [f"{PLOTS_DIR}/{p.name}" for p in paths]


def _remove_stale(runs: StudyRuns, current: set[str]) -> None:
    """Delete plot files an earlier version or an earlier front left under ``plots/`` (where the
    artifact store allows deleting; a tracking server may not)."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    stale = [f.path for f in runs.client.list_artifacts(runs.parent_run_id, PLOTS_DIR)
             if not f.is_dir and Path(f.path).name not in current]
    if not stale:
        return
    uri = runs.client.get_run(runs.parent_run_id).info.artifact_uri
    repo = get_artifact_repository(uri, tracking_uri=runs.tracking_uri)
    for path in stale:
        try:
            repo.delete_artifacts(path)
        except Exception as exc:  # noqa: BLE001 - an old file left is harmless
            log.info("stale plot %s not deleted: %s", path, exc)
            return


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

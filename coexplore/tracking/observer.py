"""``MlflowObserver``: the study driver's hooks (``coexplore.search.observers.StudyObserver``) to MLflow.

The worker that finished a trial writes its run; the run id is claimed in the Optuna storage so a
trial has exactly one run whichever machines and processes write (see :mod:`coexplore.tracking.runs`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from coexplore.record.front import FrontTracker
from coexplore.tracking.report import log_config, log_plots, open_client, sync_study
from coexplore.tracking.runs import PLOTS_CLAIM, StudyRuns
from coexplore.tracking.store import is_http_uri, mask_url
from coexplore.tracking.summary import StudyView
from coexplore.tracking.ui import answers

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)
MAX_CONSECUTIVE_FAILURES = 3
"""After this many trials in a row fail to log, tracking turns itself off for the process."""
FULL_SYNC_EVERY = 10
"""Every this many trials, a front change re-reads all on_pareto tags (other workers move them too)."""


class TrackingUnavailable(RuntimeError):
    """The tracking server does not answer; the study can go on without tracking."""


class MlflowObserver:
    """Logs a study to MLflow: a parent run per study, a child run per trial, on_pareto kept exact.

    Every hook is idempotent: ``on_study_start`` reconciles (logs finished trials that have no run,
    e.g. after a crash or from another worker, and skips those that do), so resuming never
    duplicates a run. A tracking error inside the trial loop is logged as a warning and repaired
    by the reconcile at ``on_study_end`` rather than stopping the study.

    Args:
        tracking_uri: MLflow tracking URI (``sqlite:///coexplore-runs/mlflow.db``, ``http://host:5000``).
        config_files: files to attach to the parent run, e.g. ``{"study": Path("studies/q.yaml"),
            "space": ..., "objectives": ...}``; passwords in URLs are masked in the copies.
        plots: render the review plots at study end.

    Example:
        >>> obs = MlflowObserver("sqlite:///coexplore-runs/mlflow.db", {"study": Path("studies/quickstart.yaml")})
        >>> obs.on_study_start(study)  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str, config_files: dict[str, Path] | None = None, *, plots: bool = True) -> None:
        self.tracking_uri = tracking_uri
        self.config_files = {k: Path(v) for k, v in (config_files or {}).items()}
        self.plots = plots
        self.trial_log_seconds: list[float] = []
        """Wall-clock seconds spent in ``on_trial_end`` per trial (the tracking overhead)."""
        self._runs: StudyRuns | None = None
        self._front: set[int] | None = None  # the front whose on_pareto tags this process last synced
        self._tracker: FrontTracker | None = None  # the study's front, folded trial by trial
        self._since_sync = 0  # trials since on_pareto was last read back from the tracking store
        self._failures = 0  # consecutive failed on_trial_end calls
        self.disabled = False
        """True once tracking gave up for this process (server unreachable, repeated errors)."""

    def _runs_of(self, study: optuna.Study) -> StudyRuns:
        if self._runs is None or self._runs.study_name != study.study_name:
            self._runs = StudyRuns(open_client(self.tracking_uri), study, self.tracking_uri)
        return self._runs

    @property
    def parent_run_id(self) -> str | None:
        """The study's parent run id once a hook has run."""
        return self._runs.parent_run_id if self._runs is not None else None

    def _disable(self, study: optuna.Study, why: str) -> None:
        self.disabled = True
        log.warning("MLflow tracking is off for the rest of this process: %s. The study goes on; log it later "
                    "with `coexplore study report %s --tracking-uri %s`", why, study.study_name,
                    mask_url(self.tracking_uri))

    def on_study_start(self, study: optuna.Study) -> None:
        """Find or create the experiment and parent run, log the config, reconcile finished trials.

        Raises:
            TrackingUnavailable: a tracking server that does not answer its health check within
                5 s (MLflow's own retries would stall every trial); the observer turns itself off.
        """
        why = answers(self.tracking_uri.rstrip("/")) if is_http_uri(self.tracking_uri) else None
        if why is not None:
            self._disable(study, mask_url(why))
            raise TrackingUnavailable(mask_url(why))
        runs = self._runs_of(study)
        view = StudyView.of(study)
        log_config(runs, view, self.config_files)
        runs.client.update_run(runs.parent_run_id, status="RUNNING")
        counts, _ = sync_study(runs, view)
        self._front, self._since_sync = view.front_numbers(), 0
        self._tracker = FrontTracker(view.directions)
        self._tracker.fold(view.trials)
        if counts.logged or counts.removed:
            log.info("MLflow reconcile of %s: %d trial runs logged, %d present, %d duplicates removed",
                     study.study_name, counts.logged, counts.present, counts.removed)

    def on_trial_end(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Log the trial's run (once) and move the ``on_pareto`` tags.

        Four writes (create, batch, artifact, terminate) and one duplicate check; ``on_pareto`` of
        runs this process knows moves without a search, and is read back in full every
        ``FULL_SYNC_EVERY`` trials and at study end, so other workers' tags converge too.
        """
        if self.disabled or not trial.state.is_finished():
            return
        start = time.perf_counter()
        try:
            runs = self._runs_of(study)
            view = StudyView.of(study)
            front = self._front_with_new_trials(view)
            runs.log_trial(trial, view.objectives, trial.number in front)
            self._since_sync += 1
            if front != self._front:  # unchanged front: the new run's own tag is already right
                before = self._front or set()
                quick = self._since_sync < FULL_SYNC_EVERY and runs.retag_on_pareto(
                    front - before - {trial.number}, before - front)
                if not quick:  # tags other workers moved are read back from the server
                    runs.sync_on_pareto(front)
                    self._since_sync = 0
                self._front = front
        except Exception as exc:  # noqa: BLE001 - tracking must not stop the study; on_study_end repairs
            self._failures += 1
            log.warning("MLflow logging of trial %d failed (%s); it will be reconciled at study end",
                        trial.number, mask_url(str(exc))[:300])
            if self._failures >= MAX_CONSECUTIVE_FAILURES:
                self._disable(study, f"{self._failures} trials in a row failed to log")
        else:
            self._failures = 0
        finally:
            self.trial_log_seconds.append(time.perf_counter() - start)

    def _front_with_new_trials(self, view: StudyView) -> set[int]:
        """The study's front with the trials finished since (this worker's or another's) folded in."""
        if self._tracker is None:
            self._tracker = FrontTracker(view.directions)
        self._tracker.fold(view.trials)
        return self._tracker.numbers

    def on_interrupt(self, study: optuna.Study) -> None:
        """Ctrl-C: return at once; the trials finished so far are logged, and the next resume or
        ``study report`` reconciles the rest and refreshes the plots."""

    def on_study_end(self, study: optuna.Study) -> None:
        """Reconcile every trial, refresh the summary and the plots, mark the parent run finished.

        While other workers still run trials, the plots are left to the last one to finish (each
        worker's redraw would be replaced by the next), and of workers that end together one draws
        them; ``study report`` redraws them any time.
        """
        if self.disabled:
            return
        runs = self._runs_of(study)
        view = StudyView.of(study)
        sync_study(runs, view)
        others_running = any(t.state.name == "RUNNING" for t in view.trials)
        if self.plots and not others_running and _claim_plots(study, view):
            log_plots(study, view, runs)
        if not others_running:
            runs.client.set_terminated(runs.parent_run_id, "FINISHED")


def _claim_plots(study: optuna.Study, view: StudyView) -> bool:
    """True when no worker has drawn the plots for this many finished trials yet, claiming them.

    Eight workers that meet the budget together would each draw the same plots (minutes for a
    study of hundreds of trials on a small machine). The claim is a study attribute: two workers
    reading it at the same moment may both draw; one killed while drawing leaves the plots to the
    next resume that finishes a trial, or to ``study report``.
    """
    finished = sum(t.state.is_finished() for t in view.trials)
    if study.user_attrs.get(PLOTS_CLAIM) == finished:
        return False
    study.set_user_attr(PLOTS_CLAIM, finished)
    return True

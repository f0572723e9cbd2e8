"""One study's runs in MLflow: its experiment, its parent run and exactly one child run per trial.

MLflow has no unique keys, so the Optuna storage, which every worker shares on every machine,
names the canonical run of each trial: the study attribute ``mlflow_run:<trial number>`` holds its
run id (``mlflow_parent_run`` the parent's). The protocol every writer follows (the worker that
finished a trial, a resumed process, ``study report``):

1. A trial with a claimed run is logged: nothing to write.
2. Otherwise the writer logs the run completely (params, metrics, artifact, terminal status),
   then claims it: if another writer's claim got there first, it deletes its own run.
3. A full reconcile (study start and end, ``study report``) claims, for a trial without a claim,
   its earliest completely written run (or writes one), and deletes every other run of a trial
   (duplicates of a lost race, runs left half-written by a killed writer). A claim whose run no
   longer exists (deleted by hand, or the study now logs to a new tracking store) is dropped first.

No process ids, host names or clocks are involved, so the rule holds across machines.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from coexplore.record import read_record
from coexplore.tracking import entities as E
from coexplore.tracking.store import experiment_artifact_location, safe_key

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from optuna.trial import FrozenTrial

    from coexplore.tracking.summary import StudyView

RUN_CLAIM = "mlflow_run:"
"""Study attribute prefix: ``mlflow_run:<trial number>`` -> the trial's canonical run id."""
PARENT_CLAIM = "mlflow_parent_run"
"""Study attribute: the canonical parent run id."""
PLOTS_CLAIM = "mlflow_plots_of"
"""Study attribute: how many finished trials the parent run's plots were last drawn for."""
_PAGE = 5000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _order(run: Run) -> tuple[int, str]:
    return run.info.start_time or 0, run.info.run_id


@dataclass
class ReconcileCounts:
    """What a full reconcile did: runs created, trials already present, duplicates removed."""

    logged: int = 0
    present: int = 0
    removed: int = 0
    repointed: int = 0
    errors: list[str] = field(default_factory=list)


class StudyRuns:
    """The MLflow experiment of one study (name = study name), its parent run and trial runs.

    Args:
        client: an ``MlflowClient`` on the tracking URI.
        study: the Optuna study (its storage holds the run claims).
        tracking_uri: used to place artifacts beside a local SQLite store.
    """

    def __init__(self, client: MlflowClient, study: optuna.Study, tracking_uri: str) -> None:
        self.client = client
        self.study = study
        self.study_name = study.study_name
        self.tracking_uri = tracking_uri
        self.run_of: dict[int, str] = {}
        """Trial number -> its canonical run id, as far as this process knows."""

    # -- claims in the Optuna storage ----------------------------------------------------------
    def claims(self) -> dict[int, str]:
        """Trial number -> claimed run id, read from the storage now."""
        out = {}
        for key, value in self.study.user_attrs.items():
            if key.startswith(RUN_CLAIM) and value is not None:
                out[int(key[len(RUN_CLAIM):])] = str(value)
        return out

    def _claim(self, key: str, run_id: str) -> str:
        """Claim ``key`` for ``run_id`` unless it is claimed; the winner's run id (ours deleted if not)."""
        current = self.study.user_attrs.get(key)
        if current is None:
            self.study.set_user_attr(key, run_id)
            current = self.study.user_attrs.get(key)  # a concurrent claim may have overwritten ours
        if current != run_id:
            self._delete(run_id)
        return str(current)

    # -- experiment and parent -------------------------------------------------------------
    @cached_property
    def experiment_id(self) -> str:
        """Id of the study's experiment, created on first use (a concurrent creator is tolerated)."""
        exp = self.client.get_experiment_by_name(self.study_name)
        if exp is None:
            loc = experiment_artifact_location(self.tracking_uri, self.study_name)
            try:
                return self.client.create_experiment(self.study_name, artifact_location=loc)
            except MlflowException:
                exp = self.client.get_experiment_by_name(self.study_name)  # lost a creation race
                if exp is None:
                    raise
        if exp.lifecycle_stage == "deleted":
            self.client.restore_experiment(exp.experiment_id)
        return exp.experiment_id

    def search(self, filter_string: str) -> list[Run]:
        """All live runs of the experiment that match ``filter_string`` (every page)."""
        out: list[Run] = []
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string, run_view_type=ViewType.ACTIVE_ONLY,
                max_results=_PAGE, page_token=token,
            )
            out += list(page)
            token = page.token
            if not token:
                return out

    @cached_property
    def parent_run_id(self) -> str:
        """The study's parent run, found (claimed in the storage) or created and claimed."""
        claimed = self.study.user_attrs.get(PARENT_CLAIM)
        if claimed is not None:
            try:
                if self.client.get_run(claimed).info.lifecycle_stage == "active":
                    return str(claimed)
            except MlflowException:
                pass
            self.study.set_user_attr(PARENT_CLAIM, None)  # the claimed run was deleted by hand
        tags = {E.TAG_ROLE: E.ROLE_STUDY, E.TAG_STUDY: self.study_name}
        own = self.client.create_run(self.experiment_id, tags=tags, run_name=self.study_name).info.run_id
        self.study.set_user_attr(PARENT_CLAIM, self.study.user_attrs.get(PARENT_CLAIM) or own)
        winner = str(self.study.user_attrs[PARENT_CLAIM])
        if winner != own:
            self._delete(own)
        return winner

    # -- trial runs ----------------------------------------------------------------------
    def trial_index(self) -> dict[int, list[Run]]:
        """Trial number -> its live runs, oldest first."""
        index: dict[int, list[Run]] = {}
        for run in self.search(f"tags.`{E.TAG_ROLE}` = '{E.ROLE_TRIAL}'"):
            try:
                index.setdefault(int(run.data.tags[E.TAG_TRIAL_NUMBER]), []).append(run)
            except (KeyError, ValueError):
                continue
        for runs in index.values():
            runs.sort(key=_order)
        return index

    def log_trial(self, trial: FrozenTrial, objectives: Sequence[str], on_pareto: bool) -> tuple[str, bool]:
        """Log a finished trial as its one child run unless one is claimed; (run id, created)."""
        claimed = self.study.user_attrs.get(f"{RUN_CLAIM}{trial.number}")
        if claimed is not None:
            self.run_of[trial.number] = str(claimed)
            return str(claimed), False
        run_id = self._claim(f"{RUN_CLAIM}{trial.number}", self._write_trial(trial, objectives, on_pareto))
        self.run_of[trial.number] = run_id
        return run_id, True

    def _write_trial(self, trial: FrozenTrial, objectives: Sequence[str], on_pareto: bool) -> str:
        record = read_record(trial)
        tags = E.trial_tags(trial, study_name=self.study_name, parent_run_id=self.parent_run_id,
                            on_pareto=on_pareto, record=record)
        start = E.ms(trial.datetime_start) or _now_ms()
        run = self.client.create_run(self.experiment_id, start_time=start, tags=tags,
                                     run_name=f"trial-{trial.number}")
        run_id = run.info.run_id
        stamp = E.ms(trial.datetime_complete) or start
        metrics = [Metric(k, v, stamp, 0) for k, v in E.trial_metrics(trial, objectives, record).items()]
        params = [Param(k, v) for k, v in E.trial_params(trial, record).items()]
        self.client.log_batch(run_id, metrics=metrics, params=params)
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        with tempfile.TemporaryDirectory(prefix="coexplore-") as tmp:
            E.write_trial_files(trial, objectives, record, Path(tmp))
            # the repository straight from the new run: saves a get_run
            repo = get_artifact_repository(run.info.artifact_uri, tracking_uri=self.tracking_uri)
            repo.log_artifacts(tmp)
        self.client.set_terminated(run_id, E.run_status(trial.state), end_time=E.ms(trial.datetime_complete))
        return run_id

    def _alive(self, run_id: str) -> bool:
        try:
            return self.client.get_run(run_id).info.lifecycle_stage == "active"
        except MlflowException:
            return False

    def _delete(self, run_id: str) -> None:
        try:
            self.client.delete_run(run_id)
        except MlflowException:
            pass  # already deleted by another writer

    # -- full reconcile and the on_pareto tags ------------------------------------------------
    def reconcile(self, trials: Iterable[FrozenTrial], objectives: Sequence[str],
                  front: set[int]) -> tuple[ReconcileCounts, dict[int, str]]:
        """Give every finished trial exactly one run (its claimed one), fix parent links.

        Returns the counts and the map trial number -> canonical run id.
        """
        counts = ReconcileCounts()
        index, claims = self.trial_index(), self.claims()
        parent = self.parent_run_id
        for trial in trials:
            if not trial.state.is_finished():
                continue
            runs = index.get(trial.number, [])
            live = {r.info.run_id: r for r in runs}
            keep = claims.get(trial.number)
            if keep is not None and keep not in live and not self._alive(keep):
                # the claimed run is gone (deleted by hand, or the study logs to a new tracking store)
                self.study.set_user_attr(f"{RUN_CLAIM}{trial.number}", None)
                keep = None
            if keep not in live:
                done = [r for r in runs if r.info.status != "RUNNING"]  # completely written runs
                try:
                    if done:
                        keep = self._claim(f"{RUN_CLAIM}{trial.number}", done[0].info.run_id)
                        counts.present += 1
                    else:
                        keep = self._claim(f"{RUN_CLAIM}{trial.number}",
                                           self._write_trial(trial, objectives, trial.number in front))
                        counts.logged += 1
                except MlflowException as exc:
                    counts.errors.append(f"trial {trial.number}: {exc.message}")
                    continue
            else:
                counts.present += 1
            for run_id in live:
                if run_id != keep:
                    self._delete(run_id)
                    counts.removed += 1
            self.run_of[trial.number] = keep
            kept = live.get(keep)
            if kept is not None and kept.data.tags.get(E.TAG_PARENT) != parent:
                self.client.set_tag(keep, E.TAG_PARENT, parent)
                counts.repointed += 1
        return counts, dict(self.run_of)

    def sync_on_pareto(self, front: set[int], run_of: dict[int, str] | None = None) -> int:
        """Make ``on_pareto`` true on exactly the runs of the trials in ``front``; returns tags changed."""
        tagged = {}
        for run in self.search(f"tags.`{E.TAG_ROLE}` = '{E.ROLE_TRIAL}' and tags.{E.TAG_ON_PARETO} = 'true'"):
            tagged[run.info.run_id] = int(run.data.tags.get(E.TAG_TRIAL_NUMBER, -1))
        changed = 0
        for run_id, number in tagged.items():
            if number not in front:
                changed += self._set_tag(run_id, E.TAG_ON_PARETO, "false")
        on = set(tagged.values())
        self.run_of.update(run_of or {})
        missing = front - on - set(self.run_of)
        if missing:
            self.run_of.update({n: r for n, r in self.claims().items() if n in missing})
        for number in sorted(front - on):
            if number in self.run_of:
                changed += self._set_tag(self.run_of[number], E.TAG_ON_PARETO, "true")
        return changed

    def retag_on_pareto(self, entered: set[int], left: set[int]) -> bool:
        """Move ``on_pareto`` for trials whose runs this process knows, without a search.

        Returns False (nothing changed) when a trial's run is unknown here (another worker's),
        so that the caller falls back to :meth:`sync_on_pareto`.
        """
        if any(n not in self.run_of for n in entered | left):
            return False
        for n in sorted(left):
            self._set_tag(self.run_of[n], E.TAG_ON_PARETO, "false")
        for n in sorted(entered):
            self._set_tag(self.run_of[n], E.TAG_ON_PARETO, "true")
        return True

    def _set_tag(self, run_id: str, key: str, value: str) -> int:
        try:
            self.client.set_tag(run_id, key, value)
            return 1
        except MlflowException:
            return 0  # the run was deleted as a duplicate meanwhile

    def log_parent_metrics(self, values: dict[str, float], step: int = 0) -> None:
        """Log summary metrics on the parent run in one batch."""
        stamp = _now_ms()
        self.client.log_batch(self.parent_run_id, metrics=[Metric(safe_key(k), float(v), stamp, step)
                                                           for k, v in values.items()])

    def log_hypervolume_history(self, view: StudyView) -> None:
        """The front's hypervolume after each finished trial as the parent's ``hypervolume`` metric
        (step = trial number, timestamp = the trial's completion, so re-logging adds nothing)."""
        when = {t.number: E.ms(t.datetime_complete) or 0 for t in view.trials}
        metrics = [Metric("hypervolume", hv, when[n], n) for n, hv in view.hypervolume_by_trial]
        if metrics:
            self.client.log_batch(self.parent_run_id, metrics=metrics)

    def log_parent_params(self, params: dict[str, str]) -> None:
        """Log params on the parent once; a value that changed since (e.g. a larger budget on
        resume) goes to a ``latest.<key>`` tag because MLflow params are immutable."""
        have = self.client.get_run(self.parent_run_id).data.params
        new = [Param(k, v) for k, v in params.items() if k not in have]
        changed = [RunTag(f"latest.{k}", v) for k, v in params.items() if k in have and have[k] != v]
        if new or changed:
            self.client.log_batch(self.parent_run_id, params=new, tags=changed)

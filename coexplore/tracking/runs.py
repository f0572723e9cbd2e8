"""One study's runs in MLflow: its experiment, its parent run and one child run per trial, idempotently.

MLflow has no unique keys on tags, so exactly-one-run-per-trial is kept by a protocol every
writer follows (several workers, a resumed process and ``study report`` may write at once):

1. Before logging trial *n*, look for a live run tagged ``trial_number = n``; a finished one, or
   a running one whose writer is alive, means "already logged": skip.
2. After logging, look again. Runs are ordered by the creation key ``(logged_at, run_id)``; a
   writer whose own run is not the smallest deletes its own run (never another writer's live
   run), so the smallest always survives and the later duplicates remove themselves.
3. A run left ``RUNNING`` by a dead writer (same host and its process gone, or older than
   ``STALE_AFTER_S``) is incomplete: it is replaced and deleted.
4. A full reconcile (study start, study end, ``study report``) logs every finished trial that has
   no run and deletes finished duplicates that a race left behind.

The parent run is found or created the same way (tag ``coexplore.role = study``).
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from coexplore.tracking import entities as E
from coexplore.tracking.store import artifact_location, safe_key

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from optuna.trial import FrozenTrial

    from coexplore.tracking.summary import StudyView

STALE_AFTER_S = 600.0
_PAGE = 5000


def _writer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def creation_key(run: Run) -> tuple[int, str]:
    """Total order over duplicate runs: the earliest-created (then smallest id) is canonical."""
    try:
        logged_at = int(run.data.tags.get(E.TAG_LOGGED_AT, run.info.start_time or 0))
    except ValueError:
        logged_at = run.info.start_time or 0
    return logged_at, run.info.run_id


def is_stale(run: Run, now_ms: int | None = None) -> bool:
    """True for a run left RUNNING by a writer that is gone (same host, dead pid) or long silent."""
    if run.info.status != "RUNNING":
        return False
    now_ms = _now_ms() if now_ms is None else now_ms
    logged_at, _ = creation_key(run)
    if now_ms - logged_at > STALE_AFTER_S * 1000:
        return True
    host, _, pid = run.data.tags.get(E.TAG_LOGGER, "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process is writing it right now
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class ReconcileCounts:
    """What a full reconcile did: runs created, trials already present, duplicates removed."""

    logged: int = 0
    present: int = 0
    removed: int = 0
    replaced_stale: int = 0
    repointed: int = 0
    errors: list[str] = field(default_factory=list)


class StudyRuns:
    """The MLflow experiment of one study (name = study name), its parent run and trial runs.

    Args:
        client: an ``MlflowClient`` on the tracking URI.
        study_name: the Optuna study name; also the experiment name.
        tracking_uri: used to place artifacts beside a local SQLite store.
    """

    def __init__(self, client: MlflowClient, study_name: str, tracking_uri: str) -> None:
        self.client = client
        self.study_name = study_name
        self.tracking_uri = tracking_uri
        self.writer = _writer_id()
        self.run_of: dict[int, str] = {}
        """Trial number -> its canonical run id, as far as this process knows."""

    # -- experiment and parent -------------------------------------------------------------
    @cached_property
    def experiment_id(self) -> str:
        """Id of the study's experiment, created on first use (a concurrent creator is tolerated)."""
        exp = self.client.get_experiment_by_name(self.study_name)
        if exp is None:
            root = artifact_location(self.tracking_uri)
            loc = f"{root}/{safe_key(self.study_name).replace('/', '_')}" if root else None
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

    def parent_runs(self) -> list[Run]:
        """Live parent runs, canonical first (normally exactly one)."""
        return sorted(self.search(f"tags.`{E.TAG_ROLE}` = '{E.ROLE_STUDY}'"), key=creation_key)

    @cached_property
    def parent_run_id(self) -> str:
        """The study's parent run, found or created (duplicates from a creation race resolved)."""
        parents = self.parent_runs()
        if parents:
            return parents[0].info.run_id
        tags = {E.TAG_ROLE: E.ROLE_STUDY, E.TAG_STUDY: self.study_name, E.TAG_LOGGED_AT: str(_now_ms()),
                E.TAG_LOGGER: self.writer}
        own = self.client.create_run(self.experiment_id, tags=tags, run_name=self.study_name).info.run_id
        canonical = self.parent_runs()[0].info.run_id
        if canonical != own:
            self._delete(own)
        return canonical

    # -- trial runs ----------------------------------------------------------------------
    def trial_runs(self, number: int | None = None) -> list[Run]:
        """Live trial runs (of one trial when ``number`` is given)."""
        f = f"tags.`{E.TAG_ROLE}` = '{E.ROLE_TRIAL}'"
        if number is not None:
            f += f" and tags.{E.TAG_TRIAL_NUMBER} = '{number}'"
        return self.search(f)

    def trial_index(self) -> dict[int, list[Run]]:
        """Trial number -> its live runs, each list in creation order."""
        index: dict[int, list[Run]] = {}
        for run in self.trial_runs():
            try:
                index.setdefault(int(run.data.tags[E.TAG_TRIAL_NUMBER]), []).append(run)
            except (KeyError, ValueError):
                continue
        for runs in index.values():
            runs.sort(key=creation_key)
        return index

    def log_trial(
        self, trial: FrozenTrial, objectives: Sequence[str], on_pareto: bool,
        existing: Sequence[Run] | None = None,
    ) -> tuple[str, bool]:
        """Log a finished trial as a child run unless it is already logged; (run id, created).

        Args:
            trial: a finished trial carrying the driver's user_attrs contract.
            objectives: objective names in the order of ``trial.values``.
            on_pareto: the run's ``on_pareto`` tag.
            existing: the trial's live runs if already known (saves one search).
        """
        runs = list(self.trial_runs(trial.number) if existing is None else existing)
        now = _now_ms()
        stale = [r for r in runs if is_stale(r, now)]
        alive = [r for r in runs if r not in stale]
        if alive:
            return min(alive, key=creation_key).info.run_id, False
        run_id = self._write_trial(trial, objectives, on_pareto)
        for r in stale:
            self._delete(r.info.run_id)
        run_id = self._settle_duplicates(trial.number, run_id)
        self.run_of[trial.number] = run_id
        return run_id, True

    def _write_trial(self, trial: FrozenTrial, objectives: Sequence[str], on_pareto: bool) -> str:
        tags = E.trial_tags(
            trial, study_name=self.study_name, parent_run_id=self.parent_run_id, on_pareto=on_pareto,
            logger=self.writer, logged_at=_now_ms(),
        )
        start = E.ms(trial.datetime_start) or _now_ms()
        run = self.client.create_run(self.experiment_id, start_time=start, tags=tags,
                                     run_name=f"trial-{trial.number}")
        run_id = run.info.run_id
        stamp = E.ms(trial.datetime_complete) or start
        metrics = [Metric(k, v, stamp, 0) for k, v in E.trial_metrics(trial, objectives).items()]
        params = [Param(k, v) for k, v in E.trial_params(trial).items()]
        self.client.log_batch(run_id, metrics=metrics, params=params)
        rows = trial.user_attrs.get("per_layer") or []
        if rows:
            from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

            with tempfile.TemporaryDirectory(prefix="coexplore-") as tmp:
                path = E.write_per_layer_csv(rows, Path(tmp) / E.PER_LAYER_CSV)
                if path is not None:  # the repository straight from the new run: saves a get_run
                    repo = get_artifact_repository(run.info.artifact_uri, tracking_uri=self.tracking_uri)
                    repo.log_artifact(str(path))
        self.client.set_terminated(run_id, E.run_status(trial.state), end_time=E.ms(trial.datetime_complete))
        return run_id

    def _settle_duplicates(self, number: int, own: str) -> str:
        """Step 2 of the protocol: keep the smallest creation key, delete our own run if it is not."""
        now = _now_ms()
        runs = [r for r in self.trial_runs(number) if not is_stale(r, now)]
        if not runs:
            return own
        canonical = min(runs, key=creation_key).info.run_id
        if canonical != own:
            self._delete(own)
        return canonical

    def _delete(self, run_id: str) -> None:
        try:
            self.client.delete_run(run_id)
        except MlflowException:
            pass  # already deleted by another writer

    # -- full reconcile and the on_pareto tags ------------------------------------------------
    def reconcile(
        self, trials: Iterable[FrozenTrial], objectives: Sequence[str], front: set[int]
    ) -> tuple[ReconcileCounts, dict[int, str]]:
        """Log every finished trial without a run, drop finished duplicates, fix parent links.

        Returns the counts and the map trial number -> canonical run id.
        """
        counts = ReconcileCounts()
        index = self.trial_index()
        run_of: dict[int, str] = {}
        parent = self.parent_run_id
        now = _now_ms()
        for trial in trials:
            if not trial.state.is_finished():
                continue
            runs = index.get(trial.number, [])
            stale = [r for r in runs if is_stale(r, now)]
            alive = [r for r in runs if r not in stale]
            if not alive:
                try:
                    run_of[trial.number], _ = self.log_trial(trial, objectives, trial.number in front, existing=runs)
                    counts.logged += 1
                    counts.replaced_stale += len(stale)
                except MlflowException as exc:
                    counts.errors.append(f"trial {trial.number}: {exc.message}")
                continue
            counts.present += 1
            finished = [r for r in alive if r.info.status != "RUNNING"]
            keep = min(alive, key=creation_key)
            if len(finished) > 1:
                keep = min(finished, key=creation_key)
                for r in finished:
                    if r is not keep:
                        self._delete(r.info.run_id)
                        counts.removed += 1
            run_of[trial.number] = keep.info.run_id
            self.run_of[trial.number] = keep.info.run_id
            if keep.data.tags.get(E.TAG_PARENT) != parent:
                self.client.set_tag(keep.info.run_id, E.TAG_PARENT, parent)
                counts.repointed += 1
        return counts, run_of

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
        for number in sorted(front - on):
            run_id = self.run_of.get(number)
            if run_id is None:  # another worker's trial: look it up once
                runs = sorted(self.trial_runs(number), key=creation_key)
                run_id = runs[0].info.run_id if runs else None
            if run_id is not None:
                self.run_of[number] = run_id
                changed += self._set_tag(run_id, E.TAG_ON_PARETO, "true")
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

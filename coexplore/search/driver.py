"""The study driver: open a study (create, join or resume) with its config resolved once, then run it.

Two steps, so the caller can build what the trials need in between from the one resolved config:

1. :func:`open_new` (a study file) or :func:`open_existing` (a stored study by name) returns a
   :class:`Session`: the Optuna study with its sampler, the resolved config and the storage URL.
2. :func:`run` optimizes it to its budget with an evaluator (the trial objective) and observers
   (progress bar, MLflow) that the caller built; see :mod:`coexplore.api` for the usual ones.

Example:
    >>> from coexplore.search import driver
    >>> from coexplore.search.evaluate import build_evaluator
    >>> session = driver.open_new("studies/quickstart.yaml")  # doctest: +SKIP
    >>> result = driver.run(session, build_evaluator(session.config, session.storage_url))  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import optuna

from coexplore.search.loop import Objective, optimize, state_counts
from coexplore.search.observers import ObserverGroup, StudyObserver
from coexplore.search.report import StudySummary, summarize
from coexplore.search.storage import open_storage, resolve_storage_url
from coexplore.search.study import (
    BUDGET_ATTR,
    StudyError,
    create_or_join,
    load_for_reading,
    open_for,
    sampler_for,
    stored_config,
)
from coexplore.search.study_config import StudyConfig, check_overrides, load_study

__all__ = ["RunResult", "Session", "StudyError", "ensure_study", "open_existing", "open_new", "run"]


def _sampler(cfg: StudyConfig, seed: int | None) -> optuna.samplers.BaseSampler:
    """The study's sampler, proposing canonical parameters only (one point per design) in a PE type x
    bits space."""
    sampler = sampler_for(cfg, seed)
    if cfg.space.hybrid:
        return sampler
    from coexplore.search.canonical import Canonical

    return Canonical(sampler, cfg.space.canonical_params)


@dataclass
class NestedSummary(StudySummary):
    """The study summary plus what the nested search of this process spent."""

    nested: list[str] = field(default_factory=list)
    choices_swept: int = 0

    def lines(self) -> list[str]:
        out = super().lines()  # the budget counts model-side choices, not trials
        out[0] = out[0].replace(f"{self.complete}/{self.budget} trials complete",
                                f"{self.choices_swept}/{self.budget} model-side choices swept, {self.complete} trials")
        return [*out, *self.nested]


@dataclass
class Session:
    """An opened study: the Optuna study (with its sampler), its resolved config, where it lives,
    and whether this call created it."""

    study: optuna.Study
    config: StudyConfig
    storage_url: str
    created: bool = False
    storage: optuna.storages.BaseStorage | None = None


@dataclass
class RunResult:
    """What one process did: the study, its summary afterwards, and this process's trial count."""

    study: optuna.Study
    config: StudyConfig
    summary: StudySummary
    trials_run: int
    storage_url: str


def open_new(
    path: str | Path | StudyConfig,
    *,
    storage: str | None = None,
    tracking_uri: str | None = None,
    n_trials: int | None = None,
    name: str | None = None,
    seed: int | None = None,
) -> Session:
    """Validate a study file and create its study, or join the existing study of the same search.

    Validation happens before storage is touched. A study of the same name and search continues
    (its budget set to this file's); a different search under the same name is an error.

    Args:
        path: the study file (``studies/*.yaml``) or an already resolved config.
        storage, tracking_uri, n_trials, name, seed: override the study file's values.

    Raises:
        ConfigError: the study file is invalid (one line per problem).
        StudyError: a study of that name exists with a different config.
    """
    check_overrides(name=name, seed=seed, n_trials=n_trials, tracking_uri=tracking_uri)
    cfg = path if isinstance(path, StudyConfig) else load_study(path)
    updates = {"n_trials": n_trials, "name": name, "seed": seed, "tracking_uri": tracking_uri}
    cfg = cfg.model_copy(update={k: v for k, v in updates.items() if v is not None})
    url = resolve_storage_url(storage, cfg.storage)
    store = open_for(cfg, url, create=True)
    study, created = create_or_join(
        cfg, store, _sampler(cfg, cfg.seed),
        f"continue it with `coexplore study resume {cfg.name}` or start under another --name", url,
    )
    if not created:
        study.set_user_attr(BUDGET_ATTR, cfg.n_trials)
        n_existing = len(study.get_trials(deepcopy=False))
        study.sampler = _sampler(cfg, cfg.seed + n_existing)  # a resumed sampler must not repeat old points
    return Session(study, cfg, url, created, store)


def open_existing(
    name: str,
    *,
    storage: str | None = None,
    n_trials: int | None = None,
    tracking_uri: str | None = None,
    worker: bool = False,
) -> Session:
    """Open a stored study by name to continue it (``n_trials``: a new total budget) or, with
    ``worker=True``, to join it from another process (the budget stays as stored).

    Raises:
        StorageError: no such study. StudyError: the study has no stored config.
    """
    check_overrides(tracking_uri=tracking_uri, n_trials=n_trials)
    readable, url = load_for_reading(name, storage)
    cfg = stored_config(readable)
    if tracking_uri:
        cfg = cfg.model_copy(update={"tracking_uri": tracking_uri})
    n_existing = len(readable.get_trials(deepcopy=False))
    # a fresh seed per process: a resumed RandomSampler with the start seed would repeat old points
    seed = random.SystemRandom().randrange(2**31) if worker else cfg.seed + n_existing
    store = open_for(cfg, url, create=False)
    study = optuna.load_study(study_name=name, storage=store, sampler=_sampler(cfg, seed))
    if n_trials is not None and not worker:
        complete = state_counts(readable)["complete"]
        if n_trials < complete:
            raise StudyError(f"study '{name}' already has {complete} complete trials; --n-trials is the new total "
                             f"budget: pass at least {complete}")
        study.set_user_attr(BUDGET_ATTR, n_trials)
        cfg = cfg.model_copy(update={"n_trials": n_trials})
    return Session(study, cfg, url, False, store)


def ensure_study(cfg: StudyConfig, storage_url: str, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """The study of ``cfg`` in storage, created (with its attributes) when absent; no trials run.

    Raises:
        StudyError: a study of that name exists with a different config.
    """
    study, _ = create_or_join(cfg, open_for(cfg, storage_url, create=True), sampler or _sampler(cfg, cfg.seed),
                              "use it by name or choose another --name", storage_url)
    return study


def run(session: Session, evaluator: Objective, observers: Iterable[StudyObserver] = ()) -> RunResult:
    """Optimize the session's study to its budget; every observer is told of every trial.

    Completed trials stay; a trial left RUNNING by a dead process is failed once its heartbeat is
    older than the grace period and queued again with the same parameters.
    """
    cfg = session.config
    if cfg.sampler.name in ("gp", "botorch"):
        import torch

        # the samplers' small GPs run fastest on one thread (the proxy sets its own threads per call)
        torch.set_num_threads(1)
    if cfg.hardware_search == "sweep":
        from coexplore.search.nested import run_nested

        stats = run_nested(session.study, evaluator, cfg.n_trials, cfg.sweep, seed=cfg.seed,
                           observers=ObserverGroup(observers), max_consecutive_failures=cfg.max_consecutive_failures)
        from coexplore.search.nested import swept_choices

        summary = NestedSummary(**asdict(summarize(session.study)), nested=stats.lines(),
                                choices_swept=len(swept_choices(session.study.get_trials(deepcopy=False))))
        return RunResult(session.study, cfg, summary, stats.trials_recorded, session.storage_url)
    ran = optimize(session.study, evaluator, cfg.n_trials, observers=ObserverGroup(observers),
                   max_consecutive_failures=cfg.max_consecutive_failures,
                   max_infeasible_trials=cfg.max_infeasible_trials, storage=session.storage)
    return RunResult(session.study, cfg, summarize(session.study), ran, session.storage_url)


def list_storage(storage: str | None = None) -> optuna.storages.BaseStorage:
    """The storage to list studies of (read-only: never created)."""
    return open_storage(resolve_storage_url(storage), create=False, heartbeat_interval=None)

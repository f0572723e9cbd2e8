"""The study driver: create or load an Optuna study, run trials up to the budget, tell observers.

The budget is the number of COMPLETE trials over all processes. Before each trial a process checks
the counts in the storage; after a trial has its number it checks again that fewer than ``budget``
trials ahead of it are complete or running (two workers may pass the first check together), and
prunes itself otherwise. A trial whose objective raises fails alone; the study goes on (until
``max_consecutive_failures`` in a row, which means a bug rather than bad luck).

Example:
    >>> from coexplore.search import driver
    >>> result = driver.start_study("studies/quickstart.yaml", progress=False)   # doctest: +SKIP
    >>> result.summary.complete
    50
"""

from __future__ import annotations

import logging
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from coexplore.search import pareto
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.observer import StudyObserver
from coexplore.search.report import StudySummary, count_states, summarize
from coexplore.search.samplers import make_sampler
from coexplore.search.storage import (
    StorageError,
    mask_url,
    open_storage,
    proxy_cache_dir,
    resolve_storage_url,
)
from coexplore.search.study_config import StudyConfig, load_study, resolve_study

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)


class StudyError(RuntimeError):
    """A study cannot be started, resumed or joined (the message says why and what to do)."""


@dataclass
class RunResult:
    """What one process did: the study, its summary afterwards, and this process's trial count."""

    study: optuna.Study
    config: StudyConfig
    summary: StudySummary
    trials_run: int
    storage_url: str


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state: ``complete``, ``running``, ``fail``, ``pruned``, ``waiting``."""
    return count_states(study.get_trials(deepcopy=False))


def stored_config(study: optuna.Study) -> StudyConfig:
    """The study's resolved config, as stored on the study when it was started."""
    raw = study.user_attrs.get("config")
    if raw is None:
        raise StudyError(f"study '{study.study_name}' was not created by coexplore (no stored config)")
    cfg = resolve_study(raw, source=f"<config stored with study {study.study_name}>")
    return cfg.model_copy(update={"n_trials": int(study.user_attrs.get("n_trials", cfg.n_trials))})


def build_evaluator(cfg: StudyConfig, storage_url: str) -> TrialEvaluator:
    """The real trial evaluator: the proxy (its cache in the study storage) and the PPA workload."""
    from coexplore.accuracy import ProxyEvaluator

    if cfg.space.hybrid and cfg.workload:
        raise StudyError(f"study {cfg.name}: workload: a hybrid (operators:) space is costed on the proxy model's "
                         "own layers (each layer's operator changes its accuracy); remove workload")
    proxy = ProxyEvaluator(cfg.proxy_config(), cache_dir=proxy_cache_dir(storage_url), cache_url=storage_url)
    if cfg.workload:
        from coexplore.workload import resolve

        workload = resolve(cfg.workload)
    else:
        workload = proxy.workload()
    if cfg.space.hybrid:  # per-layer operator x mode choices: the hybrid cost model on the model's own layers
        from coexplore.search.hybrid import HybridTrialEvaluator

        return HybridTrialEvaluator(cfg.space, cfg.objectives, proxy, proxy.workload())
    return TrialEvaluator(cfg.space, cfg.objectives, proxy, workload)


def _sampler(cfg: StudyConfig, seed: int | None) -> optuna.samplers.BaseSampler:
    return make_sampler(
        cfg.sampler,
        seed=seed,
        directions=cfg.objectives.directions,
        reference_point=cfg.objectives.reference,
    )


def _observers(cfg: StudyConfig, config_files: dict[str, Path], tracking: bool, storage_url: str) -> list[StudyObserver]:
    if not (tracking and cfg.tracking):
        return []
    from coexplore.tracking import MlflowObserver
    from coexplore.tracking.store import default_tracking_uri

    return [MlflowObserver(cfg.tracking_uri or default_tracking_uri(storage_url), config_files)]


def _safe(hook: Callable[..., None], *args: Any) -> None:
    """Call an observer hook; its failure is logged, never allowed to stop the study."""
    try:
        hook(*args)
    except Exception as exc:  # noqa: BLE001 - observers are optional; the search must go on
        log.warning("observer %s failed: %s", getattr(hook, "__qualname__", hook), mask_url(str(exc)))


def optimize(
    study: optuna.Study,
    evaluator: Callable[[optuna.Trial], Sequence[float]],
    budget: int,
    *,
    directions: Sequence[str],
    reference_point: Sequence[float],
    observers: Sequence[StudyObserver] = (),
    on_trial: Callable[[optuna.trial.FrozenTrial, dict[str, int]], None] | None = None,
    max_consecutive_failures: int = 10,
    poll_s: float = 1.0,
) -> int:
    """Run trials until ``budget`` trials are COMPLETE in the storage; return how many this process ran.

    Args:
        study: the Optuna study (its storage may be shared with other workers).
        evaluator: the objective (sets the trial's user_attrs, returns objective values).
        budget: COMPLETE trials wanted over all processes.
        directions: per objective, for the hypervolume recorded on each trial.
        reference_point: hypervolume reference point.
        observers: told of study start, every trial of this process, and study end.
        on_trial: called after each trial with the frozen trial and the new state counts.
        max_consecutive_failures: stop with :class:`StudyError` after this many failures in a row.
        poll_s: seconds between checks while other processes' trials hold the rest of the budget.
    """
    ran = 0
    failures: list[str] = []

    def objective(trial: optuna.Trial) -> Sequence[float]:
        ahead = [
            t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
            if t.number < trial.number
        ]
        if len(ahead) >= budget:
            trial.set_user_attr("over_budget", True)
            raise optuna.TrialPruned(f"budget of {budget} complete trials already taken by earlier trials")
        try:
            values = list(evaluator(trial))
        except Exception as exc:
            trial.set_user_attr("error", mask_url(f"{type(exc).__name__}: {exc}")[:2000])
            raise
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        own = values if trial.user_attrs.get("feasible") else None
        trial.set_user_attr("hypervolume", pareto.hypervolume_with(complete, own, directions, reference_point))
        return values

    last: list[optuna.trial.FrozenTrial] = []

    def callback(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        last.append(trial)

    for obs in observers:
        _safe(obs.on_study_start, study)
    counts: dict[str, int] | None = None  # counts read after the last trial, reused by the next check
    try:
        while True:
            budget = int(study.user_attrs.get("n_trials", budget))  # a resume elsewhere may raise it
            counts = counts or state_counts(study)
            if counts["complete"] >= budget:
                break
            if counts["waiting"] == 0 and counts["complete"] + counts["running"] >= budget:
                with warnings.catch_warnings():  # experimental in Optuna 5, and stable since 2.9
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)  # a dead worker's trial frees its budget share
                time.sleep(poll_s)
                counts = None
                continue
            last.clear()
            study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[callback], gc_after_trial=False)
            counts = None
            if not last:
                continue
            trial = last[-1]
            ran += 1
            for obs in observers:
                _safe(obs.on_trial_end, study, trial)
            if on_trial is not None:
                counts = state_counts(study)
                on_trial(trial, counts)
            if trial.state == TrialState.FAIL:
                failures.append(str(trial.user_attrs.get("error", "unknown error")))
                if len(failures) >= max_consecutive_failures:
                    raise StudyError(
                        f"{len(failures)} trials failed in a row; stopping. Last error: {failures[-1]}"
                    )
            else:
                failures.clear()
    finally:
        for obs in observers:
            _safe(obs.on_study_end, study)
    return ran


def _progress_runner(
    study: optuna.Study, cfg: StudyConfig, evaluator: TrialEvaluator, budget: int,
    observers: list[StudyObserver], progress: bool, console: Console | None,
) -> int:
    """:func:`optimize` under a Rich progress bar: complete / budget, best hypervolume, trial rate."""
    kwargs = {
        "directions": cfg.objectives.directions,
        "reference_point": cfg.objectives.reference,
        "observers": observers,
        "max_consecutive_failures": cfg.max_consecutive_failures,
    }
    if not progress:
        return optimize(study, evaluator, budget, **kwargs)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    start = time.perf_counter()
    counts = state_counts(study)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("HV {task.fields[hv]:.4g}"), TextColumn("{task.fields[rate]:.1f} trials/min"),
        TextColumn("proxy runs {task.fields[proxy]}"), TimeElapsedColumn(),
        console=console, transient=False,
    ) as bar:
        task = bar.add_task(cfg.name, total=budget, completed=counts["complete"], hv=0.0, rate=0.0, proxy=0)
        n = [0, 0]

        def on_trial(trial: optuna.trial.FrozenTrial, counts: dict[str, int]) -> None:
            n[0] += 1
            n[1] += int(trial.user_attrs.get("proxy_cache_hit") is False)
            hv = float(trial.user_attrs.get("hypervolume", bar.tasks[0].fields["hv"]))
            rate = 60.0 * n[0] / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=min(counts["complete"], budget), hv=max(hv, bar.tasks[0].fields["hv"]), rate=rate, proxy=n[1])

        return optimize(study, evaluator, budget, on_trial=on_trial, **kwargs)


def _run(
    study: optuna.Study, cfg: StudyConfig, storage_url: str, *, config_files: dict[str, Path],
    tracking: bool, progress: bool, console: Console | None, evaluator: TrialEvaluator | None,
) -> RunResult:
    evaluator = evaluator or build_evaluator(cfg, storage_url)
    if cfg.sampler.name in ("gp", "botorch"):
        import torch

        # the samplers' small GPs run fastest on one thread (the proxy sets its own threads per call)
        torch.set_num_threads(1)
    observers = _observers(cfg, config_files, tracking, storage_url)
    ran = _progress_runner(study, cfg, evaluator, cfg.n_trials, observers, progress, console)
    return RunResult(study=study, config=cfg, summary=summarize(study), trials_run=ran, storage_url=storage_url)


def _open(cfg: StudyConfig, storage_url: str, create: bool) -> optuna.storages.RDBStorage:
    return open_storage(storage_url, create=create, heartbeat_interval=cfg.heartbeat_interval, grace_period=cfg.grace_period)


def _search_part(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a stored config that define what is searched (not budget or where it is logged)."""
    return {k: v for k, v in config.items() if k not in ("n_trials", "tracking_uri", "tracking")}


def _set_study_attrs(study: optuna.Study, cfg: StudyConfig) -> None:
    """The study user_attrs of the observer contract (config, objectives, reference point, budget)."""
    study.set_user_attr("config", cfg.stored())
    study.set_user_attr("objectives", [{"name": o.metric, "direction": o.direction} for o in cfg.objectives.objectives])
    study.set_user_attr("reference_point", cfg.objectives.reference)
    study.set_user_attr("constraints", [str(c) for c in cfg.objectives.parsed_constraints()])
    study.set_user_attr("n_trials", cfg.n_trials)


def _create_or_join(
    cfg: StudyConfig, storage_url: str, sampler: optuna.samplers.BaseSampler, hint: str
) -> tuple[optuna.Study, bool]:
    """The study of ``cfg``: created with its user_attrs (True), or the existing one of the same search (False).

    Raises:
        StudyError: a study of that name exists with a different config (``hint`` says what to do).
    """
    store = _open(cfg, storage_url, create=True)
    try:
        study = optuna.create_study(study_name=cfg.name, storage=store, directions=cfg.objectives.directions,
                                    sampler=sampler)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=cfg.name, storage=store, sampler=sampler)
        if _search_part(dict(study.user_attrs.get("config", {}))) != _search_part(cfg.stored()):
            raise StudyError(
                f"study '{cfg.name}' already exists in {mask_url(storage_url)} with a different config; {hint}"
            ) from None
        return study, False
    _set_study_attrs(study, cfg)
    return study, True


def ensure_study(cfg: StudyConfig, storage_url: str, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """The study of ``cfg`` in storage, created (with its user_attrs) when absent; no trials are run.

    Args:
        cfg, storage_url: the resolved study and where it lives.
        sampler: the sampler of the returned handle (default: the study's own, seeded with its seed).

    Raises:
        StudyError: a study of that name exists with a different config.
    """
    study, _ = _create_or_join(cfg, storage_url, sampler or _sampler(cfg, cfg.seed),
                               "use it by name or choose another --name")
    return study


def start_study(
    path: str | Path,
    *,
    storage: str | None = None,
    tracking_uri: str | None = None,
    n_trials: int | None = None,
    name: str | None = None,
    seed: int | None = None,
    tracking: bool = True,
    progress: bool = True,
    console: Console | None = None,
    evaluator: TrialEvaluator | None = None,
) -> RunResult:
    """Validate a study file, create the study in storage and run it to its budget.

    A study of the same name with the same config continues where it stopped (as ``resume``); a
    different config under the same name is an error. Validation happens before storage is touched.

    Args:
        path: the study file (``studies/*.yaml``).
        storage, tracking_uri, n_trials, name, seed: override the study file's values.
        tracking: False turns MLflow tracking off whatever the file says.
        progress: show a Rich progress bar.
        evaluator: a prebuilt evaluator (tests, notebooks); default builds the real one.
    """
    cfg = load_study(path)
    updates = {k: v for k, v in {"n_trials": n_trials, "name": name, "seed": seed, "tracking_uri": tracking_uri}.items() if v is not None}
    cfg = cfg.model_copy(update=updates)
    url = resolve_storage_url(storage, cfg.storage)
    files = {"study.yaml": Path(path)}
    study, created = _create_or_join(
        cfg, url, _sampler(cfg, cfg.seed),
        f"continue it with `coexplore study resume {cfg.name}` or start under another --name",
    )
    if not created:
        study.set_user_attr("n_trials", cfg.n_trials)
        return resume_study(cfg.name, storage=url, tracking=tracking, progress=progress, console=console,
                            evaluator=evaluator, tracking_uri=tracking_uri, config_files=files)
    return _run(study, cfg, url, config_files=files, tracking=tracking, progress=progress, console=console, evaluator=evaluator)


def load(name: str, storage: str | None = None, *, create: bool = False) -> tuple[optuna.Study, StudyConfig, str]:
    """Load a study by name with its stored config (no sampler attached; for reading)."""
    url = resolve_storage_url(storage)
    store = open_storage(url, create=create, heartbeat_interval=None)
    try:
        study = optuna.load_study(study_name=name, storage=store)
    except KeyError:
        from coexplore.search.storage import study_names

        names = study_names(store)
        raise StorageError(
            f"no study named '{name}' in {mask_url(url)}; studies there: {', '.join(names) or '(none)'}"
        ) from None
    return study, stored_config(study), url


def resume_study(
    name: str,
    *,
    storage: str | None = None,
    n_trials: int | None = None,
    tracking_uri: str | None = None,
    tracking: bool = True,
    progress: bool = True,
    console: Console | None = None,
    evaluator: TrialEvaluator | None = None,
    worker: bool = False,
    config_files: dict[str, Path] | None = None,
) -> RunResult:
    """Continue a study from its storage up to its budget (``n_trials``: the new total budget).

    Completed trials stay; a trial left RUNNING by a dead process is failed once its heartbeat is
    older than the grace period and queued again with the same parameters. With ``worker=True``
    the budget is left as stored (workers join; they do not change it).
    """
    stored, cfg, url = load(name, storage)
    if tracking_uri:
        cfg = cfg.model_copy(update={"tracking_uri": tracking_uri})
    n_existing = len(stored.get_trials(deepcopy=False))
    store = _open(cfg, url, create=False)
    # a fresh seed per process: a resumed RandomSampler with the start seed would repeat old points
    seed = random.SystemRandom().randrange(2**31) if worker else cfg.seed + n_existing
    study = optuna.load_study(study_name=name, storage=store, sampler=_sampler(cfg, seed))
    if n_trials is not None and not worker:
        study.set_user_attr("n_trials", n_trials)
        cfg = cfg.model_copy(update={"n_trials": n_trials})
    return _run(study, cfg, url, config_files=config_files or {}, tracking=tracking, progress=progress,
                console=console, evaluator=evaluator)

"""The Python API under the CLI: run, resume and join studies with the usual evaluator and observers.

This is the composition layer: it picks the trial evaluator a study's space needs (the plain
PE type x bits x hardware one from :mod:`coexplore.search`, or the hybrid digital + CIM one from
:mod:`coexplore.enos`) and the MLflow observer from :mod:`coexplore.tracking`, and hands both to the
driver. A notebook user calls these directly; ``coexplore study`` only adds a progress bar.

Example:
    >>> from coexplore import api
    >>> result = api.start_study("studies/quickstart.yaml", n_trials=10)  # doctest: +SKIP
    >>> result.summary.pareto_size  # doctest: +SKIP
    5
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from coexplore.search import driver
from coexplore.search.observers import StudyObserver

if TYPE_CHECKING:
    import optuna

    from coexplore.enos.study import EnosTrialResult
    from coexplore.search.driver import RunResult, Session
    from coexplore.search.nas_study import NasTrialResult
    from coexplore.search.study_config import StudyConfig
    from coexplore.transforms import FilterPruning

Evaluator = Callable[["optuna.Trial"], Sequence[float]]


def build_evaluator(cfg: StudyConfig, storage_url: str) -> Evaluator:
    """The trial evaluator a study's space needs, on the study's proxy (its cache in the storage)."""
    if cfg.space.hybrid:
        from coexplore.enos import hybrid_evaluator

        return hybrid_evaluator(cfg, storage_url)
    from coexplore.search.evaluate import build_evaluator as plain

    return plain(cfg, storage_url)


def tracking_observers(cfg: StudyConfig, storage_url: str, *, tracking: bool = True) -> list[StudyObserver]:
    """The MLflow observer of a study (none when tracking is off by flag or in the study file)."""
    if not (tracking and cfg.tracking):
        return []
    from coexplore.tracking import MlflowObserver, default_tracking_uri

    files = {k: Path(v) for k, v in cfg.files.items()}
    return [MlflowObserver(cfg.tracking_uri or default_tracking_uri(storage_url), files)]


def run_session(session: Session, *, tracking: bool = True, observers: Iterable[StudyObserver] = (),
                evaluator: Evaluator | None = None) -> RunResult:
    """Run an opened study with its evaluator, the MLflow observer and ``observers``."""
    cfg, url = session.config, session.storage_url
    if evaluator is None:
        try:
            evaluator = build_evaluator(cfg, url)
        except BaseException:
            if session.created:  # creating a study and running it are one step: leave no empty study behind
                from coexplore.search.study import delete_study

                delete_study(cfg.name, url)
            raise
    return driver.run(session, evaluator, [*tracking_observers(cfg, url, tracking=tracking), *observers])


def start_study(path: str | Path, *, storage: str | None = None, tracking_uri: str | None = None,
                n_trials: int | None = None, name: str | None = None, seed: int | None = None,
                tracking: bool = True, observers: Iterable[StudyObserver] = (),
                evaluator: Evaluator | None = None) -> RunResult:
    """Validate a study file, create (or continue) its study and run it to its budget.

    Args:
        path: the study file (``studies/*.yaml``).
        storage, tracking_uri, n_trials, name, seed: override the study file's values.
        tracking: False turns MLflow tracking off whatever the file says.
        observers: more observers (a progress bar).
        evaluator: a prebuilt trial evaluator (tests); default: :func:`build_evaluator`.
    """
    session = driver.open_new(path, storage=storage, tracking_uri=tracking_uri, n_trials=n_trials, name=name,
                              seed=seed)
    return run_session(session, tracking=tracking, observers=observers, evaluator=evaluator)


def resume_study(name: str, *, storage: str | None = None, n_trials: int | None = None,
                 tracking_uri: str | None = None, tracking: bool = True, worker: bool = False,
                 observers: Iterable[StudyObserver] = (), evaluator: Evaluator | None = None) -> RunResult:
    """Continue a stored study up to its budget (``n_trials``: a new total), or join it as a worker."""
    session = driver.open_existing(name, storage=storage, n_trials=n_trials, tracking_uri=tracking_uri,
                                   worker=worker)
    return run_session(session, tracking=tracking, observers=observers, evaluator=evaluator)


def nas_search(study: str | Path, cost_weights: Sequence[float], *, storage: str | None = None, steps: int = 200,
               metric: str = "energy", pe_type: str | None = None, tracking: bool = True,
               on_start: Callable[[str], None] | None = None,
               on_result: Callable[[NasTrialResult], None] | None = None) -> tuple[StudyConfig, list[NasTrialResult]]:
    """A Single-Path NAS lambda sweep on a study with ``model.architecture`` (a study file, or a
    stored study's name), every architecture recorded as a trial of it and logged like any trial;
    (config, results). See :func:`coexplore.search.nas_study.nas_study_search`."""
    from coexplore.search.nas_study import nas_study_search

    cfg, url = _study_config(study, storage)
    results = nas_study_search(cfg, url, cost_weights, steps=steps, metric=metric, pe_type=pe_type,
                               observers=tracking_observers(cfg, url, tracking=tracking), on_start=on_start,
                               on_result=on_result)
    return cfg, results


def learn_pruning(study: str | Path, *, storage: str | None = None,
                  progress: Callable[[str, int, int], None] | None = None) -> FilterPruning:
    """Learn (or load) the filter ranking of a study whose space has ``model.prune``, and store it
    in the study's storage beside the FP32 checkpoint; returns the transform (``.channels(level)``).

    Args:
        study: a study file, or a stored study's name.
        storage: the storage URL (default: the study file's, else the default storage).
        progress: ``(phase, done, total)`` while pretraining and learning.
    """
    from coexplore.search.transformed import learn_pruning as learn

    cfg, url = _study_config(study, storage)
    return learn(cfg, url, progress)


def _study_config(study: str | Path, storage: str | None) -> tuple[StudyConfig, str]:
    """(config, storage URL) of a study file or a stored study's name."""
    from coexplore.search.storage import resolve_storage_url
    from coexplore.search.study import load_for_reading, stored_config
    from coexplore.search.study_config import load_study

    if Path(study).is_file():
        cfg = load_study(study)
        return cfg, resolve_storage_url(storage, cfg.storage)
    readable, url = load_for_reading(str(study), storage)
    return stored_config(readable), url


def enos_search(study: str | Path, energy_weights: Sequence[float], *, storage: str | None = None,
                mode: str = "bilevel", steps: int = 150, tracking: bool = True,
                on_result: Callable[[EnosTrialResult], None] | None = None) -> tuple[StudyConfig, list[EnosTrialResult]]:
    """An ENOS lambda sweep on a hybrid study (a study file, or a stored study's name), every
    assignment recorded as a trial of it and logged like any trial; (config, results)."""
    from coexplore.enos.study import enos_study_search

    cfg, url = _study_config(study, storage)
    results = enos_study_search(cfg, url, energy_weights, mode=mode, steps=steps,
                                observers=tracking_observers(cfg, url, tracking=tracking), on_result=on_result)
    return cfg, results

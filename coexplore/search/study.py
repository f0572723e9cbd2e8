"""A study in its storage: create it with its config in one step, join it, or load it to read.

The study's resolved config and the observer contract's study attributes (objectives, reference
point, constraints, budget) are set right after creation; a study that exists without them (its
creator was killed in between) is adopted by the next ``start`` of the same name rather than
left blocking the name.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from coexplore.record import mask_url
from coexplore.search.objectives import ObjectivesConfig
from coexplore.search.samplers import make_sampler
from coexplore.search.storage import StorageError, open_storage, resolve_storage_url, study_names
from coexplore.search.study_config import StudyConfig, resolve_study

CONFIG_ATTR = "config"
BUDGET_ATTR = "n_trials"
FILES_ATTR = "files"
"""The files the study was built from (``study``, ``space``, ``objectives`` -> absolute path)."""


class StudyError(RuntimeError):
    """A study cannot be started, resumed or joined (the message says why and what to do)."""


def sampler_for(cfg: StudyConfig, seed: int | None) -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded with ``seed``."""
    return make_sampler(cfg.sampler, seed=seed, directions=cfg.objectives.directions,
                        reference_point=cfg.objectives.reference)


def open_for(cfg: StudyConfig, storage_url: str, create: bool) -> optuna.storages.BaseStorage:
    """The storage of ``cfg``'s study with its heartbeat settings (an RDB storage, or a ``grpc://`` proxy client)."""
    return open_storage(storage_url, create=create, heartbeat_interval=cfg.heartbeat_interval,
                        grace_period=cfg.grace_period)


def _search_part(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a stored config that define what is searched (not budget or where it is logged)."""
    return {k: v for k, v in config.items() if k not in ("n_trials", "tracking_uri", "tracking")}


def set_study_attrs(study: optuna.Study, cfg: StudyConfig) -> None:
    """Store the resolved config and the contract's study attributes; name the objectives."""
    with warnings.catch_warnings():  # experimental since Optuna 3.2, unchanged since
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(cfg.objectives.names)
    study.set_user_attr("objectives", [{"name": o.metric, "direction": o.direction} for o in cfg.objectives.objectives])
    study.set_user_attr("reference_point", cfg.objectives.reference)
    study.set_user_attr("constraints", [str(c) for c in cfg.objectives.parsed_constraints()])
    study.set_user_attr(BUDGET_ATTR, cfg.n_trials)
    study.set_user_attr(FILES_ATTR, dict(cfg.files))  # for `study report` to attach them to the parent run
    study.set_user_attr(CONFIG_ATTR, cfg.stored())  # last: its presence marks a complete creation


def create_or_join(cfg: StudyConfig, store: optuna.storages.BaseStorage, sampler: optuna.samplers.BaseSampler,
                   hint: str, storage_url: str) -> tuple[optuna.Study, bool]:
    """The study of ``cfg``: created with its attributes (True), or the existing one of the same
    search (False). An existing study without a stored config (its creator died before storing
    it) and without trials is adopted and configured.

    Raises:
        StudyError: a study of that name exists with a different config (``hint`` says what to do).
    """
    try:
        study = optuna.create_study(study_name=cfg.name, storage=store, directions=cfg.objectives.directions,
                                    sampler=sampler)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=cfg.name, storage=store, sampler=sampler)
        stored = study.user_attrs.get(CONFIG_ATTR)
        if stored is None and not study.get_trials(deepcopy=False) and \
                len(study.directions) == len(cfg.objectives.directions):
            set_study_attrs(study, cfg)  # a half-created study: adopt it
            return study, True
        if _search_part(dict(stored or {})) != _search_part(cfg.stored()):
            raise StudyError(
                f"study '{cfg.name}' already exists in {mask_url(storage_url)} with a different config; {hint}"
            ) from None
        return study, False
    set_study_attrs(study, cfg)
    return study, True


def stored_config(study: optuna.Study) -> StudyConfig:
    """The study's resolved config, as stored when it was created (budget as stored now)."""
    raw = study.user_attrs.get(CONFIG_ATTR)
    if raw is None:
        raise StudyError(f"study '{study.study_name}' has no stored config (it was not created by coexplore, or "
                         f"its creation was interrupted): start it again with `coexplore study start FILE`")
    cfg = resolve_study(raw, source=f"<config stored with study {study.study_name}>")
    return cfg.model_copy(update={"n_trials": int(study.user_attrs.get(BUDGET_ATTR, cfg.n_trials))})


def load_for_reading(name: str, storage: str | None = None) -> tuple[optuna.Study, str]:
    """A study by name for reading (no sampler, no heartbeats, no config resolved); (study, URL).

    Raises:
        StorageError: no such study; the message lists the studies in the storage.
    """
    url = resolve_storage_url(storage)
    store = open_storage(url, create=False, heartbeat_interval=None)
    try:
        return optuna.load_study(study_name=name, storage=store), url
    except KeyError:
        names = ", ".join(study_names(store)) or "(none)"
        raise StorageError(f"no study named '{name}' in {mask_url(url)}; studies there: {names}") from None


def delete_study(name: str, storage: str | None = None) -> None:
    """Remove a study, its trials and attributes from the storage (no undo)."""
    url = resolve_storage_url(storage)
    optuna.delete_study(study_name=name, storage=open_storage(url, create=False, heartbeat_interval=None))


def objectives_of(study: optuna.Study) -> ObjectivesConfig:
    """The objectives, constraints and reference point stored on a study (for results added to it
    from outside the driver, e.g. ENOS).

    Raises:
        ValueError: the study names no objectives (it was not created by coexplore).
    """
    objs = study.user_attrs.get("objectives")
    if not objs:
        raise ValueError(f"study {study.study_name}: user_attrs['objectives'] is empty; the driver sets it")
    ref = study.user_attrs.get("reference_point") or [0.0] * len(objs)
    return ObjectivesConfig(objectives=[{"metric": o["name"], "direction": o["direction"]} for o in objs],
                            constraints=list(study.user_attrs.get("constraints") or []),
                            reference_point={o["name"]: float(r) for o, r in zip(objs, ref)})

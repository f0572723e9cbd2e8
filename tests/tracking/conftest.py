"""Fixtures: real Optuna studies whose trials carry real trial records, and a tracking store.

The objective is a small closed-form stand-in for the PPA model and proxy (the driver is not what
these tests exercise), but each trial's record is built and written by the real
:func:`coexplore.search.evaluate.build_record` and :func:`coexplore.record.write_record`, including
infeasible designs, failed trials and per-layer rows.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from coexplore.record import write_record
from coexplore.search.evaluate import build_record
from coexplore.search.objectives import ObjectivesConfig
from coexplore.search.observers import StudyObserver

OBJECTIVES = [
    {"name": "accuracy", "direction": "maximize"},
    {"name": "energy_j", "direction": "minimize"},
    {"name": "area_mm2", "direction": "minimize"},
]
REFERENCE_POINT = [0.0, 1e-2, 10.0]
LAYERS = ["conv1", "layer1.conv", "layer2.conv", "fc"]
PE_BITS = {"int16": 16, "int8": 8, "int4": 4, "binary": 1}
AREA_LIMIT_MM2 = 6.0
OBJECTIVES_CONFIG = ObjectivesConfig(
    objectives=[o["name"] for o in OBJECTIVES], constraints=[f"area_mm2 <= {AREA_LIMIT_MM2:g}"],
    reference_point={o["name"]: r for o, r in zip(OBJECTIVES, REFERENCE_POINT)},
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial: optuna.Trial) -> tuple[float, float, float]:
    pe = trial.suggest_categorical("pe_type", list(PE_BITS))
    rows = trial.suggest_int("pe_rows", 4, 32, log=True)
    cols = trial.suggest_int("pe_cols", 4, 32, log=True)
    glb = trial.suggest_int("glb_kib", 16, 512, log=True)
    if trial.number % 7 == 5:
        raise RuntimeError("simulated PPA model crash")
    bits = PE_BITS[pe]
    pe_area = {"pe_array": rows * cols * 1e-3 * bits, "glb": glb * 4e-3, "spads": rows * cols * 2e-4}
    area = sum(pe_area.values())
    per_layer, energy = [], 0.0
    for i, name in enumerate(LAYERS):
        macs = 1e6 * (i + 1)
        e_mac = macs * 2e-12 * bits / 8
        e_glb = macs * 1e-12 / math.sqrt(glb)
        e_dram = macs * 4e-12 / math.sqrt(rows * cols)
        per_layer.append({"name": name, "macs": macs, "cycles": macs / (rows * cols), "energy_j": e_mac + e_glb + e_dram,
                          "utilization": 0.8, "dram_bytes": macs / 10, "weight_bits": bits, "act_bits": bits,
                          "energy_mac_j": e_mac, "energy_glb_j": e_glb, "energy_dram_j": e_dram})
        energy += e_mac + e_glb + e_dram
    accuracy = 0.9 - 0.25 / bits - 1e-4 * glb ** 0.1
    feasible = rows * cols * bits <= 8192
    raw = {"accuracy": accuracy, "baseline_accuracy": 0.9, "energy_j": energy, "area_mm2": area,
           "latency_s": 1.0 / (rows * cols), "macs": 1e7, "cycles": 1e7 / (rows * cols)}
    record = build_record(raw, OBJECTIVES_CONFIG, reason="" if feasible else "minimal tile does not fit the filter spad",
                          extra_metrics={f"area_{k}_mm2": v for k, v in pe_area.items()}, pe_type=pe,
                          effective={"pe_type": pe, "pe_rows": rows, "pe_cols": cols, "glb_kib": glb},
                          per_layer=per_layer, proxy_cache_hit=trial.number % 3 == 0)
    write_record(trial, record)
    return tuple(record.values)


def new_study(storage: str, name: str, seed: int = 0) -> optuna.Study:
    """A study as the driver sets it up (directions, user_attrs), not yet optimized."""
    if storage.startswith("sqlite:///"):  # WAL: one fsync per commit keeps these tests fast
        with contextlib.closing(sqlite3.connect(storage[len("sqlite:///"):])) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
    study = optuna.create_study(
        study_name=name, storage=storage, directions=[o["direction"] for o in OBJECTIVES], load_if_exists=True,
        sampler=optuna.samplers.NSGAIISampler(seed=seed, population_size=8),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o["name"] for o in OBJECTIVES])
    study.set_user_attr("objectives", OBJECTIVES)
    study.set_user_attr("reference_point", REFERENCE_POINT)
    study.set_user_attr("constraints", [f"area_mm2 <= {AREA_LIMIT_MM2:g}"])
    study.set_user_attr("config", {"sampler": {"name": "nsga2", "seed": seed},
                                   "storage": "postgresql://alice:s3cret@db.example:5432/studies"})
    return study


def drive(study: optuna.Study, observer: StudyObserver | None, n_trials: int, *, end: bool = True) -> None:
    """Optimize as the driver does: start hook, one hook per finished trial, end hook."""
    if observer is not None:
        observer.on_study_start(study)
    callbacks = [lambda s, t: observer.on_trial_end(s, t)] if observer is not None else []
    study.set_user_attr("n_trials", n_trials)
    study.optimize(_objective, n_trials=n_trials, callbacks=callbacks, catch=(RuntimeError,))
    if observer is not None and end:
        observer.on_study_end(study)


def driven_study(tmp_path_factory: pytest.TempPathFactory, name: str, n_trials: int) -> optuna.Study:
    """A study in its own temporary storage, optimized for ``n_trials`` without tracking."""
    study = new_study(f"sqlite:///{tmp_path_factory.mktemp(name) / 'study.db'}", name)
    drive(study, None, n_trials)
    return study


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite tracking store for the session (MLflow's schema migration costs ~2 s per store);
    tests keep apart by using distinct study names, hence distinct experiments."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture()
def storage(tmp_path: Path) -> str:
    """An Optuna SQLite storage URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'study.db'}"


@pytest.fixture()
def study_name(request: pytest.FixtureRequest) -> str:
    """A study (and experiment) name unique to the test."""
    return request.node.name.replace("[", "-").replace("]", "")


@pytest.fixture()
def make_study(storage: str, study_name: str) -> Callable[..., optuna.Study]:
    """Factory: ``make_study(seed=0)`` -> a fresh study in this test's storage."""
    return lambda seed=0: new_study(storage, study_name, seed)

"""The driver's contract, with small doubles for the PPA model and proxy: budget, attrs, failures, resume."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from coexplore.search import driver, pareto
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.study_config import load_study
from tests.search.doubles import FakeProxy, fake_ppa, workload

SPACE = {
    "hardware": {"pe_rows": {"type": "int", "low": 2, "high": 16, "step": 2},
                 "glb_kib": {"type": "int", "low": 8, "high": 256, "log": True}},
    "model": {"pe_type": ["int8", "int4", "binary"], "weight_bits": {"choices": [2, 4, 8]}},
}
OBJECTIVES = {"objectives": ["accuracy", "energy_mj", "area_mm2"], "constraints": ["area_mm2 <= 3"],
              "reference_point": {"accuracy": 0.5, "energy_mj": 1.0, "area_mm2": 10.0}}


def _study_file(tmp_path: Path, **over) -> Path:
    data = {"name": "t", "dataset": "digits", "space": SPACE, "objectives": OBJECTIVES, "n_trials": 12,
            "sampler": {"name": "random"}, "tracking": False, "heartbeat_interval": 1, **over}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _evaluator(path: Path, proxy: FakeProxy | None = None) -> TrialEvaluator:
    cfg = load_study(path)
    return TrialEvaluator(cfg.space, cfg.objectives, proxy or FakeProxy(), workload(), ppa_evaluate=fake_ppa)


def _run(tmp_path, **over):
    path = _study_file(tmp_path, **over)
    url = f"sqlite:///{tmp_path / 's.db'}"
    return driver.start_study(path, storage=url, progress=False, evaluator=_evaluator(path)), url


def test_study_stops_at_the_budget_of_complete_trials(tmp_path):
    result, _ = _run(tmp_path)
    assert result.summary.complete == 12
    assert len(result.study.get_trials(states=(TrialState.COMPLETE,))) == 12


def test_trials_carry_the_observer_contract_attributes(tmp_path):
    result, _ = _run(tmp_path, n_trials=3)
    t = result.study.trials[0]
    assert {"metrics", "pe_type", "feasible", "infeasible_reason", "per_layer", "proxy_cache_hit"} <= set(t.user_attrs)
    assert {"objectives", "reference_point", "constraints", "n_trials", "config"} <= set(result.study.user_attrs)


def test_each_trial_records_the_hypervolume_of_the_front_so_far(tmp_path):
    result, _ = _run(tmp_path)
    trials = result.study.get_trials()
    hvs = [t.user_attrs["hypervolume"] for t in trials]
    assert hvs == sorted(hvs), "one process: the front only grows"
    assert hvs[-1] == pytest.approx(result.summary.hypervolume) and hvs[-1] > 0


def test_on_trial_sees_the_counts_after_each_trial(tmp_path):
    path = _study_file(tmp_path, n_trials=4)
    cfg = load_study(path)
    study = driver.ensure_study(cfg, f"sqlite:///{tmp_path / 's.db'}")
    seen: list[tuple[int, int]] = []
    ran = driver.optimize(study, _evaluator(path), 4, directions=cfg.objectives.directions,
                          reference_point=cfg.objectives.reference,
                          on_trial=lambda t, counts: seen.append((t.number, counts["complete"])))
    assert ran == 4 and seen == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_infeasible_designs_violate_a_constraint_and_stay_off_the_front(tmp_path):
    result, _ = _run(tmp_path, n_trials=40)
    trials = result.study.get_trials(states=(TrialState.COMPLETE,))
    infeasible = [t for t in trials if not t.user_attrs["feasible"]]
    assert infeasible, "the space has GLBs below the doubles' 20 KiB feasibility bound"
    assert all(max(t.constraints.values()) > 0 for t in infeasible)
    assert any(t.constraints["feasible"] > 0 and t.user_attrs["infeasible_reason"] == "glb too small" for t in infeasible)
    front = pareto.pareto_trials(trials, ["maximize", "minimize", "minimize"])
    assert front and all(pareto.is_feasible(t) and t.user_attrs["metrics"]["area_mm2"] <= 3 for t in front)


def test_repeated_model_side_choices_reuse_the_proxy(tmp_path):
    path = _study_file(tmp_path, n_trials=30)
    proxy = FakeProxy()
    result = driver.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", progress=False, evaluator=_evaluator(path, proxy))
    assert proxy.runs == result.summary.proxy_evaluations < 30


def test_a_crashing_trial_fails_alone(tmp_path):
    path = _study_file(tmp_path, n_trials=10)
    result = driver.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", progress=False,
                                evaluator=_evaluator(path, FakeProxy(fail_pe="binary")))
    states = [t.state for t in result.study.trials]
    assert states.count(TrialState.COMPLETE) == 10 and TrialState.FAIL in states
    failed = [t for t in result.study.trials if t.state == TrialState.FAIL]
    assert "proxy exploded" in failed[0].user_attrs["error"]


def test_resume_reads_the_config_from_storage_and_extends_the_budget(tmp_path):
    result, url = _run(tmp_path, n_trials=5)
    path = tmp_path / "study.yaml"
    more = driver.resume_study("t", storage=url, n_trials=8, progress=False, evaluator=_evaluator(path))
    assert more.summary.complete == 8 and more.trials_run == 3
    assert more.config.space == result.config.space


def test_starting_an_existing_study_with_another_config_is_refused(tmp_path):
    _, url = _run(tmp_path, n_trials=2)
    path = _study_file(tmp_path, n_trials=2, seed=7)
    with pytest.raises(driver.StudyError, match="different config"):
        driver.start_study(path, storage=url, progress=False, evaluator=_evaluator(path))


def test_a_stale_running_trial_is_failed_and_retried(tmp_path):
    _, url = _run(tmp_path, n_trials=3, grace_period=2)
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    study = optuna.load_study(study_name="t", storage=storage)
    dead = study.ask()  # a trial whose process "died": RUNNING, never told
    dead.suggest_categorical("pe_type", ["int8", "int4", "binary"])
    storage.record_heartbeat(dead._trial_id)
    more = driver.resume_study("t", storage=url, n_trials=5, progress=False, evaluator=_evaluator(tmp_path / "study.yaml"))
    states = {t.number: t.state for t in more.study.trials}
    assert states[dead.number] == TrialState.FAIL
    assert more.summary.complete == 5 and more.summary.running == 0
    retried = [t for t in more.study.trials if t.system_attrs.get("failed_trial") == dead.number]
    assert retried and retried[0].state == TrialState.COMPLETE

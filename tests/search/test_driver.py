"""The driver's contract, with small doubles for the PPA model and proxy: budget, record, observers, failures, resume."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from coexplore import api
from coexplore.record import ERROR_ATTR, FEASIBLE, read_record
from coexplore.record.front import hypervolume_history, is_feasible, pareto_trials, study_front
from coexplore.search import driver
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.loop import optimize, state_counts
from coexplore.search.observers import ObserverGroup
from coexplore.search.study import BUDGET_ATTR, StudyError
from coexplore.search.study_config import load_study
from tests.search.doubles import LAYERS, FakeProxy, fake_ppa, workload

SPACE = {
    "hardware": {"pe_rows": {"type": "int", "low": 2, "high": 16, "step": 2},
                 "glb_kib": {"type": "int", "low": 8, "high": 256, "log": True}},
    "model": {"pe_type": ["int8", "int4", "binary"], "weight_bits": {"choices": [2, 4, 8]}},
}
OBJECTIVES = {"objectives": ["accuracy", "energy_mj", "area_mm2"], "constraints": ["area_mm2 <= 3"],
              "reference_point": {"accuracy": 0.5, "energy_mj": 1.0, "area_mm2": 10.0}}
DIRECTIONS = ["maximize", "minimize", "minimize"]


def _study_file(tmp_path: Path, **over) -> Path:
    data = {"name": "t", "dataset": "digits", "space": SPACE, "objectives": OBJECTIVES, "n_trials": 12,
            "sampler": {"name": "random"}, "tracking": False, "heartbeat_interval": 1, "hardware_search": "joint",
            **over}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _evaluator(path: Path, proxy: FakeProxy | None = None) -> TrialEvaluator:
    cfg = load_study(path)
    return TrialEvaluator(cfg.space, cfg.objectives, proxy or FakeProxy(), workload(), ppa_evaluate=fake_ppa)


def _run(tmp_path, **over):
    path = _study_file(tmp_path, **over)
    url = f"sqlite:///{tmp_path / 's.db'}"
    return api.start_study(path, storage=url, tracking=False, evaluator=_evaluator(path)), url


class Recorder:
    """An observer that writes down what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_study_start(self, study):
        self.calls.append(("start", state_counts(study)["complete"]))

    def on_trial_end(self, study, trial):
        self.calls.append(("trial", trial.number, trial.state, state_counts(study)["complete"]))

    def on_study_end(self, study):
        self.calls.append(("end", state_counts(study)["complete"]))


class Broken:
    """An observer whose every hook raises (an MLflow server gone away)."""

    def on_study_start(self, study):
        raise RuntimeError("observer down")

    def on_trial_end(self, study, trial):
        raise RuntimeError("observer down")

    def on_study_end(self, study):
        raise RuntimeError("observer down")


def test_study_stops_at_the_budget_of_complete_trials(tmp_path):
    result, _ = _run(tmp_path)
    assert result.summary.complete == 12 and result.trials_run == 12
    assert len(result.study.get_trials(states=(TrialState.COMPLETE,))) == 12


def test_every_complete_trial_carries_its_record_and_the_study_its_contract_attributes(tmp_path):
    result, _ = _run(tmp_path, n_trials=3)
    for t in result.study.get_trials(states=(TrialState.COMPLETE,)):
        rec = read_record(t)
        assert rec is not None and rec.pe_type == t.params["pe_type"] and rec.source == "sampler"
        assert t.values == rec.values == [rec.metrics[m] for m in ("accuracy", "energy_mj", "area_mm2")]
        assert set(rec.constraints) == {FEASIBLE, "area_mm2 <= 3"} and t.constraints == rec.constraints
        assert [r["name"] for r in rec.per_layer] == LAYERS and isinstance(rec.proxy_cache_hit, bool)
        assert rec.effective["pe_rows"] == t.params["pe_rows"] and len(rec.effective["weight_bits"]) == len(LAYERS)
    assert result.study.metric_names == ["accuracy", "energy_mj", "area_mm2"]
    assert {"objectives", "reference_point", "constraints", "n_trials", "config"} <= set(result.study.user_attrs)


def test_accuracy_drop_is_recorded_in_percentage_points(tmp_path):
    result, _ = _run(tmp_path, n_trials=3)
    for t in result.study.get_trials(states=(TrialState.COMPLETE,)):
        m = read_record(t).metrics
        assert m["accuracy_drop"] == pytest.approx((m["baseline_accuracy"] - m["accuracy"]) * 100)


def test_observers_are_told_of_the_start_every_trial_in_order_and_the_end(tmp_path):
    path = _study_file(tmp_path, n_trials=4)
    session = driver.open_new(path, storage=f"sqlite:///{tmp_path / 's.db'}")
    seen = Recorder()
    result = driver.run(session, _evaluator(path), [seen])
    assert result.trials_run == 4
    assert seen.calls == [("start", 0), *[("trial", i, TrialState.COMPLETE, i + 1) for i in range(4)], ("end", 4)]


def test_a_failing_observer_never_stops_the_study(tmp_path):
    path = _study_file(tmp_path, n_trials=3)
    seen = Recorder()
    result = api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False,
                             observers=[Broken(), seen], evaluator=_evaluator(path))
    assert result.summary.complete == 3 and len([c for c in seen.calls if c[0] == "trial"]) == 3


def test_the_optimize_loop_runs_to_the_stored_budget_and_counts_this_processs_trials(tmp_path):
    path = _study_file(tmp_path, n_trials=2)
    study = driver.ensure_study(load_study(path), f"sqlite:///{tmp_path / 's.db'}")
    assert optimize(study, _evaluator(path), 2, observers=ObserverGroup()) == 2
    assert optimize(study, _evaluator(path), 2) == 0, "the budget is met: no trial runs"
    study.set_user_attr(BUDGET_ATTR, 5)  # a resume elsewhere raised the budget
    assert optimize(study, _evaluator(path), 2) == 3
    assert state_counts(study)["complete"] == 5


class _LowerBudgetAfter:
    """Sets the stored budget to ``budget`` once trial ``number`` ends, as a resume elsewhere would."""

    def __init__(self, number: int, budget: int) -> None:
        self.number, self.budget = number, budget

    def on_study_start(self, study) -> None: ...
    def on_study_end(self, study) -> None: ...
    def on_interrupt(self, study) -> None: ...

    def on_trial_end(self, study, trial) -> None:
        if trial.number == self.number:
            study.set_user_attr(BUDGET_ATTR, self.budget)


def test_a_budget_changed_while_the_loop_runs_takes_effect_at_the_next_trial(tmp_path):
    path = _study_file(tmp_path, n_trials=20)
    study = driver.ensure_study(load_study(path), f"sqlite:///{tmp_path / 's.db'}")
    assert optimize(study, _evaluator(path), 20, observers=ObserverGroup([_LowerBudgetAfter(2, 4)])) == 4
    assert state_counts(study)["complete"] == 4


def test_the_summarys_hypervolume_is_that_of_the_feasible_front_of_every_trial(tmp_path):
    result, _ = _run(tmp_path)
    history = hypervolume_history(result.study.trials, DIRECTIONS, result.config.objectives.reference)
    assert len(history) == 12
    assert history[-1][1] == pytest.approx(result.summary.hypervolume) and result.summary.hypervolume > 0


def test_infeasible_designs_violate_a_constraint_and_stay_off_the_front(tmp_path):
    result, _ = _run(tmp_path, n_trials=40)
    trials = result.study.get_trials(states=(TrialState.COMPLETE,))
    infeasible = [t for t in trials if not read_record(t).feasible]
    assert infeasible, "the space has GLBs below the doubles' 20 KiB feasibility bound"
    assert all(not is_feasible(t) for t in infeasible)
    assert any(t.constraints[FEASIBLE] > 0 and read_record(t).infeasible_reason == "glb too small" for t in infeasible)
    front = pareto_trials(trials, DIRECTIONS)
    assert front and all(is_feasible(t) and read_record(t).metrics["area_mm2"] <= 3 for t in front)
    assert {t.number for t in study_front(result.study)} == {t.number for t in front}
    assert result.summary.pareto_size == len(front)


def test_repeated_model_side_choices_reuse_the_proxy(tmp_path):
    path = _study_file(tmp_path, n_trials=30)
    proxy = FakeProxy()
    result = api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False,
                             evaluator=_evaluator(path, proxy))
    assert proxy.runs == result.summary.proxy_evaluations < 30


def test_a_crashing_trial_fails_alone(tmp_path):
    path = _study_file(tmp_path, n_trials=10)
    result = api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False,
                             evaluator=_evaluator(path, FakeProxy(fail_pe="binary")))
    states = [t.state for t in result.study.trials]
    assert states.count(TrialState.COMPLETE) == 10 and TrialState.FAIL in states
    failed = [t for t in result.study.trials if t.state == TrialState.FAIL]
    assert "proxy exploded" in failed[0].user_attrs[ERROR_ATTR] and read_record(failed[0]) is None


def test_consecutive_failures_stop_the_study_with_the_last_error(tmp_path):
    path = _study_file(tmp_path, n_trials=10, max_consecutive_failures=3,
                       space={**SPACE, "model": {"pe_type": ["binary"]}})
    with pytest.raises(StudyError, match="3 trials failed in a row.*proxy exploded on binary"):
        api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False,
                        evaluator=_evaluator(path, FakeProxy(fail_pe="binary")))


def test_resume_reads_the_config_from_storage_and_extends_the_budget(tmp_path):
    result, url = _run(tmp_path, n_trials=5)
    path = tmp_path / "study.yaml"
    more = api.resume_study("t", storage=url, n_trials=8, tracking=False, evaluator=_evaluator(path))
    assert more.summary.complete == 8 and more.trials_run == 3
    assert more.config.space == result.config.space


def test_starting_an_existing_study_with_another_config_is_refused(tmp_path):
    _, url = _run(tmp_path, n_trials=2)
    path = _study_file(tmp_path, n_trials=2, seed=7)
    with pytest.raises(StudyError, match="different config"):
        api.start_study(path, storage=url, tracking=False, evaluator=_evaluator(path))


def test_a_stale_running_trial_is_failed_and_retried(tmp_path):
    _, url = _run(tmp_path, n_trials=3, grace_period=2)
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    study = optuna.load_study(study_name="t", storage=storage)
    dead = study.ask()  # a trial whose process "died": RUNNING, never told
    dead.suggest_categorical("pe_type", ["int8", "int4", "binary"])
    storage.record_heartbeat(dead._trial_id)
    more = api.resume_study("t", storage=url, n_trials=5, tracking=False, evaluator=_evaluator(tmp_path / "study.yaml"))
    states = {t.number: t.state for t in more.study.trials}
    assert states[dead.number] == TrialState.FAIL
    assert more.summary.complete == 5 and more.summary.running == 0
    retried = [t for t in more.study.trials if t.system_attrs.get("failed_trial") == dead.number]
    assert retried and retried[0].state == TrialState.COMPLETE

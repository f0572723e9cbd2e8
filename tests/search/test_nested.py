"""Nested search (``hardware_search: sweep``): the sampler (or the bound order) picks model-side
choices, the PPA model solves the hardware, and each choice's hardware front becomes trials."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import yaml

from coexplore import api
from coexplore.record import read_record
from coexplore.record.front import non_dominated_mask, study_front
from coexplore.record.trial import effective_key
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.nested import SOURCE_SWEEP, run_nested, swept_choices
from coexplore.search.objectives import parse_objectives
from coexplore.search.samplers import TPESettings, make_sampler
from coexplore.search.space import parse_space
from coexplore.search.study_config import SweepSettings, load_study
from tests.search.doubles import FakeProxy, fake_ppa, workload

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = {"hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4},
                      "glb_kib": {"type": "int", "low": 8, "high": 128, "log": True}},
         "model": {"pe_type": ["int8", "int4"], "weight_bits": {"choices": [2, 4, 8]}}}
OBJECTIVES = {"objectives": ["accuracy", "energy_mj", "area_mm2"], "constraints": ["area_mm2 <= 2"],
              "reference_point": {"accuracy": 0.5, "energy_mj": 1.0, "area_mm2": 3.0}}


def _setup(order: str = "bound", **sweep):
    space, objectives = parse_space(SPACE), parse_objectives(OBJECTIVES)
    proxy = FakeProxy()
    ev = TrialEvaluator(space, objectives, proxy, workload(), ppa_evaluate=fake_ppa)
    sampler = make_sampler(TPESettings(name="tpe"), seed=0, directions=objectives.directions,
                           reference_point=objectives.reference, canonical=space.canonical_params)
    study = optuna.create_study(directions=objectives.directions, sampler=sampler)
    return study, ev, proxy, SweepSettings(order=order, **sweep)


def _grid_front(ev: TrialEvaluator, params: dict) -> set[tuple]:
    """Brute force: every grid design of one model-side choice through the single-design path."""
    space = ev.space
    recs = []
    for rows in space.hardware["pe_rows"].grid_values():
        for glb in space.hardware["glb_kib"].grid_values():
            recs.append(ev.evaluate({"pe_rows": rows, "glb_kib": glb}, space.model_choice(params, ev.layer_names)))
    ok = [r for r in recs if r.feasible]
    vals = np.array([r.values for r in ok])
    return {tuple(v) for v, m in zip(vals, non_dominated_mask(vals, ev.objectives.directions)) if m}


@pytest.mark.parametrize("order", ["bound", "sampler"])
def test_each_swept_choice_records_exactly_its_hardware_front_as_complete_trials(order):
    study, ev, _, settings = _setup(order)
    run_nested(study, ev, 5, settings)
    for trials in swept_choices(study.trials).values():
        params = {k: v for k, v in trials[0].params.items() if k in ("pe_type", "weight_bits")}
        assert {tuple(t.values) for t in trials} == _grid_front(ev, params)
        assert all(t.state == optuna.trial.TrialState.COMPLETE and read_record(t).source == SOURCE_SWEEP
                   for t in trials)


def test_recorded_parameters_are_the_design_evaluated():
    study, ev, _, settings = _setup()
    run_nested(study, ev, 5, settings)
    for t in study.trials:
        rec = read_record(t)
        assert set(t.params) == {"pe_type", "weight_bits", "pe_rows", "glb_kib"}
        assert ev.space.canonical_params(t.params) == t.params
        assert rec.effective["pe_rows"] == t.params["pe_rows"] and rec.effective["glb_kib"] == t.params["glb_kib"]
        assert set(rec.effective["weight_bits"]) == {min(t.params["weight_bits"], 8 if t.params["pe_type"] == "int8" else 4)}


def test_n_trials_counts_model_side_choices_and_the_proxy_runs_once_per_choice():
    study, ev, proxy, settings = _setup("sampler")
    stats = run_nested(study, ev, 2, settings)
    assert len(swept_choices(study.trials)) == stats.choices_swept == 2
    assert proxy.runs == stats.proxy_evaluations == 2
    assert stats.trials_recorded == len(study.trials) >= 2


def test_every_choice_is_swept_once_and_the_search_stops_when_all_are():
    study, ev, proxy, settings = _setup("sampler")
    stats = run_nested(study, ev, 50, settings)
    assert stats.choices_swept == len(ev.space.model_params(ev.layer_names)) == 5  # int8: 2/4/8, int4: 2/4
    assert proxy.runs == 5


def test_no_duplicate_effective_designs_on_the_front():
    study, ev, _, settings = _setup("sampler")
    run_nested(study, ev, 50, settings)
    keys = [effective_key(read_record(t)) for t in study_front(study)]
    assert len(keys) == len(set(keys))


def test_a_grid_above_max_points_is_sampled_then_refined_around_its_front():
    study, ev, _, settings = _setup(max_points=10, samples=6, refine_rounds=2)
    stats = run_nested(study, ev, 1, settings)
    assert 6 <= stats.ppa_evaluations < 2 * 5 * 4  # fewer designs than the whole grid of the choices seen
    assert len(study.trials) >= 1


def test_observers_hear_only_of_trials_on_the_front_when_recorded():
    study, ev, _, settings = _setup("sampler")
    told = []

    class Obs:
        def on_study_start(self, s): ...
        def on_trial_end(self, s, t): told.append(t.number)
        def on_study_end(self, s): ...

    run_nested(study, ev, 50, settings, observers=[Obs()])
    flagged = {t.number for t in study.trials if read_record(t).extra.get("sweep_front")}
    assert set(told) == flagged and flagged


def test_bound_order_starts_from_the_most_precise_choice():
    study, ev, _, settings = _setup("bound")
    run_nested(study, ev, 1, settings)
    assert study.trials[0].params["pe_type"] == "int8" and study.trials[0].params["weight_bits"] == 8


def test_study_file_sweep_mode_runs_through_the_api_and_reports_its_counts(tmp_path):
    data = {"name": "n", "dataset": "digits", "space": SPACE, "objectives": OBJECTIVES, "n_trials": 3,
            "sampler": {"name": "random"}, "tracking": False}
    path = tmp_path / "n.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_study(path)
    assert cfg.hardware_search == "sweep"  # the default for a PE type x bits space
    ev = TrialEvaluator(cfg.space, cfg.objectives, FakeProxy(), workload(), ppa_evaluate=fake_ppa)
    result = api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False, evaluator=ev)
    text = "\n".join(result.summary.lines())
    assert "3 model-side choices swept, 3 proxy evaluations" in text and "PPA design evaluations" in text
    assert result.summary.proxy_evaluations == 3

"""Specification of the ENOS gradient search and of recording its result in an Optuna study."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from coexplore.enos import EnosConfig, front, record_trial
from coexplore.search.pareto import pareto_trials

torch.set_num_threads(1)
FAST = {"steps": 40, "warmup_steps": 5, "batch_size": 64, "arch_lr": 0.1, "lr": 3e-3}


def _choice_energy(runner, assignment):
    return runner.table.assignment_energy_j(assignment)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["single", "bilevel"])
def test_larger_energy_weight_lowers_expected_energy_and_picks_cheaper_operators(tiny_runner, mode):
    low = tiny_runner.search(EnosConfig(energy_weight=0.0, mode=mode, **FAST))
    high = tiny_runner.search(EnosConfig(energy_weight=20.0, mode=mode, **FAST))
    assert high.search.expected_energy < low.search.expected_energy
    assert _choice_energy(tiny_runner, high.assignment) <= _choice_energy(tiny_runner, low.assignment)
    assert high.cost.energy_j <= low.cost.energy_j


def test_expected_energy_trace_is_recorded_per_step(tiny_runner):
    cand = tiny_runner.search(EnosConfig(energy_weight=5.0, mode="single", steps=6, warmup_steps=2))
    hist = cand.search.history
    assert [h["step"] for h in hist] == list(range(1, 7))
    assert hist[-1]["expected_energy"] < hist[1]["expected_energy"]
    assert cand.search.probabilities.shape == (len(tiny_runner.layer_names), len(tiny_runner.choices))
    np.testing.assert_allclose(cand.search.probabilities.sum(1), 1.0, rtol=1e-5)


def test_search_rejects_an_energy_table_of_the_wrong_shape(tiny_runner):
    from coexplore.enos import enos_search

    sn = tiny_runner.supernet()
    with pytest.raises(ValueError, match="expected layers x choices"):
        enos_search(sn, tiny_runner.data.train_x, tiny_runner.data.train_y, np.ones((2, 2)), EnosConfig(steps=1),
                    num_classes=10)


def test_baseline_runs_one_operator_everywhere(tiny_runner):
    base = tiny_runner.baseline("mac@cim", steps=5)
    assert base.assignment == ["mac@cim"] * len(tiny_runner.layer_names)
    assert 0.0 <= base.accuracy <= 1.0 and base.cost.area_digital_mm2 == 0.0


def _study(objectives, storage=None):
    study = optuna.create_study(directions=[o["direction"] for o in objectives], storage=storage)
    study.set_user_attr("objectives", objectives)
    return study


def test_recorded_trial_carries_the_objectives_and_the_trial_contract(tiny_runner, tmp_path):
    objectives = [{"name": "accuracy", "direction": "maximize"}, {"name": "energy_j", "direction": "minimize"}]
    study = _study(objectives, storage=f"sqlite:///{tmp_path / 'study.db'}")
    cand = tiny_runner.baseline("binary@digital", steps=3)
    trial = record_trial(study, cand, choices=tiny_runner.choices)
    assert trial.values == [cand.accuracy, cand.cost.energy_j]
    assert trial.params == {f"op.{n}": "binary@digital" for n in tiny_runner.layer_names}
    for key in ("metrics", "pe_type", "feasible", "infeasible_reason", "per_layer", "proxy_cache_hit"):
        assert key in trial.user_attrs
    assert pareto_trials(study.trials, ["maximize", "minimize"]) == [study.trials[0]]


def test_recording_for_an_objective_enos_does_not_measure_names_the_available_metrics(tiny_runner):
    study = _study([{"name": "gops_per_mm2", "direction": "maximize"}])
    with pytest.raises(ValueError, match=r"\['gops_per_mm2'\] are not ENOS metrics; available: accuracy"):
        record_trial(study, tiny_runner.baseline("mac@cim", steps=1), choices=tiny_runner.choices)


def test_front_keeps_only_non_dominated_candidates(tiny_runner):
    cands = [tiny_runner.baseline(c, steps=3) for c in tiny_runner.choices]
    kept = front(cands)
    assert kept and all(k in cands for k in kept)
    energies = [k.cost.energy_j for k in kept]
    assert energies == sorted(energies)
    for k in kept:
        assert not any(o.accuracy >= k.accuracy and o.cost.energy_j < k.cost.energy_j for o in cands)


def test_fixed_assignment_accuracy_is_cached_across_hardware_that_does_not_change_it(tiny_runner, tmp_path):
    from coexplore.accuracy import ResultCache
    from coexplore.cim import CimMacro

    tiny_runner.cache = ResultCache(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        a = ["mac@cim", "mac@digital", "mac@cim", "binary@digital"]
        first = tiny_runner.evaluate_assignment(a, steps=3)
        more_macros = tiny_runner.evaluate_assignment(a, steps=3, cim_macro=CimMacro(n_macros=64))
        finer_adc = tiny_runner.evaluate_assignment(a, steps=3, cim_macro=CimMacro(adc_bits=7))
    finally:
        tiny_runner.cache.dispose()
        tiny_runner.cache = None
    assert not first.extra["cache_hit"] and more_macros.extra["cache_hit"] and not finer_adc.extra["cache_hit"]
    assert more_macros.accuracy == first.accuracy
    assert more_macros.cost.area_cim_mm2 > first.cost.area_cim_mm2


def test_recorded_assignment_seeds_a_sampler_over_the_same_choices(tiny_runner):
    objectives = [{"name": "accuracy", "direction": "maximize"}, {"name": "energy_j", "direction": "minimize"}]
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=1))
    study.set_user_attr("objectives", objectives)
    record_trial(study, tiny_runner.baseline("mac@cim", steps=2), choices=tiny_runner.choices)

    def cost_only(trial: optuna.Trial) -> tuple[float, float]:
        a = [trial.suggest_categorical(f"op.{n}", list(tiny_runner.choices)) for n in tiny_runner.layer_names]
        return 0.5, tiny_runner.table.assignment_energy_j(a)

    study.optimize(cost_only, n_trials=3)
    assert len(study.trials) == 4 and study.trials[0].user_attrs["source"] == "enos"
    assert all(t.distributions == study.trials[0].distributions for t in study.trials[1:])

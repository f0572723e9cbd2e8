"""Specification of the ENOS gradient search and of recording its result in an Optuna study."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from coexplore.cim import CimMacro
from coexplore.enos import EnosConfig, EnosRunner, front, record_trial
from coexplore.hardware import DesignPoint
from coexplore.record import read_record
from coexplore.record.front import pareto_trials
from tests.search.tiny_study import tiny_proxy

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
    base = tiny_runner.baseline("mac@cim")
    assert base.assignment == ["mac@cim"] * len(tiny_runner.layer_names)
    assert 0.0 <= base.accuracy <= 1.0 and base.cost.area_digital_mm2 == 0.0
    assert base.baseline_accuracy == tiny_runner.baseline_accuracy and base.macs == tiny_runner.macs > 0


def _study(objectives, storage=None, reference=None, sampler=None):
    """A study with the objectives coexplore stores on the studies it creates."""
    study = optuna.create_study(directions=[o["direction"] for o in objectives], storage=storage, sampler=sampler)
    study.set_user_attr("objectives", objectives)
    study.set_user_attr("reference_point", reference or [0.0] * len(objectives))
    return study


ACC_ENERGY = [{"name": "accuracy", "direction": "maximize"}, {"name": "energy_j", "direction": "minimize"}]


def test_recorded_trial_carries_the_objectives_and_the_trial_record(tiny_runner, tmp_path):
    study = _study(ACC_ENERGY, storage=f"sqlite:///{tmp_path / 'study.db'}")
    cand = tiny_runner.baseline("binary@digital")
    trial = record_trial(study, cand, choices=tiny_runner.choices)
    assert trial.values == [cand.accuracy, cand.cost.energy_j]
    assert trial.params == {f"op.{n}": "binary@digital" for n in tiny_runner.layer_names}
    rec = read_record(trial)
    assert rec.source == "enos" and rec.pe_type == "hybrid" and rec.feasible and trial.constraints == rec.constraints
    assert [r["choice"] for r in rec.per_layer] == cand.assignment and rec.effective["assignment"] == cand.assignment
    assert rec.proxy_cache_hit == cand.cache_hit and rec.extra["enos_label"] == cand.label
    assert pareto_trials(study.trials, ["maximize", "minimize"]) == [study.trials[0]]


def test_recorded_accuracy_drop_is_in_percentage_points(tiny_runner):
    cand = tiny_runner.baseline("mac@digital")
    trial = record_trial(_study([{"name": "accuracy_drop", "direction": "minimize"}]), cand, choices=tiny_runner.choices)
    assert trial.values == [pytest.approx((cand.baseline_accuracy - cand.accuracy) * 100)]


def test_recording_serves_every_registry_metric_as_an_objective(tiny_runner):
    objectives = [{"name": n, "direction": d} for n, d in
                  [("energy_mj", "minimize"), ("gops_per_mm2", "maximize"), ("tops_per_w", "maximize"), ("edp", "minimize")]]
    cand = tiny_runner.baseline("mac@cim")
    trial = record_trial(_study(objectives), cand, choices=tiny_runner.choices)
    e, t, a, macs = cand.cost.energy_j, cand.cost.latency_s, cand.cost.area_mm2, tiny_runner.macs
    assert trial.values == pytest.approx([e * 1e3, 2 * macs / t / 1e9 / a, 2 * macs / e / 1e12, e * t], rel=1e-9)


def test_recording_into_a_study_that_names_no_objectives_says_so(tiny_runner):
    study = optuna.create_study(directions=["maximize"])
    with pytest.raises(ValueError, match=r"user_attrs\['objectives'\] is empty"):
        record_trial(study, tiny_runner.baseline("mac@cim"), choices=tiny_runner.choices)


def test_front_keeps_only_non_dominated_candidates(tiny_runner):
    cands = [tiny_runner.baseline(c) for c in tiny_runner.choices]
    kept = front(cands)
    assert kept and all(k in cands for k in kept)
    energies = [k.cost.energy_j for k in kept]
    assert energies == sorted(energies)
    for k in kept:
        assert not any(o.accuracy >= k.accuracy and o.cost.energy_j < k.cost.energy_j for o in cands)


@pytest.fixture
def fresh_runner(proxy_dir, tiny_runner, tmp_path):
    """A runner like ``tiny_runner`` on the same checkpoint, with an empty result cache."""
    proxy = tiny_proxy(proxy_dir, cache_url=f"sqlite:///{tmp_path / 'cache.db'}")
    yield EnosRunner(proxy, DesignPoint(), CimMacro(), choices=tiny_runner.choices)
    proxy.close()


def test_fixed_assignment_accuracy_is_cached_across_hardware_that_does_not_change_it(fresh_runner):
    a = ["mac@cim", "mac@digital", "mac@cim", "binary@digital"]
    first = fresh_runner.evaluate_assignment(a)
    more_macros = fresh_runner.evaluate_assignment(a, cim_macro=CimMacro(n_macros=64))
    finer_adc = fresh_runner.evaluate_assignment(a, cim_macro=CimMacro(adc_bits=7))
    assert not first.cache_hit and more_macros.cache_hit and not finer_adc.cache_hit
    assert more_macros.accuracy == first.accuracy
    assert more_macros.cost.area_cim_mm2 > first.cost.area_cim_mm2


def test_a_fixed_assignment_is_fine_tuned_by_the_proxy_and_cached_under_its_variant_key(fresh_runner):
    a = ["binary@digital", "mac@cim", "mac@digital", "mac@cim"]
    proxy = fresh_runner.proxy
    cand = fresh_runner.evaluate_assignment(a)
    assert proxy.training_runs == 1, "one fine-tune on the stored checkpoint (no second pretraining)"
    assert proxy.cache.get(proxy.variant_key(fresh_runner.variant_choices(a))).accuracy == cand.accuracy
    again = fresh_runner.evaluate_assignment(a)
    assert again.cache_hit and again.accuracy == cand.accuracy and proxy.training_runs == 1


def test_recorded_assignment_seeds_a_sampler_over_the_same_choices(tiny_runner):
    study = _study(ACC_ENERGY, sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=1))
    record_trial(study, tiny_runner.baseline("mac@cim"), choices=tiny_runner.choices)

    def cost_only(trial: optuna.Trial) -> tuple[float, float]:
        a = [trial.suggest_categorical(f"op.{n}", list(tiny_runner.choices)) for n in tiny_runner.layer_names]
        return 0.5, tiny_runner.table.assignment_energy_j(a)

    study.optimize(cost_only, n_trials=3)
    assert len(study.trials) == 4 and read_record(study.trials[0]).source == "enos"
    assert all(t.distributions == study.trials[0].distributions for t in study.trials[1:])

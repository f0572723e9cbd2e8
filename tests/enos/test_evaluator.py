"""A hybrid trial: its metrics are hybrid_cost's, its accuracy is cached, and ENOS records the same trial record."""

from __future__ import annotations

import math

import optuna
import pytest
import torch
import yaml

from coexplore.cim import CimMacro, hybrid_cost
from coexplore.enos import EnosRunner, HybridTrialEvaluator, record_trial
from coexplore.hardware import DesignPoint
from coexplore.record import read_record
from coexplore.record.front import study_front
from coexplore.search import driver
from coexplore.search.loop import optimize
from coexplore.search.objectives import parse_objectives
from coexplore.search.operators import HybridChoice
from coexplore.search.space import parse_space
from coexplore.search.study_config import load_study
from tests.search.tiny_study import write_tiny_study

torch.set_num_threads(1)
ASSIGNMENT = ["mac@cim", "l1@cim", "mac@digital", "shift1@digital"]
OBJECTIVES = {"objectives": ["accuracy", "energy_mj", "area_mm2"], "constraints": ["area_mm2 <= 50"],
              "reference_point": {"accuracy": 0.0, "energy_mj": 1.0, "area_mm2": 50.0}}
SPACE = {"hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4}},
         "operators": {"choices": ["mac@digital", "shift1@digital", "mac@cim", "l1@cim"]},
         "cim": {"adc_bits": {"type": "int", "low": 3, "high": 6}}}


@pytest.fixture(scope="module")
def evaluator(tiny_proxy_evaluator) -> HybridTrialEvaluator:
    proxy = tiny_proxy_evaluator
    return HybridTrialEvaluator(parse_space(SPACE), parse_objectives(OBJECTIVES), proxy, proxy.workload())


def test_hybrid_trial_metrics_equal_hybrid_cost_of_its_design_and_assignment(evaluator):
    hw, cim = {"pe_rows": 8}, {"adc_bits": 4}
    out = evaluator.evaluate_hybrid(hw, HybridChoice(cim, ASSIGNMENT))
    cost = hybrid_cost(DesignPoint(**hw), CimMacro(**cim), evaluator.runner.workload, ASSIGNMENT, 8)
    assert out.metrics["energy_j"] == pytest.approx(cost.energy_j, rel=1e-12)
    assert out.metrics["latency_ms"] == pytest.approx(cost.latency_s * 1e3, rel=1e-12)
    assert out.metrics["edp"] == pytest.approx(cost.energy_j * cost.latency_s, rel=1e-12)
    assert out.metrics["area_mm2"] == pytest.approx(cost.area_mm2, rel=1e-12)
    assert out.metrics["energy_mj"] == pytest.approx(cost.energy_j * 1e3, rel=1e-12)
    assert out.metrics["area_cim_mm2"] == pytest.approx(cost.area_cim_mm2) and out.metrics["cim_layers"] == 2
    assert out.values[1:] == pytest.approx([cost.energy_j * 1e3, cost.area_mm2])


def test_hybrid_trial_records_choice_and_mode_per_layer_and_pe_type_hybrid(evaluator):
    out = evaluator.evaluate_hybrid({"pe_rows": 8}, HybridChoice({"adc_bits": 4}, ASSIGNMENT))
    assert out.pe_type == "hybrid" and out.feasible and out.infeasible_reason == ""
    assert [r["choice"] for r in out.per_layer] == ASSIGNMENT
    assert [r["mode"] for r in out.per_layer] == ["cim", "cim", "digital", "digital"]
    assert {"name", "macs", "cycles", "energy_j", "utilization", "dram_bytes", "weight_bits", "act_bits"} <= set(out.per_layer[0])
    assert 0.0 <= out.metrics["accuracy"] <= 1.0
    assert out.metrics["accuracy_drop"] == pytest.approx((out.metrics["baseline_accuracy"] - out.metrics["accuracy"]) * 100)


def test_changing_only_digital_sizing_reuses_the_cached_accuracy(evaluator):
    first = evaluator.evaluate_hybrid({"pe_rows": 12}, HybridChoice({"adc_bits": 5}, ["mac@cim"] * 4))
    again = evaluator.evaluate_hybrid({"pe_rows": 16}, HybridChoice({"adc_bits": 5}, ["mac@cim"] * 4))
    assert again.proxy_cache_hit and again.metrics["accuracy"] == first.metrics["accuracy"]


def test_an_invalid_design_is_infeasible_not_an_error(evaluator):
    out = evaluator.evaluate_hybrid({"pe_rows": 8}, HybridChoice({"adc_bits": 4, "rows": 1}, ASSIGNMENT))
    assert not out.feasible and out.infeasible_reason.startswith("invalid design: rows")
    assert all(math.isfinite(v) for v in out.values)


def test_optuna_objective_writes_the_trial_record(evaluator):
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(evaluator, n_trials=1)
    trial = study.trials[0]
    rec = read_record(trial)
    assert rec.pe_type == "hybrid" and rec.source == "sampler" and trial.values == rec.values
    assert trial.constraints == rec.constraints
    assert {f"op.{l}" for l in evaluator.layer_names} <= set(trial.params)
    assert [r["choice"] for r in rec.per_layer] == [trial.params[f"op.{l}"] for l in evaluator.layer_names]
    assert rec.effective["assignment"] == [trial.params[f"op.{l}"] for l in evaluator.layer_names]


def test_for_the_same_assignment_enos_and_the_driver_record_identical_metrics(evaluator, tmp_path):
    path = write_tiny_study(tmp_path, name="same", n_trials=1)
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "space": SPACE, "objectives": OBJECTIVES}, sort_keys=False))
    cfg = load_study(path)
    study = driver.ensure_study(cfg, f"sqlite:///{tmp_path / 's.db'}")
    hardware = {"pe_rows": 8, "cim.adc_bits": 4}
    layers = evaluator.layer_names

    # the driver: the study's loop runs its hybrid evaluator on the enqueued parameters
    study.enqueue_trial({**hardware, **{f"op.{l}": a for l, a in zip(layers, ASSIGNMENT)}})
    optimize(study, evaluator, 1)
    by_driver = study.trials[0]

    # ENOS: its own runner on the same proxy and design, recorded with record_trial
    runner = EnosRunner(evaluator.proxy, DesignPoint(pe_rows=8), CimMacro(adc_bits=4),
                        choices=cfg.space.operators.choices, bits=cfg.space.operators.bits)
    by_enos = record_trial(study, runner.evaluate_assignment(ASSIGNMENT, "enos"), choices=runner.choices,
                           extra_params=hardware,
                           extra_distributions={k: by_driver.distributions[k] for k in hardware})

    driver_rec, enos_rec = read_record(by_driver), read_record(by_enos)
    assert (driver_rec.source, enos_rec.source) == ("sampler", "enos")
    assert enos_rec.metrics == driver_rec.metrics
    assert enos_rec.values == driver_rec.values and by_enos.values == by_driver.values
    assert enos_rec.constraints == driver_rec.constraints and enos_rec.per_layer == driver_rec.per_layer
    assert enos_rec.effective == driver_rec.effective
    assert [t.number for t in study_front(study)] == [by_driver.number], "one design: one front entry"

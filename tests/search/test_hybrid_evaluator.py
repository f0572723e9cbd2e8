"""A hybrid trial: its metrics are hybrid_cost's, its accuracy is cached, its user_attrs follow the contract."""

from __future__ import annotations

import math

import optuna
import pytest
import torch

from coexplore.accuracy import ProxyConfig, ProxyEvaluator
from coexplore.cim import CimMacro, hybrid_cost
from coexplore.hardware import DesignPoint
from coexplore.search.hybrid import HybridTrialEvaluator
from coexplore.search.objectives import parse_objectives
from coexplore.search.operators import HybridChoice
from coexplore.search.space import parse_space

torch.set_num_threads(1)
ASSIGNMENT = ["mac@cim", "l1@cim", "mac@digital", "shift1@digital"]
OBJECTIVES = {"objectives": ["accuracy", "energy_mj", "area_mm2"], "constraints": ["area_mm2 <= 50"],
              "reference_point": {"accuracy": 0.0, "energy_mj": 1.0, "area_mm2": 50.0}}
SPACE = {"hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4}},
         "operators": {"choices": ["mac@digital", "shift1@digital", "mac@cim", "l1@cim"]},
         "cim": {"adc_bits": {"type": "int", "low": 3, "high": 6}}}


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory) -> HybridTrialEvaluator:
    folder = tmp_path_factory.mktemp("hybrid")
    proxy = ProxyEvaluator(ProxyConfig(pretrain_epochs=2, finetune_steps=3, threads=1), cache_dir=folder,
                           cache_url=f"sqlite:///{folder / 'cache.db'}")
    return HybridTrialEvaluator(parse_space(SPACE), parse_objectives(OBJECTIVES), proxy, proxy.workload())


def test_hybrid_trial_metrics_equal_hybrid_cost_of_its_design_and_assignment(evaluator):
    hw, cim = {"pe_rows": 8}, {"adc_bits": 4}
    out = evaluator.evaluate_hybrid(hw, HybridChoice(cim, ASSIGNMENT))
    cost = hybrid_cost(DesignPoint(**hw), CimMacro(**cim), evaluator.runner.workload, ASSIGNMENT, 8)
    assert out.metrics["energy_j"] == pytest.approx(cost.energy_j, rel=1e-12)
    assert out.metrics["latency_s"] == pytest.approx(cost.latency_s, rel=1e-12)
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


def test_changing_only_digital_sizing_reuses_the_cached_accuracy(evaluator):
    first = evaluator.evaluate_hybrid({"pe_rows": 12}, HybridChoice({"adc_bits": 5}, ["mac@cim"] * 4))
    again = evaluator.evaluate_hybrid({"pe_rows": 16}, HybridChoice({"adc_bits": 5}, ["mac@cim"] * 4))
    assert again.proxy_cache_hit and again.metrics["accuracy"] == first.metrics["accuracy"]


def test_an_invalid_design_is_infeasible_not_an_error(evaluator):
    out = evaluator.evaluate_hybrid({"pe_rows": 8}, HybridChoice({"adc_bits": 4, "rows": 1}, ASSIGNMENT))
    assert not out.feasible and out.infeasible_reason.startswith("invalid design: rows")
    assert all(math.isfinite(v) for v in out.values)


def test_optuna_objective_sets_the_observer_contract_user_attrs(evaluator):
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(evaluator, n_trials=1)
    trial = study.trials[0]
    assert {"metrics", "pe_type", "feasible", "infeasible_reason", "per_layer", "proxy_cache_hit"} <= set(trial.user_attrs)
    assert {f"op.{l}" for l in evaluator.layer_names} <= set(trial.params)
    assert [r["choice"] for r in trial.user_attrs["per_layer"]] == [trial.params[f"op.{l}"] for l in evaluator.layer_names]

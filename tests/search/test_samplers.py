"""Samplers: each name builds its Optuna sampler, proposes inside the space of a real study, and
constraints reach the model-based ones."""

from __future__ import annotations

import math

import optuna
import pytest
import torch
from pydantic import TypeAdapter

from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.objectives import parse_objectives
from coexplore.search.samplers import SAMPLERS, LeanQLogNEHVI, SamplerConfig, make_sampler
from coexplore.search.space import parse_space
from tests.search.doubles import FakeProxy, fake_ppa, workload

optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)  # as the driver does for the GP samplers: small GPs run fastest on one thread
SAMPLER_CLASSES = {"botorch": "BoTorchSampler", "gp": "GPSampler", "nsga2": "NSGAIISampler",
                   "tpe": "TPESampler", "random": "RandomSampler"}
SPACE = {"hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4},
                      "glb_kib": {"type": "int", "low": 8, "high": 128, "log": True},
                      "dram_gbps": {"type": "categorical", "choices": [6.4, 25.6]}},
         "model": {"pe_type": ["int8", "int4"], "weight_bits": {"choices": [4, 8]}}}
OBJECTIVES = {"objectives": ["accuracy", "energy_mj"], "constraints": ["area_mm2 <= 2"],
              "reference_point": {"accuracy": 0.5, "energy_mj": 1.0}}
STARTUP = 3
"""Startup trials of the model-based samplers in these tests: the trials after them are the model's."""


def _settings(name: str, **over):
    extra = {"n_startup_trials": STARTUP} if name in ("botorch", "gp", "tpe") else {}
    extra.update({"population_size": STARTUP} if name == "nsga2" else {})
    return TypeAdapter(SamplerConfig).validate_python({"name": name, **extra, **over})


def _study(name: str, **over) -> tuple[optuna.Study, TrialEvaluator]:
    """A study over :data:`SPACE` with the sampler ``name``; its evaluator is the real trial path
    on the small PPA and proxy doubles (a trial costs milliseconds)."""
    objectives = parse_objectives(OBJECTIVES)
    sampler = make_sampler(_settings(name, **over), seed=0, directions=objectives.directions,
                           reference_point=objectives.reference)
    evaluator = TrialEvaluator(parse_space(SPACE), objectives, FakeProxy(), workload(), ppa_evaluate=fake_ppa)
    return optuna.create_study(directions=objectives.directions, sampler=sampler), evaluator


def _in_space(params: dict) -> bool:
    hw = SPACE["hardware"]
    rows, glb = params["pe_rows"], params["glb_kib"]
    return (hw["pe_rows"]["low"] <= rows <= hw["pe_rows"]["high"] and (rows - hw["pe_rows"]["low"]) % 4 == 0
            and hw["glb_kib"]["low"] <= glb <= hw["glb_kib"]["high"] and glb == int(glb)
            and params["dram_gbps"] in hw["dram_gbps"]["choices"]
            and params["pe_type"] in SPACE["model"]["pe_type"]
            and params.get("weight_bits", 4) in SPACE["model"]["weight_bits"]["choices"])


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_name_builds_its_optuna_sampler(name):
    sampler = make_sampler(_settings(name), seed=0, directions=["maximize", "minimize"], reference_point=[0.0, 1.0])
    assert type(sampler).__name__ == SAMPLER_CLASSES[name]


def test_an_unknown_sampler_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown sampler 'cmaes'"):
        make_sampler(type("S", (), {"name": "cmaes"})(), seed=0, directions=["minimize"], reference_point=[1.0])


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_proposes_inside_the_space_after_its_startup_trials(name):
    study, evaluator = _study(name)
    study.optimize(evaluator, n_trials=STARTUP + 2)  # a proposal outside a distribution fails its trial
    trials = study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * (STARTUP + 2)
    assert all(_in_space(t.params) for t in trials), [t.params for t in trials if not _in_space(t.params)]


def test_a_botorch_study_hands_every_trials_constraints_to_the_acquisition(monkeypatch):
    calls = []

    def spy(self, train_x, train_obj, train_con, bounds, pending_x):
        calls.append((train_obj.clone(), None if train_con is None else train_con.clone()))
        return bounds.mean(0, keepdim=True)  # the middle of the space: no GP fitted here

    monkeypatch.setattr(LeanQLogNEHVI, "__call__", spy)
    study, evaluator = _study("botorch", consider_running_trials=False)
    study.optimize(evaluator, n_trials=STARTUP + 2)
    assert len(calls) == 2, "every trial after the startup ones asks the acquisition"
    for i, (obj, con) in enumerate(calls):
        done = study.trials[: STARTUP + i]
        assert con is not None and con.shape == (len(done), 2)
        for column in con.T.tolist():  # each column is one constraint of every finished trial, in order
            assert any(column == pytest.approx([t.constraints[k] for t in done]) for k in done[0].constraints)
        assert obj.shape == (len(done), 2)
    assert any(not all(c <= 0 for c in t.constraints.values()) for t in study.trials), \
        "the space has infeasible designs (GLBs below the doubles' 20 KiB), so the check above can fail"


@pytest.mark.slow
def test_the_lean_acquisition_proposes_in_the_feasible_region_where_the_unconstrained_optimum_is_not():
    torch.manual_seed(0)
    x = torch.rand(16, 2, dtype=torch.float64) * 4 + 1
    obj = x.clone()  # maximize both coordinates: the unconstrained optimum is the corner (5, 5)
    con = x[:, :1] - 3.0  # feasible iff x0 <= 3
    bounds = torch.tensor([[1.0, 1.0], [5.0, 5.0]], dtype=torch.float64)
    # no time caps here: on a loaded machine the default caps (1.5 s) would cut the fit short
    acquisition = LeanQLogNEHVI([1.0, 1.0], _settings("botorch", fit_timeout_s=120, acq_timeout_s=120))
    constrained = acquisition(x, obj, con, bounds, None)
    free = acquisition(x, obj, None, bounds, None)
    assert constrained.shape == free.shape == (1, 2)
    assert constrained[0, 0] <= 3.0 + 0.05 and constrained[0, 1] > 4.5
    assert free[0, 0] > 4.0, "without the constraint the same data lead elsewhere"
    assert all(math.isfinite(v) for v in constrained[0].tolist())


def test_each_sampler_is_one_settings_class_that_builds_it():
    from coexplore.search.samplers import _SETTINGS

    assert SAMPLERS == tuple(c.model_fields["name"].annotation.__args__[0] for c in _SETTINGS)
    assert all("build" in vars(c) for c in _SETTINGS)


@pytest.mark.parametrize("name", ["random", "tpe", "nsga2"])
def test_a_canonical_sampler_proposes_one_point_per_design(name):
    space = parse_space(SPACE)
    objectives = parse_objectives(OBJECTIVES)
    sampler = make_sampler(_settings(name), seed=0, directions=objectives.directions,
                           reference_point=objectives.reference, canonical=space.canonical_params)
    study = optuna.create_study(directions=objectives.directions, sampler=sampler)
    study.optimize(TrialEvaluator(space, objectives, FakeProxy(), workload(), ppa_evaluate=fake_ppa), n_trials=25)
    assert all(space.canonical_params(t.params) == t.params for t in study.trials)
    assert not any(t.params["pe_type"] == "int4" and t.params["weight_bits"] == 8 for t in study.trials)


def test_botorch_models_every_parameter_bits_included(monkeypatch):
    seen = []

    def spy(self, train_x, train_obj, train_con, bounds, pending_x):
        seen.append(train_x.shape[-1])
        return bounds.mean(0, keepdim=True)

    monkeypatch.setattr(LeanQLogNEHVI, "__call__", spy)
    space = parse_space(SPACE)
    objectives = parse_objectives(OBJECTIVES)
    sampler = make_sampler(_settings("botorch"), seed=0, directions=objectives.directions,
                           reference_point=objectives.reference, canonical=space.canonical_params)
    study = optuna.create_study(directions=objectives.directions, sampler=sampler)
    study.optimize(TrialEvaluator(space, objectives, FakeProxy(), workload(), ppa_evaluate=fake_ppa),
                   n_trials=STARTUP + 2)
    # pe_rows, glb_kib, dram_gbps (2 one-hot), pe_type (2 one-hot), weight_bits (2 one-hot): no parameter left out
    assert seen and set(seen) == {8}

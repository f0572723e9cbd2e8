"""Hybrid digital + CIM spaces: operator x mode choices per layer/group/network and CIM macro axes."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.cim import CHOICES
from coexplore.search.configio import ConfigError
from coexplore.search.operators import suggest_hybrid
from coexplore.search.space import load_space, parse_space
from coexplore.search.study_config import load_study

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["features.0", "features.3", "features.7", "classifier"]


def _hybrid(**operators):
    return parse_space({
        "hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4}},
        "operators": {"choices": ["mac@digital", "mac@cim", "l1@cim"], **operators},
        "cim": {"adc_bits": {"type": "int", "low": 3, "high": 6}},
        "cim_fixed": {"bit_serial": True},
    })


def _errors(data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_space(data, "space", "enos.yaml")
    return info.value.lines


def test_unknown_operator_choice_names_its_yaml_path_and_the_allowed_choices():
    lines = _errors({"operators": {"choices": ["mac@digital", "mult@cim"]}})
    assert len(lines) == 1
    assert lines[0].startswith("enos.yaml: space.operators.choices.1: unknown operator choice 'mult@cim'")
    assert all(name in lines[0] for name in CHOICES)


def test_unknown_cim_parameter_names_its_path_and_the_macro_fields():
    (line,) = _errors({"operators": {"choices": ["mac@cim"]}, "cim": {"adcs": {"type": "int", "low": 3, "high": 5}}})
    assert line.startswith("enos.yaml: space.cim.adcs: unknown CIM macro parameter; allowed: rows, cols")


def test_out_of_range_cim_values_are_reported_per_bound_and_per_fixed_field():
    lines = _errors({"operators": {"choices": ["mac@cim"]}, "cim": {"adc_bits": {"type": "int", "low": 3, "high": 20}},
                     "cim_fixed": {"rows": 1}})
    assert any(l.startswith("enos.yaml: space.cim.adc_bits.high: 20:") for l in lines)
    assert any(l.startswith("enos.yaml: space.cim_fixed.rows: 1:") for l in lines)


def test_model_and_operators_sections_exclude_each_other():
    (line,) = _errors({"model": {"pe_type": ["int8"]}, "operators": {"choices": ["mac@cim"]}})
    assert "model and operators exclude each other" in line


def test_a_space_needs_a_model_or_an_operators_section():
    (line,) = _errors({"hardware": {}})
    assert "give a model section" in line and "operators" in line


def test_cim_axes_without_operators_are_rejected():
    (line,) = _errors({"model": {"pe_type": ["int8"]}, "cim_fixed": {"rows": 64}})
    assert line.startswith("enos.yaml: space.cim_fixed: CIM macro axes need an operators section")


def test_per_group_operators_need_groups():
    (line,) = _errors({"operators": {"choices": ["mac@cim"], "per": "group"}})
    assert "space.operators" in line and "no groups" in line


def test_per_layer_operators_are_one_categorical_param_per_layer_named_op_dot_layer():
    space = _hybrid(per="layer")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    hw, choice = suggest_hybrid(space, trial, LAYERS)
    assert set(trial.params) == {"pe_rows", "cim.adc_bits", *(f"op.{l}" for l in LAYERS)}
    assert choice.assignment == [trial.params[f"op.{l}"] for l in LAYERS]
    assert choice.cim == {"bit_serial": True, "adc_bits": trial.params["cim.adc_bits"]} and set(hw) == {"pe_rows"}


def test_per_group_operators_give_every_layer_of_a_group_the_same_choice():
    space = _hybrid(per="group", groups={"convs": ["features.*"], "head": ["*"]})
    trial = optuna.trial.FixedTrial({"pe_rows": 8, "cim.adc_bits": 4, "op.convs": "l1@cim", "op.head": "mac@digital"})
    _, choice = suggest_hybrid(space, trial, LAYERS)
    assert choice.assignment == ["l1@cim"] * 3 + ["mac@digital"]


def test_per_network_operators_are_one_param_for_all_layers():
    trial = optuna.trial.FixedTrial({"pe_rows": 8, "cim.adc_bits": 4, "op": "mac@cim"})
    _, choice = suggest_hybrid(_hybrid(per="network"), trial, LAYERS)
    assert choice.assignment == ["mac@cim"] * 4


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["mac@digital", "mac@cim", "l1@cim"]), min_size=4, max_size=4))
def test_projecting_an_assignment_onto_groups_picks_a_choice_that_a_member_layer_had(assignment):
    space = _hybrid(per="group", groups={"convs": ["features.*"], "head": ["*"]})
    params = space.operators.params_for(assignment, LAYERS)
    assert params["op.head"] == assignment[3] and params["op.convs"] in assignment[:3]
    assert space.operators.params_for(assignment, LAYERS) == params
    assert _hybrid(per="layer").operators.params_for(assignment, LAYERS) == {f"op.{l}": a for l, a in zip(LAYERS, assignment)}


def test_hybrid_space_has_no_pe_type_grid():
    with pytest.raises(ValueError, match="hybrid"):
        _hybrid().hardware_grid()


def test_shipped_enos_space_and_study_validate():
    space = load_space(ROOT / "spaces" / "enos.yaml")
    assert space.hybrid and set(space.operators.choices) <= set(CHOICES)
    cfg = load_study(ROOT / "studies" / "enos-digits.yaml")
    assert cfg.space == space and cfg.dataset == "digits"

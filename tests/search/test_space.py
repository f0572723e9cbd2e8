"""Search spaces: grids, random samples and Optuna suggestions follow the space file."""

from __future__ import annotations

import itertools
from pathlib import Path

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.hardware.design import DesignBatch
from coexplore.hardware.pe import native_bits
from coexplore.search.configio import ConfigError
from coexplore.search.space import load_space, parse_space

ROOT = Path(__file__).resolve().parents[2]


def _space(**model):
    return parse_space({
        "hardware": {"pe_rows": {"type": "int", "low": 4, "high": 12, "step": 4},
                     "glb_kib": {"type": "int", "low": 16, "high": 100, "log": True},
                     "dram_gbps": {"type": "categorical", "choices": [6.4, 25.6]}},
        "fixed": {"clock_mhz": 250},
        "model": {"pe_type": ["int8", "binary"], **model},
    })


def test_grid_is_every_combination_of_axes_and_pe_types():
    space = _space()
    cols = space.hardware_grid()
    rows = set(zip(cols["pe_type"], cols["pe_rows"], cols["glb_kib"], cols["dram_gbps"]))
    expected = set(itertools.product(["int8", "binary"], [4, 8, 12], [16, 32, 64, 100], [6.4, 25.6]))
    assert rows == expected and len(cols["pe_type"]) == space.grid_size() == len(expected)


def test_grid_columns_build_a_design_batch_with_fixed_and_native_fields():
    cols = _space().hardware_grid()
    batch = DesignBatch.from_columns(cols)
    p = batch.point(len(batch) - 1)
    assert p.clock_mhz == 250 and (p.weight_bits, p.act_bits) == native_bits(p.pe_type)


@given(n=st.integers(0, 50), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_random_samples_stay_inside_the_declared_ranges(n, seed):
    cols = _space().sample_hardware(n, seed)
    assert len(cols["pe_type"]) == n
    assert all(v in (4, 8, 12) for v in cols["pe_rows"])
    assert all(16 <= v <= 100 for v in cols["glb_kib"])
    assert all(v in (6.4, 25.6) for v in cols["dram_gbps"])


def test_same_seed_gives_same_samples():
    s = _space()
    assert s.sample_hardware(20, 3) == s.sample_hardware(20, 3)


def test_shipped_quidam_space_has_the_seed_papers_axes():
    space = load_space(ROOT / "spaces" / "quidam.yaml")
    assert {"pe_rows", "pe_cols", "ifmap_spad", "filter_spad", "psum_spad", "glb_kib", "dram_gbps"} <= set(space.hardware)
    assert {"int16", "int8", "lightpe1", "lightpe2", "binary"} <= set(space.model.pe_type)
    assert space.grid_size() == len(space.hardware_grid()["pe_type"]) > 10_000


def test_binary_pe_runs_its_native_bits_whatever_its_bits_parameters():
    space = _space(weight_bits={"choices": [2, 4, 8]}, act_bits={"choices": [4, 8]})
    trial = optuna.trial.FixedTrial({"pe_type": "binary", "pe_rows": 4, "glb_kib": 16, "dram_gbps": 6.4,
                                     "weight_bits": 8, "act_bits": 8})
    hw, choice = space.suggest(trial, ["a", "b"])
    assert (choice.weight_bits, choice.act_bits) == native_bits("binary")
    assert hw == {"clock_mhz": 250, "pe_rows": 4, "glb_kib": 16, "dram_gbps": 6.4}


def test_every_trial_carries_every_bits_parameter_so_samplers_model_them_all():
    space = _space(weight_bits={"choices": [2, 4, 8]}, act_bits={"choices": [4, 8]})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(8):
        trial = study.ask()
        space.suggest(trial, ["a"])
        study.tell(trial, 0.0)
    assert all({"pe_type", "weight_bits", "act_bits"} <= set(t.params) for t in study.trials)
    assert {"weight_bits", "act_bits"} <= set(optuna.search_space.intersection_search_space(study.trials))


def test_canonical_params_make_equal_designs_one_point():
    space = parse_space({"model": {"pe_type": ["int8", "int4", "lightpe1"], "weight_bits": {"choices": [2, 4, 8]},
                                   "act_bits": {"choices": [4, 8]}}})
    assert space.canonical_params({"pe_type": "int4", "weight_bits": 8, "act_bits": 8}) == \
        {"pe_type": "int4", "weight_bits": 4, "act_bits": 4}
    assert space.canonical_params({"pe_type": "lightpe1", "weight_bits": 2, "act_bits": 8}) == \
        {"pe_type": "lightpe1", "weight_bits": 4, "act_bits": 8}  # lightpe1's weights are its own: 4 bits
    assert space.allowed_bits("int4", "weight_bits") == (2, 4)


def test_model_params_enumerate_each_effective_choice_once():
    space = load_space(ROOT / "spaces" / "quickstart.yaml")
    params = space.model_params(["a", "b"])
    choices = [space.model_choice(p, ["a", "b"]) for p in params]
    assert len(params) == 12 and all(space.canonical_params(p) == p for p in params)
    assert len({c.model_dump_json() for c in choices}) == len(choices)


def test_layers_pinned_by_pin_first_last_get_no_bits_parameter():
    space = parse_space({"model": {"pe_type": ["int8"], "weight_bits": {"choices": [4, 8], "per": "layer"},
                                   "pin_first_last": 8}})
    assert list(space.model_distributions(["first", "mid", "last"])) == ["pe_type", "weight_bits.mid"]


def test_bits_above_the_native_width_are_clipped():
    space = parse_space({"model": {"pe_type": ["int4"], "weight_bits": {"choices": [2, 8]}}})
    _, choice = space.suggest(optuna.trial.FixedTrial({"pe_type": "int4", "weight_bits": 8}), ["a"])
    assert choice.weight_bits == 4


def test_group_bits_apply_to_the_layers_matching_the_group():
    space = parse_space({"model": {"pe_type": ["int8"], "groups": {"head": ["fc*"], "body": ["*"]},
                                   "weight_bits": {"choices": [2, 4, 8], "per": "group"}}})
    trial = optuna.trial.FixedTrial({"pe_type": "int8", "weight_bits.head": 8, "weight_bits.body": 2})
    _, choice = space.suggest(trial, ["conv1", "conv2", "fc"])
    assert choice.layer_weight_bits == {"conv1": 2, "conv2": 2, "fc": 8}


def test_per_layer_bits_make_one_parameter_per_layer():
    space = parse_space({"model": {"pe_type": ["int8"], "weight_bits": {"choices": [4, 8], "per": "layer"}}})
    study = optuna.create_study()
    trial = study.ask()
    space.suggest(trial, ["l1", "l2", "l3"])
    assert {"weight_bits.l1", "weight_bits.l2", "weight_bits.l3"} <= set(trial.params)


def test_values_outside_design_point_limits_are_reported_with_their_path():
    with pytest.raises(ConfigError) as exc:
        parse_space({"hardware": {"pe_rows": {"type": "int", "low": 4, "high": 4096}}, "model": {"pe_type": ["int8"]}})
    assert exc.value.lines[0].startswith("hardware.pe_rows.high: 4096")


def test_axis_errors_name_the_axis_without_union_tags_or_pydantic_prefixes():
    with pytest.raises(ConfigError) as exc:
        parse_space({"hardware": {"pe_rows": {"type": "int", "low": 8, "high": 4}}, "model": {"pe_type": ["int8"]}},
                    "space", "s.yaml")
    assert exc.value.lines == ["s.yaml: space.hardware.pe_rows: empty range: high (4) must be >= low (8)"]


def test_a_stepped_log_axis_is_refused():
    with pytest.raises(ConfigError, match="log: true cannot be combined with step"):
        parse_space({"hardware": {"dram_gbps": {"type": "float", "low": 1.0, "high": 8.0, "log": True, "step": 0.5}},
                     "model": {"pe_type": ["int8"]}})

"""Specification of hybrid digital + CIM costs: per-layer choices, totals, area."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.cim import CimMacro, load_cim_technology
from coexplore.cim.choices import CHOICES, DEFAULT_CHOICES
from coexplore.cim.hybrid import hybrid_cost, operator_cost_table
from coexplore.hardware import DesignPoint
from coexplore.workload import Layer, Workload

TECH = load_cim_technology()
DIGITS = Workload("digits", (
    Layer("features.0", c=1, k=32, h=8, w=8, r=3, s=3, padding=1),
    Layer("features.3", c=32, k=32, h=8, w=8, r=3, s=3, padding=1),
    Layer("features.7", c=32, k=64, h=4, w=4, r=3, s=3, padding=1),
    Layer("classifier", kind="linear", c=64, k=10),
))
BIG_CONV = Workload("big", (Layer("conv", c=256, k=256, h=28, w=28, r=3, s=3, padding=1),))


def test_cim_layer_is_cheaper_than_the_int8_digital_layer_it_replaces_when_it_fits():
    table = operator_cost_table(DesignPoint(pe_type="int8"), CimMacro(), DIGITS, choices=["mac@digital", "mac@cim"],
                                cim_tech=TECH)
    layer = DIGITS.layer_names.index("features.3")
    assert table.energy_j[layer, 1] < table.energy_j[layer, 0]


def test_cim_layer_is_costlier_than_int8_digital_when_weight_reloading_dominates():
    macro = CimMacro()
    table = operator_cost_table(DesignPoint(pe_type="int8"), macro, BIG_CONV, choices=["mac@digital", "mac@cim"],
                                cim_tech=TECH)
    hc = hybrid_cost(DesignPoint(), macro, BIG_CONV, ["mac@cim"], cim_tech=TECH)
    assert not hc.cim_resident[0]
    assert table.energy_j[0, 1] > table.energy_j[0, 0]


@settings(max_examples=15, deadline=None)
@given(assignment=st.lists(st.sampled_from(sorted(CHOICES)), min_size=4, max_size=4),
       bits=st.sampled_from([4, 8]))
def test_hybrid_totals_are_the_sum_over_the_assignment(assignment, bits):
    macro = CimMacro(n_macros=64)  # room for every digits layer at once: the table's residency holds
    hc = hybrid_cost(DesignPoint(), macro, DIGITS, assignment, bits, cim_tech=TECH)
    assert hc.energy_j == pytest.approx(hc.layer_energy_j.sum())
    assert hc.latency_s == pytest.approx(hc.layer_latency_s.sum())
    assert hc.area_mm2 == pytest.approx(hc.area_digital_mm2 + hc.area_cim_mm2)
    table = operator_cost_table(DesignPoint(), macro, DIGITS, choices=sorted(CHOICES), bits=bits, cim_tech=TECH)
    assert hc.energy_j == pytest.approx(table.assignment_energy_j(assignment))


def test_hybrid_area_counts_both_sides_only_when_each_is_used():
    all_digital = hybrid_cost(DesignPoint(), CimMacro(), DIGITS, ["mac@digital"] * 4, cim_tech=TECH)
    mixed = hybrid_cost(DesignPoint(), CimMacro(), DIGITS, ["mac@digital", "l1@cim", "l1@cim", "mac@digital"],
                        cim_tech=TECH)
    assert all_digital.area_cim_mm2 == 0.0 and all_digital.area_digital_mm2 > 0
    assert mixed.area_mm2 == pytest.approx(all_digital.area_mm2 + CimMacro().area_mm2(TECH))


def test_table_judges_layers_alone_but_hybrid_shares_macros():
    macro = CimMacro(n_macros=5)
    table = operator_cost_table(DesignPoint(), macro, DIGITS, choices=["mac@cim"], cim_tech=TECH)
    hc = hybrid_cost(DesignPoint(), macro, DIGITS, ["mac@cim"] * 4, cim_tech=TECH)
    assert hc.energy_j > table.assignment_energy_j(["mac@cim"] * 4)


def test_cim_layers_share_the_macros_in_layer_order():
    # Tiles at 8 bits: features.0 1, features.3 5, features.7 10, classifier 1.
    macro = CimMacro(n_macros=7)
    hc = hybrid_cost(DesignPoint(), macro, DIGITS, ["mac@cim"] * 4, cim_tech=TECH)
    assert hc.cim_resident.tolist() == [True, True, False, True]


def test_per_layer_records_follow_the_trial_contract():
    hc = hybrid_cost(DesignPoint(), CimMacro(), DIGITS, list(DEFAULT_CHOICES[:4]), cim_tech=TECH)
    for rec in hc.per_layer:
        assert {"name", "macs", "cycles", "energy_j", "utilization", "dram_bytes", "weight_bits",
                "act_bits", "choice", "mode"} <= set(rec)
    assert [r["name"] for r in hc.per_layer] == DIGITS.layer_names


def test_assignment_by_layer_name_equals_assignment_in_order():
    order = ["binary@digital", "l1@cim", "shift1@digital", "mac@cim"]
    by_name = dict(zip(DIGITS.layer_names, order))
    a = hybrid_cost(DesignPoint(), CimMacro(), DIGITS, order, cim_tech=TECH)
    b = hybrid_cost(DesignPoint(), CimMacro(), DIGITS, by_name, cim_tech=TECH)
    np.testing.assert_allclose(a.layer_energy_j, b.layer_energy_j)


def test_unknown_choice_names_its_position_and_the_allowed_choices():
    with pytest.raises(ValueError, match=r"assignment\[2\]: unknown operator choice 'fft@cim'; allowed: mac@digital"):
        hybrid_cost(DesignPoint(), CimMacro(), DIGITS, ["mac@digital", "l1@cim", "fft@cim", "mac@cim"])


def test_binary_digital_runs_at_one_bit_whatever_the_plan():
    hc = hybrid_cost(DesignPoint(), CimMacro(), DIGITS, ["binary@digital"] * 4, bits=8, cim_tech=TECH)
    assert hc.layer_weight_bits.tolist() == [1, 1, 1, 1] and hc.layer_act_bits.tolist() == [1, 1, 1, 1]


def test_a_layer_that_does_not_map_on_the_digital_array_is_named_and_moving_it_to_cim_fixes_it():
    # A 1-word ifmap scratchpad cannot hold a row of a 3x3 filter (row stationary needs S values).
    tiny_spads = DesignPoint(pe_type="int8", ifmap_spad=1, filter_spad=1, psum_spad=1)
    wl = Workload("mixed", (Layer("small", kind="linear", c=4, k=4), BIG_CONV.layers[0]))
    all_digital = hybrid_cost(tiny_spads, CimMacro(), wl, ["mac@digital", "mac@digital"], cim_tech=TECH)
    assert not all_digital.feasible
    assert all_digital.infeasible_reason.startswith("layer conv on the int8 array:")
    assert hybrid_cost(tiny_spads, CimMacro(), wl, ["mac@digital", "mac@cim"], cim_tech=TECH).feasible


def test_digital_layer_feasibility_matches_each_layer_evaluated_alone():
    import numpy as np

    from coexplore.cim.hybrid import digital_layer_costs
    from coexplore.hardware import DesignBatch, DesignPoint
    from coexplore.ppa import evaluate
    from coexplore.workload import Layer, Workload

    wl = Workload("mixed", (Layer("small", c=4, k=4, h=8, w=8),
                            Layer("wide", c=512, k=512, h=14, w=14, r=7, s=7, padding=3)))
    design = DesignPoint(pe_type="int8", filter_spad=4)  # a 7-wide filter row does not fit
    cost = digital_layer_costs(design, wl, "int8", np.array([8, 8]), np.array([8, 8]))
    alone = [bool(evaluate(DesignBatch.from_points([design]), Workload("one", (layer,))).feasible[0]) for layer in wl.layers]
    assert list(cost.feasible) == alone
    assert not all(alone), "the case must exercise an infeasible layer"

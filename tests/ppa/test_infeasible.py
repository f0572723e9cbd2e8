"""Points whose minimal tile does not fit come back flagged with a reason, never raised."""

from __future__ import annotations

import numpy as np

from coexplore.hardware import DesignBatch, DesignPoint
from coexplore.ppa import evaluate
from coexplore.workload import Layer, Workload

WL = Workload("w", (Layer("c1", c=8, k=8, h=16, w=16, r=3, s=3, padding=1), Layer("big", c=512, k=512, h=14, w=14, r=3, s=3, padding=1)))


def test_an_ifmap_spad_smaller_than_a_filter_row_is_flagged_with_the_key():
    res = evaluate(DesignBatch.from_points([DesignPoint(ifmap_spad=2)]), WL)
    assert not res.feasible[0]
    assert "ifmap_spad=2" in res.infeasible_reason[0] and "c1" in res.infeasible_reason[0]


def test_a_filter_spad_smaller_than_a_filter_row_is_flagged_with_the_key():
    res = evaluate(DesignBatch.from_points([DesignPoint(filter_spad=2)]), WL)
    assert "filter_spad=2" in res.infeasible_reason[0]


def test_a_global_buffer_too_small_for_any_tile_is_flagged_with_the_key():
    res = evaluate(DesignBatch.from_points([DesignPoint(pe_type="int16", glb_kib=0.05)]), WL)
    assert not res.feasible[0]
    assert "glb_kib=0.05" in res.infeasible_reason[0] and "layer c1" in res.infeasible_reason[0]


def test_infeasible_points_still_get_finite_numbers_next_to_feasible_ones():
    res = evaluate(DesignBatch.from_points([DesignPoint(glb_kib=0.05), DesignPoint()]), WL)
    assert list(res.feasible) == [False, True]
    assert res.infeasible_reason[1] == ""
    assert np.all(np.isfinite(res.energy_j)) and np.all(np.isfinite(res.latency_s))


def test_packing_narrow_values_makes_a_small_spad_feasible():
    # 2 words of 8 bits hold 4 two-bit activations: a 3-wide filter row fits.
    point = DesignPoint(ifmap_spad=2)
    res = evaluate(DesignBatch.from_points([point]), WL, act_bits=np.array([2, 2]))
    assert res.feasible[0]


def test_layer_feasibility_marks_only_the_layers_that_do_not_fit():
    wl = Workload("w", (Layer("k1", c=8, k=8, h=8, w=8), Layer("k7", c=8, k=8, h=16, w=16, r=7, s=7)))
    res = evaluate(DesignBatch.from_points([DesignPoint(ifmap_spad=4)]), wl)
    assert res.layer_feasible.tolist() == [[True, False]]
    assert not res.feasible[0]

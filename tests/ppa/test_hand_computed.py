"""Hand-computed cycles and energy terms for a one-layer workload on tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest

from coexplore.hardware import DesignBatch, DesignPoint
from coexplore.hardware.technology import TechnologyTable
from coexplore.ppa import evaluate, evaluate_point
from coexplore.workload import Layer, Workload

# 2 input channels, 3 filters of 3x3 over a 4x4 map, no padding: a 2x2 output; 216 MACs.
LAYER = Layer("conv", c=2, k=3, h=4, w=4, r=3, s=3)
ONE = Workload("one", (LAYER,))
FAST_DRAM = {"dram_gbps": 10000.0, "glb_kib": 64.0}
ONE_WORD = {"filter_spad": 1, "psum_spad": 1}  # one-word spads: the mapper has only SCALE-Sim's mapping


def _point(**kw) -> DesignPoint:
    return DesignPoint(**{"pe_type": "int8", **FAST_DRAM, **kw})


def test_the_layer_has_216_macs():
    assert LAYER.macs == 3 * 2 * 2 * 2 * 9 == 216


def test_weight_stationary_cycles_follow_scalesim_folds():
    # Sr = R*S*C = 18, Sc = K = 3, T = P*Q = 4 on a 4x4 array: ceil(18/4) * ceil(3/4) = 5 folds
    # of 2*4 + 4 + 4 - 2 = 14 cycles.
    res = evaluate_point(_point(dataflow="weight_stationary", pe_rows=4, pe_cols=4, **ONE_WORD), ONE)
    assert res.layer_compute_cycles[0, 0] == 5 * 14
    assert res.cycles[0] == 70


def test_output_stationary_cycles_follow_scalesim_folds():
    # Sr = P*Q = 4, Sc = K = 3, T = R*S*C = 18 on a 4x4 array: one fold of 4 + 4 + 18 - 2 cycles.
    res = evaluate_point(_point(dataflow="output_stationary", pe_rows=4, pe_cols=4, **ONE_WORD), ONE)
    assert res.cycles[0] == 24


def test_row_stationary_cycles_count_one_dimensional_convolutions():
    # A 3x2 array holds one R x E = 3 x 2 PE set; 6 (k, c) planes, each PE doing S*Q = 6 MACs.
    res = evaluate_point(_point(dataflow="row_stationary", pe_rows=3, pe_cols=2), ONE)
    assert res.cycles[0] == 6 * 3 * 2
    assert res.layer_utilization[0, 0] == pytest.approx(216 / (6 * 36))


def test_mac_energy_is_macs_times_energy_per_mac():
    tech = TechnologyTable.default()
    res = evaluate_point(_point(dataflow="weight_stationary", pe_rows=4, pe_cols=4, **ONE_WORD), ONE)
    per_mac = float(tech.mac_energy_pj(np.array([1]), 8, 8)[0])
    assert res.energy_breakdown_j["mac"][0] == pytest.approx(216 * per_mac * 1e-12)


def test_dram_traffic_is_one_pass_over_weights_inputs_and_outputs_when_the_layer_fits():
    # 54 weights + 32 inputs + 12 outputs at 8 bits = 98 bytes.
    tech = TechnologyTable.default()
    res = evaluate_point(_point(dataflow="weight_stationary", pe_rows=4, pe_cols=4, **ONE_WORD), ONE)
    assert res.layer_dram_bytes[0, 0] == pytest.approx(98)
    assert res.energy_breakdown_j["dram"][0] == pytest.approx(98 * 8 * tech.dram_energy_pj_per_bit() * 1e-12)


def test_weight_stationary_glb_and_noc_terms_by_hand():
    tech = TechnologyTable.default()
    res = evaluate_point(_point(dataflow="weight_stationary", pe_rows=4, pe_cols=4, **ONE_WORD), ONE)
    e_glb = float(tech.glb_energy_pj_per_bit(64 * 1024))
    # Array <-> GLB: 54 weights, T*Sr*col_fold = 72 ifmap reads, psums 4*3*5 writes + 4*3*4 reads;
    # plus the 98 bytes filled from DRAM.
    acc = float(tech.accumulator_bits(np.array([1]), 8, 8)[0])
    glb_bits = 54 * 8 + 72 * 8 + (60 + 48) * acc + 98 * 8
    assert res.energy_breakdown_j["glb"][0] == pytest.approx(glb_bits * e_glb * 1e-12)
    # NoC: each weight shifted (rows+1)/2 hops, one ifmap and one psum hop per MAC.
    noc_bits = 54 * 2.5 * 8 + 216 * 8 + 216 * acc
    assert res.energy_breakdown_j["noc"][0] == pytest.approx(noc_bits * tech.noc_energy_pj_per_bit() * 1e-12)


def test_leakage_energy_is_power_density_times_area_times_latency():
    tech = TechnologyTable.default()
    res = evaluate_point(_point(dataflow="weight_stationary", pe_rows=4, pe_cols=4, **ONE_WORD), ONE)
    expected = float(tech.leakage_w_per_mm2()) * res.area_mm2[0] * res.latency_s[0]
    assert res.energy_breakdown_j["leakage"][0] == pytest.approx(expected)


def test_breakdowns_add_up_to_the_totals():
    res = evaluate_point(_point(), ONE)
    assert sum(v[0] for v in res.energy_breakdown_j.values()) == pytest.approx(res.energy_j[0])
    assert sum(v[0] for v in res.area_breakdown_mm2.values()) == pytest.approx(res.area_mm2[0])


def test_wider_layers_than_the_pe_run_in_bit_fusion_passes():
    design = _point(pe_type="int4", dataflow="weight_stationary", pe_rows=4, pe_cols=4)
    native = evaluate_point(design, ONE)
    wide = evaluate_point(design, ONE, weight_bits=np.array([8]), act_bits=np.array([8]))
    assert wide.layer_compute_cycles[0, 0] == 4 * native.layer_compute_cycles[0, 0]
    assert wide.energy_breakdown_j["mac"][0] == pytest.approx(4 * native.energy_breakdown_j["mac"][0])


def test_dram_bound_layers_take_the_transfer_time():
    res = evaluate_point(_point(dataflow="weight_stationary", pe_rows=4, pe_cols=4, dram_gbps=0.001), ONE)
    bytes_per_cycle = 0.001e9 / 200e6
    assert res.cycles[0] == pytest.approx(np.ceil(98 / bytes_per_cycle))


def test_per_layer_bits_accept_shape_l_and_d_by_l():
    batch = DesignBatch.from_points([_point(), _point(pe_type="int16")])
    a = evaluate(batch, ONE, weight_bits=np.array([4]))
    b = evaluate(batch, ONE, weight_bits=np.array([[4], [4]]))
    assert np.array_equal(a.energy_j, b.energy_j)
    assert a.layer_weight_bits.tolist() == [[4], [4]]
    assert np.all(a.energy_j < evaluate(batch, ONE).energy_j)  # the bits were applied, not ignored
    with pytest.raises(ValueError, match="weight_bits"):
        evaluate(batch, ONE, weight_bits=np.array([4, 4, 4]))


def test_a_design_at_half_the_node_has_a_quarter_of_the_area():
    at_45 = evaluate_point(_point(), ONE)
    at_22 = evaluate_point(_point(tech_nm=22.5), ONE)
    assert at_22.area_mm2[0] == pytest.approx(at_45.area_mm2[0] / 4)
    assert at_22.energy_breakdown_j["mac"][0] < at_45.energy_breakdown_j["mac"][0]

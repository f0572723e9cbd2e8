"""The intra-array mapper: SCALE-Sim's mapping is a member, the choice never loses to it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coexplore.hardware import DesignBatch, DesignPoint
from coexplore.ppa import evaluate, evaluate_point
from coexplore.ppa.dataflows import DATAFLOW_MODELS, ArrayCosts, MappingInputs
from coexplore.ppa.dataflows.weight_stationary import reduction_per_pe
from coexplore.ppa.mapper import CRITERIA, choose
from coexplore.workload import Layer, Workload

FAST = settings(max_examples=40, deadline=None)
FC = Workload("fc", (Layer("fc", kind="linear", c=512, k=1000),))
CONV = Workload("conv", (Layer("conv", c=64, k=64, h=14, w=14, r=3, s=3, padding=1),))


def _members(d: int, m: int, data) -> ArrayCosts:
    pos = arrays(np.float64, (d, 1, m), elements=st.floats(1, 1e6))
    fields = {f: data.draw(pos) for f in ArrayCosts.__dataclass_fields__ if f not in ("reason", "preload_w")}
    return ArrayCosts(**fields, reason=np.zeros((d, 1, m)), preload_w=np.zeros((d, 1, m)))


@FAST
@given(st.data(), st.integers(1, 4), st.integers(1, 3), st.sampled_from(CRITERIA))
def test_the_chosen_member_never_scores_worse_than_member_zero(data, d, m, criterion):
    arr = _members(d, m, data)
    energy = data.draw(arrays(np.float64, (d, 1, m), elements=st.floats(1, 1e6)))
    compulsory = data.draw(arrays(np.float64, (d, 1), elements=st.floats(0, 1e6)))
    leak = np.full((d, 1), 0.5)
    dram = np.full((d, 1), 10.0)
    chosen, idx = choose(arr, energy, arr.cycles, compulsory, 0.0, leak, dram, criterion)
    lat = np.maximum(arr.cycles, compulsory[..., None])
    e = energy + lat * leak[..., None]
    score = {"energy": e, "latency": lat, "edp": (e + dram[..., None]) * lat}[criterion]
    best = np.take_along_axis(score, idx[..., None], -1)[..., 0]
    assert np.all(best <= score[..., 0] * (1 + 1e-9))
    assert np.all(chosen.cycles == np.take_along_axis(arr.cycles, idx[..., None], -1)[..., 0])


@FAST
@given(st.sampled_from(["weight_stationary", "output_stationary", "row_stationary"]),
       st.integers(1, 64), st.integers(1, 64), st.integers(1, 256), st.integers(1, 32),
       st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 3]), st.integers(1, 16))
def test_no_member_computes_more_macs_per_cycle_than_the_array_has_pes(df, rows, cols, fspad, pspad, c, k, r, pq):
    # MAC conservation inside the array: cycles x PEs >= MACs for every member.
    one = np.ones((1, 1), dtype=np.int64)
    macs = k * c * r * r * pq * pq
    x = MappingInputs(
        n=one, c=c * one, k=k * one, r=r * one, s=r * one, p_img=pq * one, q=pq * one, groups=one,
        macs=macs * one, ifmap_values=c * pq * pq * one, weight_values=k * c * r * r * one,
        ofmap_values=k * pq * pq * one, rows=rows * one, cols=cols * one, ifmap_cap=16 * one,
        filter_cap=fspad * one, psum_cap=pspad * one,
    )
    arr = DATAFLOW_MODELS[df].map(x)
    assert np.all(arr.cycles * rows * cols >= macs)


def test_a_one_word_spad_leaves_only_the_scalesim_mapping():
    one = np.ones((1, 1), dtype=np.int64)
    assert reduction_per_pe(576 * one, 32 * one, one)[0, 0] == 1


def test_a_weight_register_file_holds_a_balanced_share_of_the_reduction():
    # Sr = 576 over 32 rows: 18 per PE fit 128 words, so one row fold of 18.
    one = np.ones((1, 1), dtype=np.int64)
    assert reduction_per_pe(576 * one, 32 * one, 128 * one)[0, 0] == 18
    # A 8-word file: ceil(576 / 256) = 3 row folds of 6 per PE.
    assert reduction_per_pe(576 * one, 32 * one, 8 * one)[0, 0] == 6


def test_in_pe_reduction_spills_fewer_partial_sums_than_scalesim():
    base = {"pe_type": "int8", "pe_rows": 16, "pe_cols": 16, "dataflow": "weight_stationary",
            "glb_kib": 4096.0, "dram_gbps": 1000.0}
    rf = evaluate_point(DesignPoint(**base, filter_spad=128, psum_spad=1), CONV, criterion="energy")
    one_word = evaluate_point(DesignPoint(**base, filter_spad=1, psum_spad=1), CONV, criterion="energy")
    assert (rf.layer_mapping[0, 0], one_word.layer_mapping[0, 0]) == (1, 0)
    assert rf.energy_breakdown_j["glb"][0] < 0.5 * one_word.energy_breakdown_j["glb"][0]


def test_a_fully_connected_layer_on_a_small_array_is_no_longer_fold_bound():
    # 8x8 weight stationary, batch 1: SCALE-Sim's mapping needs 64 x 125 folds of 23 cycles.
    base = {"pe_type": "int8", "pe_rows": 8, "pe_cols": 8, "dataflow": "weight_stationary",
            "glb_kib": 2048.0, "dram_gbps": 10000.0}
    scalesim = evaluate_point(DesignPoint(**base, filter_spad=1, psum_spad=1), FC)
    assert scalesim.layer_compute_cycles[0, 0] == 64 * 125 * (2 * 8 + 8 + 1 - 2)
    rf = evaluate_point(DesignPoint(**base, filter_spad=128, psum_spad=1), FC, criterion="latency")
    assert rf.layer_compute_cycles[0, 0] < scalesim.layer_compute_cycles[0, 0] / 5


@FAST
@given(st.sampled_from(["weight_stationary", "output_stationary"]), st.integers(2, 32),
       st.integers(2, 32), st.integers(1, 256), st.integers(1, 32))
def test_latency_criterion_never_computes_slower_than_scalesim(df, rows, cols, fspad, pspad):
    base = {"pe_type": "int8", "pe_rows": rows, "pe_cols": cols, "dataflow": df, "glb_kib": 4096.0,
            "dram_gbps": 1e5}
    wl = Workload("two", (*CONV.layers, *FC.layers))
    res = evaluate(DesignBatch.from_points([DesignPoint(**base, filter_spad=fspad, psum_spad=pspad),
                                            DesignPoint(**base, filter_spad=1, psum_spad=1)]), wl,
                   criterion="latency")
    assert np.all(res.layer_compute_cycles[0] <= res.layer_compute_cycles[1])


def test_an_unknown_criterion_names_the_allowed_ones():
    with pytest.raises(ValueError, match="edp, energy, latency"):
        evaluate_point(DesignPoint(), CONV, criterion="speed")

"""Invariants of the PPA model over random design points and layers (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.hardware import DATAFLOWS, DesignBatch, DesignPoint, pe_type_names
from coexplore.hardware.characterization import Characterization
from coexplore.hardware.fitting import PolyCurve
from coexplore.hardware.technology import TechnologyTable
from coexplore.ppa import evaluate, evaluate_point
from coexplore.workload import Layer, Workload

FAST = settings(max_examples=40, deadline=None)


@st.composite
def layers(draw, name: str = "l") -> Layer:
    groups = draw(st.sampled_from([1, 1, 1, 2, 4]))
    depthwise = draw(st.booleans()) and groups == 1
    c = draw(st.integers(1, 32)) * groups
    k = c if depthwise else draw(st.integers(1, 32)) * groups
    r = draw(st.sampled_from([1, 3, 5, 7]))
    h = draw(st.integers(r, 40))
    return Layer(
        name, c=c, k=k, h=h, w=draw(st.integers(r, 40)), r=r, s=r,
        stride=draw(st.sampled_from([1, 2])), padding=draw(st.integers(0, r // 2)),
        groups=c if depthwise else groups, n=draw(st.sampled_from([1, 1, 2])),
    )


@st.composite
def workloads(draw) -> Workload:
    n = draw(st.integers(1, 4))
    return Workload("w", tuple(draw(layers(f"l{i}")) for i in range(n)))


@st.composite
def designs(draw) -> DesignPoint:
    return DesignPoint(
        pe_type=draw(st.sampled_from(pe_type_names())),
        pe_rows=draw(st.integers(1, 32)),
        pe_cols=draw(st.integers(1, 32)),
        ifmap_spad=draw(st.integers(8, 64)),
        filter_spad=draw(st.integers(8, 256)),
        psum_spad=draw(st.integers(1, 32)),
        glb_kib=draw(st.sampled_from([16.0, 64.0, 108.0, 512.0])),
        dram_gbps=draw(st.sampled_from([1.0, 12.8, 100.0])),
        dataflow=draw(st.sampled_from(DATAFLOWS)),
        tech_nm=draw(st.sampled_from([45.0, 28.0])),
    )


@FAST
@given(st.lists(designs(), min_size=1, max_size=4), workloads())
def test_macs_are_conserved_whatever_the_design(points, wl):
    def hand_macs(l: Layer) -> int:  # N*K*(C/groups)*R*S*P*Q from the shapes, not from Layer's own properties
        p = (l.h + 2 * l.padding - l.r) // l.stride + 1
        q = (l.w + 2 * l.padding - l.s) // l.stride + 1
        return l.n * l.k * (l.c // l.groups) * l.r * l.s * p * q

    expected = np.array([hand_macs(l) for l in wl.layers])
    res = evaluate(DesignBatch.from_points(points), wl)
    assert np.all(res.layer_macs == expected[None, :])
    assert np.all(res.macs == expected.sum())


@FAST
@given(st.lists(designs(), min_size=1, max_size=4), workloads())
def test_utilization_is_in_zero_one(points, wl):
    u = evaluate(DesignBatch.from_points(points), wl).layer_utilization
    assert np.all(u > 0) and np.all(u <= 1 + 1e-12)


@FAST
@given(designs(), workloads(), st.integers(1, 15), st.sampled_from(["weight_bits", "act_bits"]))
def test_energy_is_non_decreasing_in_bits(point, wl, bits, which):
    low = evaluate_point(point, wl, **{which: np.full(len(wl), bits)})
    high = evaluate_point(point, wl, **{which: np.full(len(wl), bits + 1)})
    assert high.energy_j[0] >= low.energy_j[0] * (1 - 1e-12)


def _flat_memory_tech() -> TechnologyTable:
    """Size-independent GLB cost and no leakage: a smaller GLB can only add DRAM traffic."""
    flat = {
        ("glb_energy_pj_per_bit", ""): PolyCurve((0.5,)),
        ("glb_area_um2_per_bit", ""): PolyCurve((0.7,)),
        ("leakage_w_per_mm2", ""): PolyCurve((0.0,)),
    }
    return TechnologyTable.default().with_characterization(Characterization(flat))


@FAST
@given(designs(), workloads())
def test_energy_is_non_decreasing_in_dram_traffic(point, wl):
    tech = _flat_memory_tech()
    big = evaluate_point(point, wl, tech=tech)
    small = evaluate_point(point.model_copy(update={"glb_kib": point.glb_kib / 4}), wl, tech=tech)
    more = small.layer_dram_bytes.sum() >= big.layer_dram_bytes.sum() * (1 - 1e-12)
    assert more
    assert small.energy_j[0] >= big.energy_j[0] * (1 - 1e-12)


@FAST
@given(designs(), workloads(), st.floats(1.0, 4096.0))
def test_area_strictly_increases_with_glb_kib(point, wl, extra):
    a = evaluate_point(point, wl).area_mm2[0]
    b = evaluate_point(point.model_copy(update={"glb_kib": point.glb_kib + extra}), wl).area_mm2[0]
    assert b > a


@FAST
@given(designs(), workloads(), st.sampled_from(["pe_rows", "pe_cols"]))
def test_area_strictly_increases_with_pe_count(point, wl, axis):
    a = evaluate_point(point, wl).area_mm2[0]
    b = evaluate_point(point.model_copy(update={axis: getattr(point, axis) + 1}), wl).area_mm2[0]
    assert b > a


@FAST
@given(designs(), workloads(), st.floats(1.01, 100.0))
def test_latency_is_non_increasing_in_dram_bandwidth(point, wl, factor):
    slow = evaluate_point(point, wl).latency_s[0]
    fast = evaluate_point(point.model_copy(update={"dram_gbps": point.dram_gbps * factor}), wl).latency_s[0]
    assert fast <= slow * (1 + 1e-12)


@FAST
@given(st.lists(designs(), min_size=2, max_size=5), workloads())
def test_a_batch_equals_its_points_evaluated_one_by_one(points, wl):
    batch = evaluate(DesignBatch.from_points(points), wl)
    for i, p in enumerate(points):
        one = evaluate_point(p, wl)
        assert np.isclose(batch.energy_j[i], one.energy_j[0])
        assert batch.cycles[i] == one.cycles[0]
        assert batch.feasible[i] == one.feasible[0]

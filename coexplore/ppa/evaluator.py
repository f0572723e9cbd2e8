"""The vectorized PPA evaluator: D design points x L layers at once, no loop over design points.

Steps, all on arrays: per-layer precision and bit-fusion passes; the dataflow's intra-array
mapping members (cycles, spad / NoC / GLB accesses; ``D x L x M``) and the mapper's choice among
them by the criterion (``D x L``, :mod:`coexplore.ppa.mapper`); the GLB tiling with the minimum
energy-delay product among candidates that fit the buffer (a grid ``1 x L x M`` and
capacity-fitted tiles ``D x L x 3``, argmin over the candidate axis); energy from the technology
table, area from the design, and the totals. Latency per layer is the largest of compute, DRAM
transfer and GLB port time, plus the first tile's fill when the design point does not overlap it
(:mod:`coexplore.ppa.schedule`).
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache

import numpy as np

from coexplore.hardware.design import DATAFLOWS, DesignBatch, DesignPoint
from coexplore.hardware.pe.registry import native_bits_by_code
from coexplore.hardware.technology import TechnologyTable
from coexplore.ppa.dataflows import DATAFLOW_MODELS, ArrayCosts, MappingInputs
from coexplore.ppa.dataflows._base import FILTER_SPAD_TOO_SMALL, IFMAP_SPAD_TOO_SMALL
from coexplore.ppa.derived import derived_totals
from coexplore.ppa.footprint import layer_footprint
from coexplore.ppa.mapper import choose, glb_port_bits, member_energy_pj
from coexplore.ppa.result import PPAResult
from coexplore.ppa.schedule import choose_tiling
from coexplore.ppa.tiling import TileSet, layer_columns, tile_set
from coexplore.workload.layer import Workload

GLB_TOO_SMALL = 3


@lru_cache(maxsize=16)
def _workload_geometry(workload: Workload) -> tuple[dict[str, np.ndarray], TileSet, dict[str, np.ndarray]]:
    """What depends on the workload alone, built once per workload (the study loop evaluates one
    workload many times): layer arrays (``L``), grid tiles (``L x M``), layer columns (``1 x L x 1``).
    Every array is read-only, as the cache shares it between calls."""
    layers = workload.arrays()
    layers.update(layer_footprint(layers))
    layers["weight_values"] = layers["k"] * (layers["c"] // layers["groups"]) * layers["r"] * layers["s"]
    layers["ofmap_values"] = layers["n"] * layers["k"] * layers["p"] * layers["q"]
    col3 = layer_columns(layers, ndim=3)
    for a in (*layers.values(), *col3.values()):
        a.flags.writeable = False
    return layers, tile_set(layers), col3


def _per_layer_bits(bits: np.ndarray | None, default: np.ndarray, d: int, n_layers: int, name: str) -> np.ndarray:
    """Per-layer precision as ``D x L`` floats (``L`` broadcast over designs)."""
    if bits is None:
        return np.broadcast_to(default.astype(np.float64)[:, None], (d, n_layers))
    b = np.asarray(bits, dtype=np.float64)
    if b.ndim == 1:
        b = b[None, :]
    try:
        b = np.broadcast_to(b, (d, n_layers))
    except ValueError as exc:
        raise ValueError(f"{name}: expected shape L={n_layers} or D x L={d} x {n_layers}, got {np.shape(bits)}") from exc
    if np.any(b < 1):
        raise ValueError(f"{name}: bits must be >= 1")
    return b


def _array_costs(designs: DesignBatch, layers: dict[str, np.ndarray], caps: tuple[np.ndarray, ...]) -> ArrayCosts:
    """Run each dataflow on the design points that use it and stitch the ``D x L`` results."""
    lay = {k: v[None, :] for k, v in layers.items()}
    common = {
        "n": lay["n"], "c": lay["c"], "k": lay["k"], "r": lay["r"], "s": lay["s"], "p_img": lay["p"],
        "q": lay["q"], "groups": lay["groups"], "macs": lay["macs"],
        "ifmap_values": lay["ifmap_used"],
        "weight_values": lay["weight_values"],
        "ofmap_values": lay["ofmap_values"],
    }
    flows = np.unique(designs.dataflow)
    parts: list[tuple[np.ndarray | None, ArrayCosts]] = []
    for code in flows:
        m = None if len(flows) == 1 else designs.dataflow == code
        sub = [a if m is None else a[m] for a in (designs.pe_rows, designs.pe_cols, *caps)]
        x = MappingInputs(
            **common, rows=sub[0][:, None], cols=sub[1][:, None],
            ifmap_cap=sub[2], filter_cap=sub[3], psum_cap=sub[4], load_per_cycle=sub[5],
        )
        parts.append((m, DATAFLOW_MODELS[DATAFLOWS[int(code)]].map(x)))
    if len(parts) == 1:
        return parts[0][1]
    # Dataflows offer different numbers of members: pad each with copies of its last member.
    n_members = max(costs.cycles.shape[-1] for _, costs in parts)
    shape = (*caps[0].shape, n_members)  # (also the empty batch: all arrays empty)
    out = {f.name: np.zeros(shape, dtype=np.float64) for f in fields(ArrayCosts)}
    for m, costs in parts:
        pad = np.minimum(np.arange(n_members), costs.cycles.shape[-1] - 1)
        for name, arr in out.items():
            arr[m] = np.broadcast_to(getattr(costs, name)[..., pad], (int(m.sum()), shape[1], n_members))
    return ArrayCosts(**out)


def _area_mm2(designs: DesignBatch, tech: TechnologyTable, nw: np.ndarray, na: np.ndarray, acc: np.ndarray) -> dict[str, np.ndarray]:
    """Area by component (``D``), from native precision and sizes, scaled to the node."""
    n_pes = (designs.pe_rows * designs.pe_cols).astype(np.float64)
    spad_bits = (
        designs.ifmap_spad * na * tech.spad_area_um2_per_bit(designs.ifmap_spad * na / 8)
        + designs.filter_spad * nw * tech.spad_area_um2_per_bit(designs.filter_spad * nw / 8)
        + designs.psum_spad * acc * tech.spad_area_um2_per_bit(designs.psum_spad * acc / 8)
    )
    glb_bytes = designs.glb_kib * 1024.0
    scale = tech.area_scale(designs.tech_nm) * 1e-6
    words = tech.const("noc_area_words_per_pe")
    return {
        "pe": n_pes * tech.pe_area_um2(designs.pe_type) * scale,
        "spad": n_pes * spad_bits * scale,
        "glb": glb_bytes * 8 * tech.glb_area_um2_per_bit(glb_bytes) * scale,
        "noc": n_pes * words * np.maximum(nw, na) * tech.const("dff_area_um2") * scale,
    }


def evaluate(
    designs: DesignBatch,
    workload: Workload,
    *,
    tech: TechnologyTable | None = None,
    weight_bits: np.ndarray | None = None,
    act_bits: np.ndarray | None = None,
    criterion: str = "edp",
) -> PPAResult:
    """Power, performance and area of every design point on every layer of a workload.

    A layer whose bits exceed the PE's native bits runs in ``ceil(wb/nw) * ceil(ab/na)`` passes
    (cycles and MAC energy multiply); lower precision gates the datapath and packs every word
    moved. Points where a minimal tile does not fit come back with ``feasible`` False and a
    reason; nothing raises for a bad fit.

    Args:
        designs: ``D`` design points.
        workload: ``L`` layers.
        tech: technology table (default: the shipped 45 nm table).
        weight_bits: per-layer weight precision, shape ``L`` or ``D x L`` (default: each design's
            ``weight_bits``).
        act_bits: per-layer activation precision, shape ``L`` or ``D x L``.
        criterion: how the mapper chooses each layer's intra-array mapping: ``"edp"`` (default),
            ``"energy"`` or ``"latency"`` (:mod:`coexplore.ppa.mapper`).

    Example:
        >>> from coexplore.hardware import DesignBatch, DesignPoint
        >>> from coexplore.workload import Layer, Workload
        >>> wl = Workload("fc", (Layer("fc", kind="linear", c=64, k=32),))
        >>> res = evaluate(DesignBatch.from_points([DesignPoint(), DesignPoint(pe_type="int16")]), wl)
        >>> res.energy_j.shape, bool(res.energy_j[0] < res.energy_j[1])
        ((2,), True)
    """
    tech = tech or TechnologyTable.default()
    d, n_layers = len(designs), len(workload)
    layers, grid, col3 = _workload_geometry(workload)
    wb = _per_layer_bits(weight_bits, designs.weight_bits, d, n_layers, "weight_bits")
    ab = _per_layer_bits(act_bits, designs.act_bits, d, n_layers, "act_bits")
    code = designs.pe_type
    native = native_bits_by_code()
    nw, na = native[code, 0], native[code, 1]
    passes = np.ceil(wb / nw[:, None]) * np.ceil(ab / na[:, None])
    wb_op, ab_op = np.minimum(wb, nw[:, None]), np.minimum(ab, na[:, None])
    e_scale = tech.energy_scale(designs.tech_nm)[:, None]
    e_mac = tech.mac_energy_pj(code[:, None], wb_op, ab_op) * passes * e_scale
    pb = tech.accumulator_bits(code[:, None], wb_op, ab_op)
    acc_native = tech.accumulator_bits(code, nw, na)

    # Spad capacities in values: a native word packs floor(native / bits) narrower values.
    caps = (
        designs.ifmap_spad[:, None] * np.floor(na[:, None] / ab_op),
        designs.filter_spad[:, None] * np.floor(nw[:, None] / wb_op),
        designs.psum_spad[:, None] + np.zeros((1, n_layers)),
        # Values per cycle the GLB port can load into PE register files (unlimited: 0 bits).
        np.where(designs.glb_port_bits[:, None] > 0, designs.glb_port_bits[:, None] / wb, np.inf),
    )
    members = _array_costs(designs, layers, caps)
    macs = layers["macs"].astype(np.float64)[None, :]

    e_if = tech.spad_energy_pj_per_bit(designs.ifmap_spad * na / 8, operand="ifmap")[:, None]
    e_fi = tech.spad_energy_pj_per_bit(designs.filter_spad * nw / 8, operand="filter")[:, None]
    e_ps = tech.spad_energy_pj_per_bit(designs.psum_spad * acc_native / 8, operand="psum")[:, None]
    glb_bytes = designs.glb_kib * 1024.0
    e_glb = tech.glb_energy_pj_per_bit(glb_bytes)[:, None] * e_scale
    e_noc = tech.noc_energy_pj_per_bit() * e_scale
    e_dram = tech.dram_energy_pj_per_bit() * e_scale
    mac_pj = macs * e_mac

    area = _area_mm2(designs, tech, nw, na, acc_native)
    area_total = sum(area.values())
    clock_hz = designs.clock_mhz * 1e6
    leak_w = tech.leakage_w_per_mm2(designs.tech_nm) * area_total
    leak_pj_per_cycle = (leak_w / clock_hz * 1e12)[:, None]
    bits_per_cycle = (designs.dram_gbps * 1e9 * 8 / clock_hz)[:, None]
    port_bpc = designs.glb_port_bits.astype(np.float64)[:, None]

    # Intra-array mapping: price every member, keep the best by the criterion.
    parts = member_energy_pj(members, wb, ab, pb, e_fi * e_scale, e_if * e_scale, e_ps * e_scale, e_noc, e_glb)
    compulsory = (layers["weight_values"][None, :] * wb + layers["ifmap_used"][None, :] * ab
                  + layers["ofmap_values"][None, :] * ab)
    port_m = 0.0
    if np.any(port_bpc > 0):
        port_m = np.where(port_bpc[..., None] > 0,
                          glb_port_bits(members, wb, ab, pb) / np.maximum(port_bpc, 1)[..., None], 0.0)
    arr, member = choose(
        members, mac_pj[..., None] + sum(parts.values()), members.cycles * passes[..., None],
        compulsory / bits_per_cycle, port_m, leak_pj_per_cycle, compulsory * e_dram, criterion,
    )
    comp_cycles = arr.cycles * passes
    spad_pj, noc_pj, glb_array_pj = (v for v in member_energy_pj(
        arr, wb, ab, pb, e_fi * e_scale, e_if * e_scale, e_ps * e_scale, e_noc, e_glb).values())

    traffic, cycles, glb_fits = choose_tiling(
        grid, col3, wb, ab, pb, (glb_bytes * 8)[:, None],
        mac_pj + spad_pj + noc_pj + glb_array_pj, comp_cycles, e_dram + e_glb, bits_per_cycle,
        leak_pj_per_cycle, glb_port_bits(arr, wb, ab, pb), port_bpc,
        designs.first_fill.astype(np.float64)[:, None], arr.preload_w * wb,
        designs.dram_full_duplex.astype(np.float64)[:, None],
    )
    layer_pj = {
        "mac": mac_pj,
        "spad": spad_pj,
        "noc": noc_pj,
        "glb": glb_array_pj + traffic * e_glb,
        "dram": traffic * e_dram,
        "leakage": cycles * leak_pj_per_cycle,
    }
    layer_j = {k: np.broadcast_to(v, (d, n_layers)) * 1e-12 for k, v in layer_pj.items()}
    layer_energy = sum(layer_j.values())
    n_pes = (designs.pe_rows * designs.pe_cols).astype(np.float64)[:, None]
    utilization = macs * passes / (n_pes * cycles)

    reason_code = np.where(arr.reason != 0, arr.reason, np.where(glb_fits, 0, GLB_TOO_SMALL))
    feasible = np.all(reason_code == 0, axis=1)
    reasons = _reasons(reason_code, feasible, designs, workload, ab_op, wb_op)

    total_macs = np.full(d, float(workload.macs))
    total_cycles = cycles.sum(axis=1)
    latency = total_cycles / clock_hz
    energy = layer_energy.sum(axis=1)
    return PPAResult(
        feasible=feasible,
        infeasible_reason=reasons,
        macs=total_macs,
        cycles=total_cycles,
        latency_s=latency,
        energy_j=energy,
        area_mm2=area_total,
        **derived_totals(energy, latency, area_total, total_macs),
        energy_breakdown_j={k: v.sum(axis=1) for k, v in layer_j.items()},
        area_breakdown_mm2=area,
        layer_feasible=reason_code == 0,
        layer_macs=np.broadcast_to(macs, (d, n_layers)),
        layer_cycles=cycles,
        layer_compute_cycles=np.broadcast_to(comp_cycles, (d, n_layers)),
        layer_energy_j=layer_energy,
        layer_energy_breakdown_j=layer_j,
        layer_utilization=utilization,
        layer_dram_bytes=traffic / 8,
        layer_weight_bits=wb,
        layer_act_bits=ab,
        layer_names=tuple(workload.layer_names),
        layer_mapping=member,
    )


def _reasons(
    code: np.ndarray, feasible: np.ndarray, designs: DesignBatch, workload: Workload,
    ab: np.ndarray, wb: np.ndarray,
) -> np.ndarray:
    """One message per infeasible point naming its first failing layer and the design field."""
    out = np.full(len(feasible), "", dtype=object)
    for i in np.flatnonzero(~feasible):  # only the (usually few) infeasible points
        j = int(np.argmax(code[i] != 0))
        layer = workload.layers[j]
        c = int(code[i, j])
        if c == IFMAP_SPAD_TOO_SMALL:
            msg = (f"layer {layer.name}: a filter row of S={layer.s} activations at {ab[i, j]:.0f} bits "
                   f"does not fit ifmap_spad={designs.ifmap_spad[i]} words (row_stationary needs >= S values)")
        elif c == FILTER_SPAD_TOO_SMALL:
            msg = (f"layer {layer.name}: a filter row of S={layer.s} weights at {wb[i, j]:.0f} bits "
                   f"does not fit filter_spad={designs.filter_spad[i]} words (row_stationary needs >= S values)")
        else:
            msg = (f"layer {layer.name}: glb_kib={designs.glb_kib[i]:g} cannot hold the smallest "
                   f"tile (one filter slice, its input rows and outputs); increase glb_kib")
        out[i] = msg
    return out


def evaluate_point(design: DesignPoint, workload: Workload, **kw) -> PPAResult:
    """:func:`evaluate` for a single design point (``D = 1``)."""
    return evaluate(DesignBatch.from_points([design]), workload, **kw)

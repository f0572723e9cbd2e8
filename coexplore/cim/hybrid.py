"""Hybrid digital + CIM accelerators: per-layer operator x mode costs and an assignment's totals.

A hybrid design point is a digital PE array (a :class:`~coexplore.hardware.DesignPoint`, costed by
:func:`coexplore.ppa.evaluate`) plus CIM macros (a :class:`~coexplore.cim.CimMacro`, costed by
:func:`coexplore.cim.cim_layer_costs`). Each layer is assigned one operator choice
(:mod:`coexplore.cim.choices`); digital choices run on the design's array geometry with the PE
type the operator needs. Latency and energy add up over the layers (layers run one after the
other); the area is the digital array (sized for the costliest digital PE type the assignment
uses) plus the macros (when any layer runs on them).

CIM residency is decided for the whole network in :func:`hybrid_cost`: CIM layers take macros in
layer order while they last; a later layer that no longer fits is reloaded every inference. The
per-layer table of :func:`operator_cost_table` (what ENOS weighs) judges each layer alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from coexplore.cim.choices import DEFAULT_CHOICES, OperatorChoice, lookup_choice, resolve_choices
from coexplore.cim.cost import ENERGY_COMPONENTS, CimLayerCost, cim_layer_costs, cim_tiles
from coexplore.cim.macro import CimMacro
from coexplore.cim.technology import CimTechnology, load_cim_technology
from coexplore.hardware.design import DesignBatch, DesignPoint
from coexplore.hardware.pe.registry import native_bits
from coexplore.ppa.derived import derived_totals
from coexplore.workload.layer import Workload


@dataclass(frozen=True)
class DigitalLayerCost:
    """Per-layer cost of the whole workload on one digital PE type (arrays of shape ``L``)."""

    pe_type: str
    energy_j: np.ndarray
    latency_s: np.ndarray
    cycles: np.ndarray
    feasible: np.ndarray
    area_mm2: float
    breakdown_j: dict[str, np.ndarray]
    utilization: np.ndarray
    dram_bytes: np.ndarray
    infeasible_reason: str = ""


def digital_layer_costs(design: DesignPoint, workload: Workload, pe_type: str, weight_bits: np.ndarray,
                        act_bits: np.ndarray, tech: object | None = None) -> DigitalLayerCost:
    """Cost of every layer on ``design``'s array geometry with PE type ``pe_type`` at the given bits.

    Bits above the PE type's native precision are the caller's error (the datapath cannot hold them).
    """
    from coexplore.ppa import evaluate  # imported here: the PPA package imports nothing from cim

    nw, na = native_bits(pe_type)
    wb = np.minimum(np.asarray(weight_bits, dtype=np.int64), nw)
    ab = np.minimum(np.asarray(act_bits, dtype=np.int64), na)
    point = design.model_copy(update={"pe_type": pe_type, "weight_bits": nw, "act_bits": na})
    res = evaluate(DesignBatch.from_points([point]), workload, tech=tech, weight_bits=wb[None, :], act_bits=ab[None, :])
    cycles = np.asarray(res.layer_cycles, dtype=np.float64)[0]
    breakdown = {k: np.asarray(v, dtype=np.float64)[0] for k, v in res.layer_energy_breakdown_j.items()}
    # Layers whose minimal tiles do not fit stay flagged; the others remain usable in a hybrid.
    feasible = np.asarray(res.layer_feasible, dtype=bool)[0]
    return DigitalLayerCost(
        pe_type=pe_type,
        energy_j=np.asarray(res.layer_energy_j, dtype=np.float64)[0],
        latency_s=cycles / (design.clock_mhz * 1e6),
        cycles=cycles,
        feasible=feasible.astype(bool),
        area_mm2=float(np.asarray(res.area_mm2).reshape(-1)[0]),
        breakdown_j=breakdown,
        utilization=np.asarray(res.layer_utilization, dtype=np.float64)[0],
        dram_bytes=np.asarray(res.layer_dram_bytes, dtype=np.float64)[0],
        infeasible_reason=str(res.infeasible_reason[0]),
    )


def shared_memory(design: DesignPoint, tech: object | None = None) -> dict[str, float]:
    """The digital side's DRAM and global-buffer energies per bit and buffer size, for the CIM side.

    A hybrid's CIM layers move activations through the same DRAM and global buffer as its digital
    layers, so both are costed with the digital technology table's figures.
    """
    from coexplore.hardware.technology import TechnologyTable

    table = tech if tech is not None else TechnologyTable.default()
    glb_bytes = design.glb_kib * 1024.0
    return {
        "dram_bit_j": float(table.dram_energy_pj_per_bit()) * 1e-12,
        "buffer_bit_j": float(np.asarray(table.glb_energy_pj_per_bit(np.array([glb_bytes])))[0]) * 1e-12,
        "buffer_bytes": glb_bytes,
    }


def _digital_groups(design: DesignPoint, workload: Workload, pe_types: Sequence[str | None], wb: np.ndarray,
                    ab: np.ndarray, tech: object | None) -> Iterator[tuple[str, np.ndarray, DigitalLayerCost]]:
    """Per digital PE type in ``pe_types`` (None: not digital): its layer mask and the workload's cost on it."""
    for pe in sorted({p for p in pe_types if p is not None}):
        yield pe, np.array([p == pe for p in pe_types]), digital_layer_costs(design, workload, pe, wb, ab, tech)


def _plan_bits(bits: int | Sequence[int] | Mapping[str, int], workload: Workload) -> np.ndarray:
    if isinstance(bits, Mapping):
        missing = [n for n in workload.layer_names if n not in bits]
        if missing:
            raise ValueError(f"bits: no entry for layers {missing}")
        return np.array([int(bits[n]) for n in workload.layer_names], dtype=np.int64)
    return np.broadcast_to(np.asarray(bits, dtype=np.int64), (len(workload),)).copy()


def _choice_bits(chs: Sequence[OperatorChoice], plan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, the (weight, act) bits its choice runs at under the plan's bits (two arrays ``L``)."""
    pairs = np.array([c.bits(int(b)) for c, b in zip(chs, plan)], dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


@dataclass(frozen=True)
class OperatorCostTable:
    """Cost of every layer under every operator choice: arrays ``L x O``.

    ``energy_j[l, o]`` is the energy per inference of layer ``l`` run with choice ``o``;
    :meth:`normalized_energy` divides by :attr:`reference_energy_j` so an ENOS energy weight means
    the same on any workload.
    """

    choices: tuple[str, ...]
    layer_names: tuple[str, ...]
    energy_j: np.ndarray
    latency_s: np.ndarray
    feasible: np.ndarray
    weight_bits: np.ndarray
    act_bits: np.ndarray
    area_mm2: dict[str, float]

    @property
    def reference_energy_j(self) -> float:
        """Sum over layers of the costliest choice's energy: the normalization of ENOS's term."""
        return float(self.energy_j.max(axis=1).sum())

    def normalized_energy(self) -> np.ndarray:
        """``energy_j / reference_energy_j`` (``L x O``)."""
        return self.energy_j / self.reference_energy_j

    def assignment_energy_j(self, assignment: Sequence[str]) -> float:
        """Total energy of an assignment under this table's per-layer costs."""
        idx = [self.choices.index(c) for c in assignment]
        return float(self.energy_j[np.arange(len(idx)), idx].sum())


def operator_cost_table(design: DesignPoint, cim_macro: CimMacro, workload: Workload, *,
                        choices: Sequence[str] = DEFAULT_CHOICES,
                        bits: int | Sequence[int] | Mapping[str, int] = 8,
                        tech: object | None = None, cim_tech: CimTechnology | None = None) -> OperatorCostTable:
    """Energy and latency of each layer under each operator choice (each layer judged alone).

    Args:
        design: the digital side (array geometry, memories, clock); its ``pe_type`` is replaced by
            the one each digital choice needs.
        cim_macro: the CIM side.
        workload: the layers, named as the model's modules.
        choices: choice names (:data:`coexplore.cim.choices.CHOICES`).
        bits: the plan's bits (one for all layers, per layer, or by layer name).
        tech: the digital technology table (default: the PPA model's).
        cim_tech: the CIM technology figures (default: the packaged 45 nm file).
    """
    cim_tech = cim_tech or load_cim_technology()
    chs = resolve_choices(list(choices))
    plan = _plan_bits(bits, workload)
    n_layers, n_ch = len(workload), len(chs)
    energy = np.zeros((n_layers, n_ch))
    latency = np.zeros((n_layers, n_ch))
    feasible = np.ones((n_layers, n_ch), dtype=bool)
    wbits = np.zeros((n_layers, n_ch), dtype=np.int64)
    abits = np.zeros((n_layers, n_ch), dtype=np.int64)
    area: dict[str, float] = {}
    memory = shared_memory(design, tech)
    for o, ch in enumerate(chs):
        wb, ab = _choice_bits([ch] * n_layers, plan)
        wbits[:, o], abits[:, o] = wb, ab
        if ch.mode == "cim":
            cost = cim_layer_costs(cim_macro, workload, operator=ch.operator, weight_bits=wb, act_bits=ab,
                                   tech=cim_tech, dram_gbps=design.dram_gbps, **memory)
            energy[:, o], latency[:, o] = cost.energy_j, cost.latency_s
            area[ch.name] = cim_macro.area_mm2(cim_tech)
            continue
        area[ch.name] = 0.0
        for _, sel, d in _digital_groups(design, workload, [ch.digital_pe_type(int(b)) for b in plan], wb, ab, tech):
            energy[sel, o], latency[sel, o], feasible[sel, o] = d.energy_j[sel], d.latency_s[sel], d.feasible[sel]
            area[ch.name] = max(area[ch.name], d.area_mm2)
    return OperatorCostTable(tuple(c.name for c in chs), tuple(workload.layer_names), energy, latency,
                             feasible, wbits, abits, area)


@dataclass(frozen=True)
class HybridCost:
    """The cost of one assignment on a hybrid design: per-layer arrays (``L``) and totals.

    ``energy_j`` / ``latency_s`` are the sums of the per-layer arrays; ``area_mm2`` is
    ``area_digital_mm2 + area_cim_mm2``.
    """

    layer_names: tuple[str, ...]
    assignment: tuple[str, ...]
    layer_energy_j: np.ndarray
    layer_latency_s: np.ndarray
    layer_weight_bits: np.ndarray
    layer_act_bits: np.ndarray
    cim_resident: np.ndarray
    area_digital_mm2: float
    area_cim_mm2: float
    feasible: bool
    infeasible_reason: str
    per_layer: list[dict] = field(default_factory=list)

    @property
    def energy_j(self) -> float:
        return float(self.layer_energy_j.sum())

    @property
    def latency_s(self) -> float:
        return float(self.layer_latency_s.sum())

    @property
    def area_mm2(self) -> float:
        return self.area_digital_mm2 + self.area_cim_mm2

    def raw_totals(self, macs: float) -> dict[str, float]:
        """The raw totals of the trial record (``energy_j``, ``latency_s``, ``area_mm2``, ``macs``,
        ``cycles`` and the derived ones of :func:`coexplore.ppa.derived_totals`)."""
        cycles = float(sum(r.get("cycles", 0.0) for r in self.per_layer))
        return {"energy_j": self.energy_j, "latency_s": self.latency_s, "area_mm2": self.area_mm2,
                "macs": float(macs), "cycles": cycles,
                **derived_totals(self.energy_j, self.latency_s, self.area_mm2, float(macs))}

    def breakdown(self) -> dict[str, float]:
        """Area and energy split between digital and CIM, and how many layers run in CIM."""
        modes = np.array([a.split("@")[1] for a in self.assignment])
        return {
            "area_digital_mm2": self.area_digital_mm2,
            "area_cim_mm2": self.area_cim_mm2,
            "energy_digital_j": float(self.layer_energy_j[modes == "digital"].sum()),
            "energy_cim_j": float(self.layer_energy_j[modes == "cim"].sum()),
            "cim_layers": float((modes == "cim").sum()),
        }


def _assignment_list(assignment: Sequence[str] | Mapping[str, str], workload: Workload) -> list[str]:
    if isinstance(assignment, Mapping):
        missing = [n for n in workload.layer_names if n not in assignment]
        if missing:
            raise ValueError(f"assignment: no choice for layers {missing}")
        return [assignment[n] for n in workload.layer_names]
    out = list(assignment)
    if len(out) != len(workload):
        raise ValueError(f"assignment: {len(out)} choices for {len(workload)} layers {workload.layer_names}")
    return out


def _network_residency(cim_macro: CimMacro, tiles: np.ndarray, on_cim: np.ndarray) -> np.ndarray:
    """CIM layers take macros in layer order while they last (others are reloaded every inference)."""
    resident = np.zeros(len(tiles), dtype=bool)
    free = cim_macro.n_macros
    for i in np.flatnonzero(on_cim):
        if tiles[i] <= free:
            resident[i] = True
            free -= int(tiles[i])
    return resident


def hybrid_cost(design: DesignPoint, cim_macro: CimMacro, workload: Workload,
                assignment: Sequence[str] | Mapping[str, str], bits: int | Sequence[int] | Mapping[str, int] = 8,
                *, tech: object | None = None, cim_tech: CimTechnology | None = None) -> HybridCost:
    """Energy, latency and area of running ``workload`` with a per-layer operator x mode assignment.

    Args:
        design: the digital PE array (its ``pe_type`` is replaced per layer by the choice's).
        cim_macro: the CIM macros.
        workload: the layers.
        assignment: one choice name per layer (workload order) or by layer name, e.g.
            ``["mac@digital", "l1@cim", ...]``.
        bits: the plan's bits (one for all layers, per layer, or by layer name).
        tech, cim_tech: digital and CIM technology (defaults: the packaged ones).

    Example:
        >>> from coexplore.workload import Layer, Workload
        >>> wl = Workload("two", (Layer("a", c=8, k=8, h=8, w=8, r=3, s=3, padding=1),
        ...                       Layer("b", kind="linear", c=64, k=10)))
        >>> hc = hybrid_cost(DesignPoint(), CimMacro(), wl, ["mac@digital", "l1@cim"])
        >>> bool(abs(hc.energy_j - hc.layer_energy_j.sum()) < 1e-18)
        True
    """
    cim_tech = cim_tech or load_cim_technology()
    names = _assignment_list(assignment, workload)
    chs: list[OperatorChoice] = [lookup_choice(n, where=f"assignment[{i}]") for i, n in enumerate(names)]
    plan = _plan_bits(bits, workload)
    n_layers = len(workload)
    wb, ab = _choice_bits(chs, plan)
    on_cim = np.array([c.mode == "cim" for c in chs])
    energy, latency = np.zeros(n_layers), np.zeros(n_layers)
    per_layer: list[dict] = [{} for _ in range(n_layers)]
    macs = workload.arrays()["macs"]
    reasons: list[str] = []

    cim_ops = [c.operator if c.mode == "cim" else "mac" for c in chs]
    tiles = cim_tiles(cim_macro, workload, wb, cim_ops)
    resident = _network_residency(cim_macro, tiles, on_cim)
    area_cim = 0.0
    memory = shared_memory(design, tech)
    if on_cim.any():
        cc: CimLayerCost = cim_layer_costs(cim_macro, workload, operator=cim_ops, weight_bits=wb, act_bits=ab,
                                           resident=resident, tech=cim_tech, dram_gbps=design.dram_gbps,
                                           **memory)
        energy[on_cim], latency[on_cim] = cc.energy_j[on_cim], cc.latency_s[on_cim]
        area_cim = cim_macro.area_mm2(cim_tech)
        for i in np.flatnonzero(on_cim):
            per_layer[i] = {"cycles": float(cc.cycles[i]), "utilization": float(cc.extra["utilization"][i]),
                            "dram_bytes": float(cc.energy_breakdown_j["dram"][i] / memory["dram_bit_j"] / 8),
                            **{f"energy_{k}_j": float(cc.energy_breakdown_j[k][i]) for k in ENERGY_COMPONENTS}}

    area_digital = 0.0
    pe_types = [c.digital_pe_type(int(b)) if c.mode == "digital" else None for c, b in zip(chs, plan)]
    for pe, sel, d in _digital_groups(design, workload, pe_types, wb, ab, tech):
        energy[sel], latency[sel] = d.energy_j[sel], d.latency_s[sel]
        area_digital = max(area_digital, d.area_mm2)
        for i in np.flatnonzero(sel):
            if not d.feasible[i]:
                reasons.append(f"layer {workload.layer_names[i]} on the {pe} array: {d.infeasible_reason}")
            per_layer[i] = {"cycles": float(d.cycles[i]), "utilization": float(d.utilization[i]),
                            "dram_bytes": float(d.dram_bytes[i]),
                            **{f"energy_{k}_j": float(v[i]) for k, v in d.breakdown_j.items()}}
    for i, name in enumerate(workload.layer_names):
        per_layer[i] = {"name": name, "choice": names[i], "mode": chs[i].mode, "macs": int(macs[i]),
                        "energy_j": float(energy[i]), "latency_s": float(latency[i]),
                        "weight_bits": int(wb[i]), "act_bits": int(ab[i]), **per_layer[i]}
    return HybridCost(tuple(workload.layer_names), tuple(names), energy, latency, wb, ab, resident & on_cim,
                      area_digital, area_cim, not reasons, "; ".join(reasons), per_layer)

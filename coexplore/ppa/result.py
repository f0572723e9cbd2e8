"""The PPA model's result: totals per design point and per-layer arrays, with views for humans."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TOP_LEVEL_KEYS: tuple[str, ...] = (
    "feasible", "macs", "cycles", "latency_s", "energy_j", "area_mm2", "power_w",
    "gops_per_mm2", "tops_per_w", "edp",
)
"""Scalar metrics of one design point, in the order of the JSON output."""

ENERGY_COMPONENTS: tuple[str, ...] = ("mac", "spad", "noc", "glb", "dram", "leakage")
AREA_COMPONENTS: tuple[str, ...] = ("pe", "spad", "glb", "noc")


@dataclass(frozen=True)
class PPAResult:
    """Power, performance and area of ``D`` design points on one workload of ``L`` layers.

    Totals have shape ``D``; ``layer_*`` arrays shape ``D x L``; the breakdown dicts map a
    component name to an array of the matching shape. Units: seconds, joules, mm^2, watts;
    ``edp`` in joule-seconds; ``layer_dram_bytes`` in bytes. ``layer_cycles`` are the cycles a
    layer takes (the larger of compute and DRAM transfer, double-buffered);
    ``layer_compute_cycles`` the PE array's alone (what SCALE-Sim calls compute cycles).
    ``layer_feasible`` says which layers' minimal tiles fit (``feasible`` is their conjunction);
    ``layer_utilization`` is useful MACs over PE-cycles, DRAM stalls included.
    ``layer_mapping`` is the intra-array mapping member the mapper chose per layer (0: the
    dataflow's reference mapping, SCALE-Sim's for the systolic arrays; see
    :mod:`coexplore.ppa.mapper`).

    Example:
        >>> from coexplore.hardware import DesignPoint
        >>> from coexplore.workload import Layer, Workload
        >>> from coexplore.ppa import evaluate_point
        >>> wl = Workload("one", (Layer("conv", c=16, k=16, h=8, w=8, r=3, s=3, padding=1),))
        >>> res = evaluate_point(DesignPoint(), wl)
        >>> sorted(res.to_dict(0))[:3]
        ['area_breakdown_mm2', 'area_mm2', 'cycles']
    """

    feasible: np.ndarray
    infeasible_reason: np.ndarray
    macs: np.ndarray
    cycles: np.ndarray
    latency_s: np.ndarray
    energy_j: np.ndarray
    area_mm2: np.ndarray
    power_w: np.ndarray
    gops_per_mm2: np.ndarray
    tops_per_w: np.ndarray
    edp: np.ndarray
    energy_breakdown_j: dict[str, np.ndarray]
    area_breakdown_mm2: dict[str, np.ndarray]
    layer_feasible: np.ndarray
    layer_macs: np.ndarray
    layer_cycles: np.ndarray
    layer_compute_cycles: np.ndarray
    layer_energy_j: np.ndarray
    layer_energy_breakdown_j: dict[str, np.ndarray]
    layer_utilization: np.ndarray
    layer_dram_bytes: np.ndarray
    layer_weight_bits: np.ndarray
    layer_act_bits: np.ndarray
    layer_names: tuple[str, ...]
    layer_mapping: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.feasible.shape[0])

    def to_dict(self, i: int, per_layer: bool = False) -> dict:
        """The i-th design point's metrics as plain JSON-ready Python values.

        Keys: ``TOP_LEVEL_KEYS``, ``energy_breakdown_j``, ``area_breakdown_mm2``,
        ``infeasible_reason``, and with ``per_layer`` a list ``layers`` of dicts with ``name``,
        ``macs``, ``cycles``, ``energy_j``, ``utilization``, ``dram_bytes``, ``weight_bits``,
        ``act_bits``, ``compute_cycles``, ``mapping`` and one flat ``energy_<component>_j`` per energy component
        (flat, so the rows go straight into a CSV).
        """
        out: dict = {}
        for key in TOP_LEVEL_KEYS:
            value = getattr(self, key)[i].item()
            out[key] = round(value) if key in ("macs", "cycles") else value
        out["energy_breakdown_j"] = {k: v[i].item() for k, v in self.energy_breakdown_j.items()}
        out["area_breakdown_mm2"] = {k: v[i].item() for k, v in self.area_breakdown_mm2.items()}
        out["infeasible_reason"] = str(self.infeasible_reason[i])
        if per_layer:
            out["layers"] = [
                {
                    "name": name,
                    "macs": int(self.layer_macs[i, j]),
                    "cycles": int(self.layer_cycles[i, j]),
                    "compute_cycles": int(self.layer_compute_cycles[i, j]),
                    "energy_j": float(self.layer_energy_j[i, j]),
                    "utilization": float(self.layer_utilization[i, j]),
                    "dram_bytes": float(self.layer_dram_bytes[i, j]),
                    "weight_bits": int(self.layer_weight_bits[i, j]),
                    "act_bits": int(self.layer_act_bits[i, j]),
                    "mapping": int(self.layer_mapping[i, j]) if self.layer_mapping is not None else 0,
                    **{f"energy_{k}_j": float(v[i, j]) for k, v in self.layer_energy_breakdown_j.items()},
                }
                for j, name in enumerate(self.layer_names)
            ]
        return out

    def metrics_frame(self) -> pd.DataFrame:
        """One row per design point: the top-level metrics and the breakdowns as columns."""
        cols = {key: getattr(self, key) for key in TOP_LEVEL_KEYS}
        cols["infeasible_reason"] = self.infeasible_reason
        cols.update({f"energy_{k}_j": v for k, v in self.energy_breakdown_j.items()})
        cols.update({f"area_{k}_mm2": v for k, v in self.area_breakdown_mm2.items()})
        return pd.DataFrame(cols)

    def layer_frame(self, i: int) -> pd.DataFrame:
        """One row per layer of design point ``i``."""
        cols = {
            "name": list(self.layer_names),
            "macs": self.layer_macs[i],
            "cycles": self.layer_cycles[i],
            "compute_cycles": self.layer_compute_cycles[i],
            "energy_j": self.layer_energy_j[i],
            "utilization": self.layer_utilization[i],
            "dram_bytes": self.layer_dram_bytes[i],
            "weight_bits": self.layer_weight_bits[i],
            "act_bits": self.layer_act_bits[i],
            "mapping": self.layer_mapping[i] if self.layer_mapping is not None else 0,
        }
        cols.update({f"energy_{k}_j": v[i] for k, v in self.layer_energy_breakdown_j.items()})
        return pd.DataFrame(cols)

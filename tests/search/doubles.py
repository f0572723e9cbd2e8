"""Small test doubles for the PPA model and the accuracy proxy, for unit tests ONLY (driver,
samplers, metric registry).

They follow the real contracts (``coexplore.ppa.evaluate``'s result fields, ``ProxyEvaluator``'s
``layer_names``/``evaluate(plan)``) with simple closed forms, so driver behaviour (budget, resume,
constraints, failure isolation) is tested in milliseconds; the end-to-end tests use the real parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from coexplore.workload.layer import Layer, Workload

LAYERS = ["conv1", "conv2", "fc"]


def workload() -> Workload:
    return Workload("tiny", (Layer("conv1", c=1, k=4, h=8, w=8, r=3, s=3, padding=1),
                             Layer("conv2", c=4, k=8, h=8, w=8, r=3, s=3, padding=1),
                             Layer("fc", kind="linear", c=512, k=10)))


@dataclass
class FakeProxy:
    """Accuracy falls with fewer bits; counts how many times it 'trained'."""

    layer_names: list[str] = field(default_factory=lambda: list(LAYERS))
    runs: int = 0
    seen: set = field(default_factory=set)
    fail_pe: str | None = None

    def evaluate(self, plan):
        if plan.pe_type == self.fail_pe:
            raise RuntimeError(f"proxy exploded on {plan.pe_type}")
        w, a = plan.resolve(self.layer_names)
        key = plan.key()
        hit = key in self.seen
        if not hit:
            self.seen.add(key)
            self.runs += 1
        acc = 0.95 - 0.02 * sum(8 - min(b, 8) for b in w) / len(w) - 0.01 * sum(8 - min(b, 8) for b in a) / len(a)
        return SimpleNamespace(accuracy=acc, baseline_accuracy=0.95, drop=0.95 - acc, seconds=0.0, cache_hit=hit, key=key)


def fake_ppa(designs, wl, *, tech=None, weight_bits=None, act_bits=None):
    """Energy grows with bits and array size; area with PEs and buffer; tiny GLBs are infeasible."""
    n = len(designs)
    pes = designs.pe_rows * designs.pe_cols
    wb = np.mean(weight_bits) if weight_bits is not None else designs.weight_bits
    macs = np.full(n, float(wl.macs))
    energy = macs * (0.2e-12 * wb + 1e-13) + 1e-9 * designs.glb_kib
    area = 0.01 * pes * designs.weight_bits / 8 + 0.02 * designs.glb_kib
    latency = macs / (pes * designs.clock_mhz * 1e6)
    feasible = designs.glb_kib >= 20
    totals = dict(
        feasible=feasible, infeasible_reason=np.where(feasible, "", "glb too small"), macs=macs,
        cycles=latency * designs.clock_mhz * 1e6, latency_s=latency, energy_j=energy, area_mm2=area,
        power_w=energy / latency, gops_per_mm2=2 * macs / latency / 1e9 / area, tops_per_w=2 * macs / energy / 1e12,
        edp=energy * latency,
    )
    res = SimpleNamespace(**totals)
    res.to_dict = lambda i, per_layer=True: {
        "layers": [{"name": l.name, "macs": l.macs} for l in wl.layers],
        "energy_breakdown_j": {"mac": float(energy[i]) * 0.25, "dram": float(energy[i]) * 0.75},
        "area_breakdown_mm2": {"pe": float(area[i]) * 0.5, "glb": float(area[i]) * 0.5},
    }
    return res

"""Derived totals of one inference (power, EDP, GOPS/mm^2, TOPS/W), defined once for every cost model.

The PPA model, the hybrid digital + CIM cost and any later cost model compute these here, so a
metric means the same thing whoever produced it (1 MAC = 2 operations; power = energy / latency).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def derived_totals(energy_j: Any, latency_s: Any, area_mm2: Any, macs: Any) -> dict[str, Any]:
    """``power_w``, ``edp``, ``gops_per_mm2`` and ``tops_per_w`` from the four totals.

    Args:
        energy_j, latency_s, area_mm2, macs: floats, or arrays of one shape (``designs``); a
            non-positive energy, latency or area gives NaN for the quantities that divide by it.

    Example:
        >>> derived_totals(2e-3, 1e-3, 4.0, 1e9)["tops_per_w"]
        1.0
    """
    e, t, a, m = (np.asarray(x, dtype=float) for x in (energy_j, latency_s, area_mm2, macs))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "power_w": np.where(t > 0, e / t, np.nan),
            "edp": e * t,
            "gops_per_mm2": np.where((t > 0) & (a > 0), 2 * m / t / 1e9 / a, np.nan),
            "tops_per_w": np.where(e > 0, 2 * m / e / 1e12, np.nan),
        }
    scalar = all(np.ndim(x) == 0 for x in (energy_j, latency_s, area_mm2, macs))
    return {k: float(v) for k, v in out.items()} if scalar else out

"""Display units for review: a metric's values scaled to a readable SI prefix (1.25 µJ, not 0.00125 mJ).

The metric registry (:mod:`coexplore.record.metrics`) says each metric's unit; this module only
chooses how to show a set of values of one metric: one prefix for the whole set (so values in a
plot axis or a table column compare at a glance), picked so that their median magnitude falls in
[1, 1000). Logged and exported values are never scaled.

Example:
    >>> u = display_unit("energy_mj", [0.00125, 0.0031])
    >>> u.unit, round(u.scale * 0.00125, 6), u.axis_title("minimize")
    ('µJ', 1.25, 'energy per inference (µJ), lower is better')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from coexplore.record.metrics import METRICS

_PREFIXES = [("", 1.0), ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)]
# registry unit -> (base unit, size of the registry unit in base units, prefixable)
_BASE = {"J": ("J", 1.0), "mJ": ("J", 1e-3), "ms": ("s", 1e-3), "W": ("W", 1.0), "J*s": ("J·s", 1.0)}
_LABELS = {
    "accuracy": "accuracy", "accuracy_drop": "accuracy drop", "energy_j": "energy per inference",
    "energy_mj": "energy per inference", "latency_ms": "latency", "area_mm2": "chip area",
    "edp": "energy-delay product", "power_w": "power", "gops_per_mm2": "throughput per area",
    "tops_per_w": "energy efficiency", "macs": "MACs",
}
_FIXED = {"fraction": ("%", 100.0), "percentage points": ("pp", 1.0), "mm^2": ("mm²", 1.0),
          "GOPS/mm^2": ("GOPS/mm²", 1.0)}


@dataclass(frozen=True)
class DisplayUnit:
    """How to show one metric: multiply by ``scale`` and write ``unit`` after ``label``."""

    metric: str
    label: str
    unit: str
    scale: float

    def title(self) -> str:
        """``energy per inference (µJ)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def axis_title(self, direction: str | None = None) -> str:
        """The title plus which way is better."""
        if direction not in ("minimize", "maximize"):
            return self.title()
        return f"{self.title()}, {'higher' if direction == 'maximize' else 'lower'} is better"

    def format(self, value: float | None, digits: int = 4) -> str:
        """``value`` scaled, with ``digits`` significant digits (no exponent for 1e-3..1e6)."""
        if value is None or not math.isfinite(value):
            return "-"
        return sig(value * self.scale, digits)


def sig(value: float, digits: int = 4) -> str:
    """``value`` with ``digits`` significant digits, in plain notation where it is short enough.

    Example:
        >>> sig(0.98400556), sig(1169.56), sig(3.0), sig(2.5e-7)
        ('0.9840', '1170', '3.000', '2.500e-07')
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:.{digits - 1}f}" if value == 0 else str(value)
    exp = math.floor(math.log10(abs(value)))
    if exp < -3 or exp >= 6:
        return f"{value:.{digits - 1}e}"
    decimals = digits - 1 - exp
    if decimals <= 0:
        return f"{round(value, decimals):.0f}"
    return f"{value:.{decimals}f}"


def display_unit(metric: str, values: Iterable[float] = ()) -> DisplayUnit:
    """The display unit of ``metric`` for ``values`` (the registry's unit when it has no prefixes)."""
    label = _LABELS.get(metric, metric)
    reg = METRICS.get(metric)
    unit = reg.unit if reg is not None else ""
    if unit in _FIXED:
        shown, scale = _FIXED[unit]
        return DisplayUnit(metric, label, shown, scale)
    if unit not in _BASE:
        return DisplayUnit(metric, label, unit, 1.0)
    base, size = _BASE[unit]
    mags = sorted(abs(float(v)) * size for v in values if v is not None and math.isfinite(float(v)) and v != 0)
    if not mags:
        return DisplayUnit(metric, label, unit, 1.0)
    median = mags[len(mags) // 2]
    for prefix, factor in _PREFIXES:
        if median >= factor:
            return DisplayUnit(metric, label, f"{prefix}{base}", size / factor)
    prefix, factor = _PREFIXES[-1]
    return DisplayUnit(metric, label, f"{prefix}{base}", size / factor)
